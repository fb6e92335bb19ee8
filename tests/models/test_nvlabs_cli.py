"""NVlabs pickles from the command line: convert both ways, and a .pkl wherever a checkpoint goes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import freezeg
from freezeg import ModelConfig, load_checkpoint
from freezeg.cli import main
from freezeg.data.synthetic import write_domain
from freezeg.models.networks import Discriminator, Generator
from freezeg.models.nvlabs.exporter import channel_base_max
from freezeg.models.nvlabs.writer import snapshot, write_network_pickle
from helpers import NVLABS_FIXTURES

ADA = NVLABS_FIXTURES / "stylegan2-ada-pytorch.pkl"
SG3 = NVLABS_FIXTURES / "stylegan3-stylegan2.pkl"  # 16 px, conv_clamp 0.5, 3 mapping layers, mbstd group 4


def test_convert_pickle_keeps_networks_and_settings(tmp_path, caplog):
    out = tmp_path / "ada.pt"
    with caplog.at_level("INFO", logger="freezeg"):
        assert main(["convert", str(ADA), "--out", str(out)]) == 0
    assert "2 mapping layers (lr x0.01), conv_clamp 256, mbstd group 8 x 1" in caplog.text
    ckpt = load_checkpoint(out)
    assert ckpt.format == "freezeg" and set(ckpt.parts) >= {"g", "d", "g_ema", "latent_avg"}
    assert (ckpt.config.conv_clamp, ckpt.config.mbstd_group, ckpt.config.n_mlp) == (256.0, 8, 2)
    assert ckpt.meta["source"]["format"] == "nvlabs-pickle"
    original = load_checkpoint(ADA)
    for part in ("g", "d", "g_ema"):
        assert all(torch.equal(ckpt.parts[part][k], v) for k, v in original.parts[part].items())
    # rosinality's readers need no more than the keys and layouts they know
    raw = torch.load(out, weights_only=True)
    assert raw["g_ema"]["input.input"].shape == (1, 32, 4, 4) and raw["latent_avg"].shape == (32,)
    assert main(["convert", str(ADA), "--out", str(out)]) == 2  # never replaced without --overwrite


def test_convert_to_nvlabs_names_their_state_dict_and_round_trips(tmp_path):
    ours = tmp_path / "sg3.pt"
    assert main(["convert", str(SG3), "--out", str(ours)]) == 0
    nv = tmp_path / "nv.pt"
    assert main(["convert", str(ours), "--to", "nvlabs", "--out", str(nv)]) == 0
    f = torch.load(nv, weights_only=True)
    expected = torch.load(NVLABS_FIXTURES / "stylegan3-stylegan2-expected.pt", weights_only=True)
    assert list(f["G_ema"]) == expected["state_dict_keys"]["G"]  # what their Generator.load_state_dict wants
    assert list(f["D"]) == expected["state_dict_keys"]["D"]
    assert f["G_kwargs"]["synthesis_kwargs"] | {"resample_filter": None} == dict(
        channel_base=256, channel_max=32, num_fp16_res=0, conv_clamp=0.5, resample_filter=None)
    assert f["G_kwargs"]["mapping_kwargs"] == {"num_layers": 3, "lr_multiplier": 0.01}
    assert f["D_kwargs"]["epilogue_kwargs"] == {"mbstd_group_size": 4, "mbstd_num_channels": 1}
    assert f["G_kwargs_stylegan3"]["channel_base"] == 256
    # back through our own mapping: their layout -> records -> our reader gives the same image
    config = load_checkpoint(ours).config
    again = write_network_pickle(tmp_path / "again.pkl", snapshot(config, {k: f[k] for k in ("G", "G_ema", "D")}))
    z = expected["z"]
    with torch.no_grad():
        a = freezeg.load_generator(again)(z, truncation=0.7, noise_mode="const")
        b = freezeg.load_generator(SG3)(z, truncation=0.7, noise_mode="const")
    assert torch.equal(a, b)
    assert float((a - expected["img_const_psi07"]).abs().max()) <= 1e-4
    # and the NVlabs-named file itself reads back into our networks (every command takes it)
    back = load_checkpoint(nv)
    assert back.format == "nvlabs-state-dicts" and back.config.to_dict() == config.to_dict()
    original = load_checkpoint(SG3)
    for part in ("g_ema", "g", "d", "latent_avg"):
        value = original.parts[part]
        if torch.is_tensor(value):
            assert torch.equal(back.parts[part], value)
        else:
            assert all(torch.equal(back.parts[part][k], v) for k, v in value.items())


def test_channel_tables_nvlabs_cannot_build_are_refused(tmp_path, capsys):
    config = ModelConfig(size=16, style_dim=16, n_mlp=2, channels={4: 16, 8: 8, 16: 16})
    path = tmp_path / "odd.pt"
    freezeg.save_checkpoint(path, g_ema=Generator(config), d=Discriminator(config))
    assert main(["convert", str(path), "--to", "nvlabs", "--out", str(tmp_path / "nv.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"freezeg: error: {path}: the channel table 4:16,8:8,16:16 is not of NVlabs' form")
    assert not (tmp_path / "nv.pt").exists()


@pytest.mark.parametrize("cm,size,expected", [(2, 1024, (32768, 512)), (1, 256, (16384, 512)), (2, 256, (32768, 512))])
def test_channel_base_of_standard_configs(cm, size, expected):
    assert channel_base_max(ModelConfig(size=size, channel_multiplier=cm)) == expected


def test_generate_and_translate_take_a_pickle(tmp_path):
    grid = tmp_path / "grid.png"
    assert main(["generate", "--ckpt", str(SG3), "--seeds", "0-3", "--truncation", "0.7", "--out", str(grid)]) == 0
    assert Image.open(grid).size == (2 + 2 * 18, 2 + 2 * 18)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(photo)
    out = tmp_path / "translated"
    assert main(["translate", str(photo), "--source", str(SG3), "--target", str(SG3), "--out", str(out),
                 "--steps", "2", "--no-optimize-noise"]) == 0
    assert (out / "translated" / "photo.png").exists()


def test_finetune_from_a_pickle_continues_the_same_model(tmp_path):
    data = tmp_path / "cartoon"
    write_domain("cartoon", 8, 16, data, seed=1)
    run = tmp_path / "run"
    argv = ["finetune", str(data), "--from", str(SG3), "--out", str(run), "--batch", "4", "--steps", "2",
            "--ckpt-every", "2", "--sample-seeds", "0", "--eval-images", "0", "--cache-dir", str(tmp_path / "cache"),
            "--device", "cpu", "--freeze-g", "1", "--freeze-d", "1", "--augment", "none"]
    assert main(argv) == 0
    source = load_checkpoint(SG3)
    first = load_checkpoint(run)
    assert first.config.to_dict() == source.config.to_dict()  # conv_clamp 0.5, 3 mapping layers, mbstd group 4
    d = freezeg.load_discriminator(first)
    assert (d.stddev_group, d.convs[1].conv1.conv_clamp) == (4, 0.5)
    frozen = "convs.0.conv.weight"  # the 8 px up-conv sits below the trained top block
    assert torch.equal(first.parts["g_ema"][frozen], source.parts["g_ema"][frozen])
    assert main(["finetune", "--resume", "--out", str(run), "--steps", "3"]) == 0
    resumed = load_checkpoint(run)
    assert resumed.step == 3 and resumed.config.to_dict() == source.config.to_dict()
    assert freezeg.load_generator(resumed).config.conv_clamp == 0.5
