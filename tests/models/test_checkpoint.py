"""Checkpoint reading (every supported format), safe loading, atomic rosinality-compatible writing."""

import argparse
import os
import pickle

import pytest
import torch

from freezeg import load_checkpoint, load_discriminator, load_generator, save_checkpoint
from freezeg.models.checkpoint import CheckpointError, infer_generator_config
from freezeg.models.networks import Generator, ModelConfig
from helpers import REFERENCE, load_ref

TRAIN = REFERENCE / "checkpoint_train_format.pt"
CONVERT = REFERENCE / "checkpoint_convert_format.pt"


def test_reads_rosinality_train_format(ref_config):
    ckpt = load_checkpoint(TRAIN)
    assert ckpt.format == "rosinality-train"
    assert set(ckpt.parts) == {"g", "d", "g_ema", "g_optim", "d_optim", "args", "ada_aug_p"}
    assert isinstance(ckpt.parts["args"], argparse.Namespace)
    assert ckpt.config.channel_table() == ref_config.channel_table()
    assert (ckpt.config.size, ckpt.config.style_dim, ckpt.config.n_mlp) == (32, 32, 2)


def test_reads_rosinality_convert_format_with_latent_avg():
    ckpt = load_checkpoint(CONVERT)
    assert ckpt.format == "rosinality-convert"
    g = load_generator(CONVERT)
    assert torch.equal(g.w_avg.reshape(-1), ckpt.parts["latent_avg"])


def test_reads_bare_state_dicts():
    assert load_checkpoint(REFERENCE / "generator_state.pt").format == "generator-state-dict"
    assert load_checkpoint(REFERENCE / "discriminator_state.pt").format == "discriminator-state-dict"
    g = load_generator(REFERENCE / "generator_state.pt")
    d = load_discriminator(REFERENCE / "discriminator_state.pt")
    assert g.size == d.size == 32


def test_loaded_models_reproduce_the_reference_vectors():
    g = load_generator(TRAIN, key="g_ema").eval()
    v = load_ref("g_forward")
    with torch.no_grad():
        assert (g(v["z"], noise=v["noise"]) - v["image"]).abs().max() <= 1e-4
    d = load_discriminator(TRAIN)
    v = load_ref("d_forward")
    with torch.no_grad():
        assert (d(v["x4"]) - v["out4"]).abs().max() <= 1e-4


def test_load_from_in_memory_state_dict():
    g = load_generator(load_ref("generator_state"))
    assert g.num_ws == 8


def test_config_inference_on_full_size_models():
    for config in (ModelConfig(256), ModelConfig(64, channel_multiplier=1)):
        inferred = infer_generator_config(Generator(config).state_dict())
        assert inferred.channel_table() == config.channel_table()
        assert inferred.channel_multiplier == config.channel_multiplier and inferred.channels is None
        assert (inferred.size, inferred.style_dim, inferred.n_mlp) == (config.size, 512, 8)


def test_round_trip_keeps_rosinality_layout(tmp_path):
    src = load_checkpoint(TRAIN)
    out = tmp_path / "ours.pt"
    save_checkpoint(out, **{k: src.parts[k] for k in ("g", "d", "g_ema", "g_optim", "d_optim", "ada_aug_p")},
                    meta={"step": 1234})
    # Plain torch.load with weights_only=True (what rosinality's scripts get on torch >= 2.6)
    # reads our file: no Namespace, nothing to allow-list.
    raw = torch.load(out, weights_only=True)
    for key in ("g", "d", "g_ema", "g_optim", "d_optim", "ada_aug_p"):
        assert key in raw
    for key in ("g", "d", "g_ema"):
        assert list(raw[key]) == list(src.parts[key])
        assert all(torch.equal(raw[key][k], src.parts[key][k]) for k in raw[key])
    assert raw["g_optim"]["param_groups"] == src.parts["g_optim"]["param_groups"]
    meta = raw["freezeg"]
    assert meta["format_version"] == 1 and meta["step"] == 1234 and meta["config"]["size"] == 32
    again = load_checkpoint(out)
    assert again.format == "freezeg" and again.step == 1234


def test_saving_modules_writes_state_dicts_and_latent_avg(tmp_path, ref_g, ref_d):
    ref_g.w_avg = torch.randn(1, 32)
    path = save_checkpoint(tmp_path / "m.pt", g_ema=ref_g, d=ref_d)
    g = load_generator(path)
    assert torch.equal(g.w_avg, ref_g.w_avg)
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), ref_g.state_dict().values()))


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, ref_g, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, g_ema=ref_g, meta={"step": 1})
    before = path.read_bytes()

    def broken_save(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, g_ema=ref_g, meta={"step": 2})
    assert path.read_bytes() == before  # the old file is intact
    assert os.listdir(tmp_path) == ["ckpt.pt"]


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"g_ema": Exploit(marker)}, evil)
    with pytest.raises(CheckpointError, match=r"evil\.pt: refused: loading it would run code"):
        load_checkpoint(evil)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content,match",
    [
        (b"", "empty file"),
        (b"hello, not a checkpoint", "not a PyTorch checkpoint"),
        (pickle.dumps({"a": 1}), "not a PyTorch checkpoint"),
    ],
)
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_not_a_checkpoint(tmp_path, content, match):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match=rf"bad\.pt: {match}"):
        load_checkpoint(bad)


def test_truncated_file(tmp_path):
    data = TRAIN.read_bytes()
    bad = tmp_path / "cut.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pt: truncated or corrupt"):
        load_checkpoint(bad)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nope.pt")


def test_unrelated_dict_is_not_a_stylegan_checkpoint(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}, "epoch": 3}, path)
    with pytest.raises(CheckpointError, match="not a StyleGAN2 checkpoint"):
        load_checkpoint(path)


def test_shapes_that_do_not_fit_are_reported(tmp_path):
    sd = load_ref("generator_state")
    sd["convs.1.conv.weight"] = torch.zeros(1, 64, 64, 5, 5)
    path = tmp_path / "wrong.pt"
    torch.save({"g_ema": sd}, path)
    with pytest.raises(CheckpointError, match=r"wrong\.pt: part 'g_ema' does not fit the model: shape convs\.1\.conv\.weight"):
        load_generator(path)


def test_missing_discriminator_is_reported():
    with pytest.raises(CheckpointError, match="holds no discriminator"):
        load_discriminator(CONVERT)
