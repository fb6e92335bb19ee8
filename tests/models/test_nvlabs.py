"""NVlabs network pickles: read without their code, same outputs as their networks, clear refusals.

The fixtures in tests/fixtures/nvlabs hold tiny StyleGAN2 networks that NVlabs' own code
built and ran (stylegan2-ada-pytorch and the stylegan3 repository), rewritten record for
record by freezeg's writer, and the outputs NVlabs' networks computed (see its README.md).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pickle
import sys
from pathlib import Path

import pytest
import torch

import freezeg
from freezeg.cli import main
from freezeg.models.checkpoint import CheckpointError, load_checkpoint
from freezeg.models.networks import Discriminator, Generator
from freezeg.models.nvlabs.exporter import nvlabs_state_dicts
from freezeg.models.nvlabs.names import discriminator_table, generator_table
from freezeg.models.nvlabs.writer import NetworkWriter, snapshot, write_network_pickle
from helpers import NVLABS_FIXTURES, REFERENCE

REPOSITORIES = {"stylegan2-ada-pytorch": "stylegan2-ada-pytorch", "stylegan3-stylegan2": "stylegan3"}
TOL = 1e-4  # in [-1, 1] image units (measured: below 5e-6)


def fixture(name: str) -> tuple[Path, dict]:
    return NVLABS_FIXTURES / f"{name}.pkl", torch.load(NVLABS_FIXTURES / f"{name}-expected.pt", weights_only=True)


def maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


# --------------------------------------------------------------------------- agreement with NVlabs' code
@pytest.mark.parametrize("name", sorted(REPOSITORIES))
def test_imported_generator_renders_what_nvlabs_rendered(name):
    pkl, ex = fixture(name)
    g = freezeg.load_generator(pkl).eval()
    z = ex["z"]
    with torch.no_grad():
        img, ws = g(z, truncation=ex["truncation"], noise_mode="const", return_ws=True)
        assert maxdiff(ws, ex["ws_psi07"]) <= TOL  # truncation towards their w_avg
        assert maxdiff(img, ex["img_const_psi07"]) <= TOL
        assert maxdiff(g(z, noise_mode="const"), ex["img_const_psi1"]) <= TOL
        assert maxdiff(g(z, noise_mode="none"), ex["img_none_psi1"]) <= TOL
        given = g(z, truncation=ex["truncation"], noise=ex["noise"])
        assert maxdiff(given, ex["img_given_noise_psi07"]) <= TOL


@pytest.mark.parametrize("name", sorted(REPOSITORIES))
def test_g_and_g_ema_are_not_mixed_up(name):
    pkl, ex = fixture(name)
    ckpt = load_checkpoint(pkl)
    g = freezeg.load_generator(ckpt, key="g").eval()
    with torch.no_grad():
        assert maxdiff(g(ex["z"], noise_mode="const"), ex["g_img_const_psi1"]) <= TOL
        assert maxdiff(freezeg.load_generator(ckpt)(ex["z"], noise_mode="const"), ex["g_img_const_psi1"]) > 1e-2


@pytest.mark.parametrize("name", sorted(REPOSITORIES))
def test_imported_discriminator_scores_what_nvlabs_scored(name):
    pkl, ex = fixture(name)
    d = freezeg.load_discriminator(pkl).eval()
    with torch.no_grad():
        assert maxdiff(d(ex["d_x8"]), ex["d_logits8"]) <= TOL  # the ada fixture groups 8 samples
        assert maxdiff(d(ex["d_x8"][:4]), ex["d_logits4"]) <= TOL
        assert maxdiff(d(ex["img_const_psi07"]), ex["d_on_g_img"]) <= TOL


@pytest.mark.parametrize("name", sorted(REPOSITORIES))
def test_config_carries_what_changes_outputs(name):
    pkl, ex = fixture(name)
    ckpt = load_checkpoint(pkl)
    assert ckpt.format == "nvlabs-pickle"
    assert ckpt.config.to_dict() == ex["config"]
    expected = {"stylegan2-ada-pytorch": (2, 256.0, 8), "stylegan3-stylegan2": (3, 0.5, 4)}[name]
    assert (ckpt.config.n_mlp, ckpt.config.conv_clamp, ckpt.config.mbstd_group) == expected
    assert freezeg.load_discriminator(ckpt).stddev_group == expected[2]
    assert ckpt.meta["source"]["repository"].startswith(REPOSITORIES[name])


@pytest.mark.parametrize("name", sorted(REPOSITORIES))
def test_names_table_is_nvlabs_state_dict(name):
    """The table lists exactly NVlabs' state-dict keys, in their order (recorded from their networks)."""
    pkl, ex = fixture(name)
    config = load_checkpoint(pkl).config
    assert [e.nvlabs for e in generator_table(config)] == ex["state_dict_keys"]["G"]
    assert [e.nvlabs for e in discriminator_table(config)] == ex["state_dict_keys"]["D"]


def test_conv_clamp_binds_in_the_stylegan3_fixture():
    """14% of its activations hit the clamp in NVlabs' run; without ours the image is far off."""
    pkl, ex = fixture("stylegan3-stylegan2")
    assert ex["clamped_fraction"] > 0.1
    ckpt = load_checkpoint(pkl)
    ckpt.config.conv_clamp = None
    with torch.no_grad():
        assert maxdiff(freezeg.load_generator(ckpt)(ex["z"], noise_mode="const"), ex["img_const_psi1"]) > 0.1


def test_upsampling_weights_need_no_flip():
    """Both sides' up-convs are transposed convolutions of the unflipped weight: flipping breaks it."""
    pkl, ex = fixture("stylegan2-ada-pytorch")
    ckpt = load_checkpoint(pkl)
    sd = dict(ckpt.parts["g_ema"])
    for k in [k for k in sd if k.startswith("convs.") and k.endswith(".conv.weight") and int(k.split(".")[1]) % 2 == 0]:
        sd[k] = sd[k].flip([3, 4])
    g = Generator(ckpt.config).eval()
    g.load_state_dict(sd)
    with torch.no_grad():
        assert maxdiff(g(ex["z"], noise_mode="const"), ex["img_const_psi1"]) > 0.1


# --------------------------------------------------------------------------- writing and reading back
def test_export_write_read_round_trip_is_exact(tmp_path):
    pkl, _ = fixture("stylegan2-ada-pytorch")
    ckpt = load_checkpoint(pkl)
    nets = nvlabs_state_dicts(ckpt.config, ckpt.parts)
    again = tmp_path / "again.pkl"
    write_network_pickle(again, snapshot(ckpt.config, nets, "stylegan3"))
    back = load_checkpoint(again)
    assert back.config.to_dict() == ckpt.config.to_dict()
    for part in ("g_ema", "g", "d"):
        assert back.parts[part].keys() == ckpt.parts[part].keys()
        assert all(torch.equal(back.parts[part][k], ckpt.parts[part][k]) for k in ckpt.parts[part])
    assert torch.equal(back.parts["latent_avg"], ckpt.parts["latent_avg"])


def test_renamed_pickle_is_still_read(tmp_path):
    pkl, _ = fixture("stylegan3-stylegan2")
    renamed = tmp_path / "network.pt"
    renamed.write_bytes(pkl.read_bytes())
    assert load_checkpoint(renamed).format == "nvlabs-pickle"


# --------------------------------------------------------------------------- refusals
def tiny_networks(config=None) -> tuple:
    pkl, _ = fixture("stylegan3-stylegan2")
    ckpt = load_checkpoint(pkl)
    return ckpt.config, nvlabs_state_dicts(ckpt.config, ckpt.parts)


def stylegan3_generator(radial: bool):
    """A StyleGAN3 generator record: SynthesisInput plus L{i}_{size}_{channels} layers."""
    w = NetworkWriter({}, "stylegan3")
    layers = {"input": w.record("SynthesisInput", "synthesis.input.", w_dim=32, channels=64, size=[36, 36])}
    for i in range(2):
        layers[f"L{i}_36_64"] = w.record(
            "SynthesisLayer", f"synthesis.L{i}_36_64.", is_torgb=False, conv_kernel=1 if radial else 3,
            use_radial_filters=radial, in_channels=64, out_channels=64,
        )
    synthesis = w.record("SynthesisNetwork", "synthesis.", modules=layers, layer_names=list(layers)[1:], num_ws=4)
    mapping = w.record("MappingNetwork", "mapping.", modules={"fc0": w.fully_connected("mapping.fc0.", 32, 32, "lrelu", 0.01)},
                       z_dim=32, c_dim=0, w_dim=32, num_ws=4, num_layers=1)
    return w.record("Generator", "", modules={"synthesis": synthesis, "mapping": mapping},
                    z_dim=32, c_dim=0, w_dim=32, img_resolution=16, img_channels=3)


def write(tmp_path, data, name="net.pkl") -> Path:
    return write_network_pickle(tmp_path / name, data)


@pytest.mark.parametrize("radial,kind", [(False, "StyleGAN3-T"), (True, "StyleGAN3-R")])
def test_stylegan3_is_refused_saying_what_it_is(tmp_path, radial, kind):
    path = write(tmp_path, {"G_ema": stylegan3_generator(radial), "training_set_kwargs": {}})
    with pytest.raises(CheckpointError, match=rf"net\.pkl: G_ema: a {kind} generator .*StyleGAN2 \(config F\) networks only"):
        load_checkpoint(path)


def test_conditional_model_is_refused(tmp_path):
    config, nets = tiny_networks()
    path = write(tmp_path, snapshot(config, nets, c_dim=10))
    with pytest.raises(CheckpointError, match=r"a conditional network \(c_dim 10: class labels"):
        load_checkpoint(path)


def test_unconditional_g_with_conditional_d_is_refused(tmp_path):
    config, nets = tiny_networks()
    data = snapshot(config, nets)
    data["D"] = NetworkWriter(nets["D"], "stylegan3").discriminator(config, c_dim=5)
    with pytest.raises(CheckpointError, match=r"D: a conditional network \(c_dim 5"):
        load_checkpoint(write(tmp_path, data))


@pytest.mark.parametrize("net,arch", [("G_ema", "resnet"), ("G_ema", "orig"), ("D", "skip"), ("D", "orig")])
def test_other_architectures_are_refused(tmp_path, net, arch):
    config, nets = tiny_networks()
    data = snapshot(config, nets)
    for _, rec in data[net].walk():
        if rec.class_name in ("SynthesisBlock", "DiscriminatorBlock"):
            rec.state["architecture"] = arch
    with pytest.raises(CheckpointError, match=rf"{net}: a StyleGAN2 \w+ with the '{arch}' architecture"):
        load_checkpoint(write(tmp_path, data))


def test_grayscale_model_is_refused(tmp_path):
    config, nets = tiny_networks()
    data = snapshot(config, nets)
    data["G_ema"].state["img_channels"] = 1
    with pytest.raises(CheckpointError, match=r"G_ema: a network for 1-channel images; freezeg works with RGB"):
        load_checkpoint(write(tmp_path, data))


def test_stddev_over_the_whole_batch_and_more_channels_are_carried(tmp_path):
    config, _ = tiny_networks()
    config = dataclasses.replace(config, mbstd_group=None, mbstd_channels=2)
    parts = {"g_ema": Generator(config).state_dict(), "d": Discriminator(config).state_dict(),
             "latent_avg": torch.zeros(config.style_dim)}
    back = load_checkpoint(write(tmp_path, snapshot(config, nvlabs_state_dicts(config, parts))))
    assert (back.config.mbstd_group, back.config.mbstd_channels) == (None, 2)
    d = freezeg.load_discriminator(back)
    assert d.stddev_group is None and d(torch.randn(3, 3, 16, 16)).shape == (3, 1)


def test_unknown_network_class_is_refused(tmp_path):
    config, nets = tiny_networks()
    data = snapshot(config, nets)
    data["G_ema"].class_name = "SuperresGenerator"
    with pytest.raises(CheckpointError, match=r"G_ema is a SuperresGenerator record, not a StyleGAN2 generator"):
        load_checkpoint(write(tmp_path, data))


def test_tensorflow_pickle_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "karras2019stylegan-ffhq-1024x1024.pkl"
    path.write_bytes(b"\x80\x03cdnnlib.tflib.network\nNetwork\nq\x00)\x81q\x01.")
    with pytest.raises(CheckpointError, match=r"refused: the pickle asks for dnnlib\.tflib\.network\.Network \(a TensorFlow"):
        load_checkpoint(path)


def test_foreign_module_inside_a_network_is_refused_by_name(tmp_path):
    config, nets = tiny_networks()
    data = snapshot(config, nets)
    data["G_ema"].state["_modules"]["extra"] = torch.nn.Linear(2, 2)
    with pytest.raises(CheckpointError, match=r"refused: the pickle asks for torch\.nn\.modules\.linear\.Linear"):
        load_checkpoint(write(tmp_path, data))


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("name", ["evil.pkl", "evil.pt"])
def test_pickled_code_is_refused_and_never_runs(tmp_path, name):
    marker = tmp_path / "pwned"
    evil = tmp_path / name
    config, nets = tiny_networks()
    data = snapshot(config, nets)
    data["G_ema"].state["payload"] = Exploit(marker)  # hidden deep inside a genuine record
    write_network_pickle(evil, data)
    with pytest.raises(CheckpointError, match=rf"{name.replace('.', '[.]')}: refused: the pickle asks for \w+\.system"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_evil_pickle_on_the_command_line(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"G_ema": Exploit(marker)}))
    assert main(["convert", str(evil), "--out", str(tmp_path / "out.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"freezeg: error: {evil}: refused") and "would run code" in err
    assert not marker.exists() and not (tmp_path / "out.pt").exists()


def test_truncated_pickle(tmp_path):
    pkl, _ = fixture("stylegan2-ada-pytorch")
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(pkl.read_bytes()[: pkl.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pkl: truncated or corrupt pickle"):
        load_checkpoint(cut)


def test_pickle_without_networks(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError, match=r"other\.pkl: not an NVlabs network pickle \(no G_ema or G network; keys: a\)"):
        load_checkpoint(path)


# --------------------------------------------------------------------------- loading stays light
def test_loading_a_model_never_imports_training(tmp_path):
    """A fresh import of freezeg (in this process, torch already loaded) loads models, from a
    pickle and from a run folder (its newest checkpoint), without importing freezeg.train."""
    run = tmp_path / "runs" / "demo" / "checkpoints"
    run.mkdir(parents=True)
    (run / "step-0000010.pt").write_bytes((REFERENCE / "checkpoint_train_format.pt").read_bytes())
    saved = {name: module for name, module in sys.modules.items() if name == "freezeg" or name.startswith("freezeg.")}
    for name in saved:
        del sys.modules[name]
    try:
        fresh = importlib.import_module("freezeg")
        pkl, _ = fixture("stylegan3-stylegan2")
        fresh.load_generator(pkl)
        fresh.load_generator(tmp_path / "runs" / "demo")
        assert sorted(m for m in sys.modules if m.startswith("freezeg.train")) == []
    finally:
        for name in [n for n in sys.modules if n == "freezeg" or n.startswith("freezeg.")]:
            del sys.modules[name]
        sys.modules.update(saved)
