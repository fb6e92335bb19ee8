"""`freezeg stylize`: mixed latents, frozen blocks kept, the losses, and the run folder end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from freezeg import Discriminator, load_checkpoint, load_generator, save_checkpoint
from freezeg.cli import main
from freezeg.stylize import StyleLoss, StylizeOptions, stylize_generator
from freezeg.stylize.fewshot import boundary_layer, mixed_latents
from freezeg.utils.media import to_uint8
from helpers import trained_like

QUICK = ["--project-steps", "5", "--device", "cpu", "-q"]


def test_mixed_latents_keep_the_references_coarse_layers_and_draw_the_rest(tiny_config):
    g = trained_like(tiny_config)
    assert boundary_layer(g, 1) == 3 and boundary_layer(g, 2) == 1  # 16px block reads ws[3:], 8px ws[1:]
    refs = torch.randn(2, g.num_ws, g.style_dim)
    ws, picked = mixed_latents(g, refs, 3, 5, torch.Generator().manual_seed(0))
    assert torch.equal(ws[:, :3], refs[picked][:, :3]) and not torch.equal(ws[:, 3:], refs[picked][:, 3:])


@pytest.mark.parametrize("coarse_rgb", [True, False])
def test_only_the_trained_blocks_move_and_the_references_get_closer(tiny_config, coarse_rgb):
    source = trained_like(tiny_config)
    refs = source.broadcast(source.mapping(torch.randn(2, source.style_dim, generator=torch.Generator().manual_seed(1))))
    target = torch.full((2, 3, 16, 16), 0.5)  # a flat "style"
    options = StylizeOptions(freeze_g=1, steps=30, batch=4, loss="pixel", lr=1e-2, coarse_rgb=coarse_rgb)
    losses = []
    g, _ = stylize_generator(source, refs.detach(), target, StyleLoss("pixel"), options,
                             on_step=lambda step, g, opt, value: losses.append(value))
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    coarse_rgbs = ("to_rgb1.", "to_rgbs.0.")  # the toRGB layers of the frozen 4 and 8 px blocks
    for name, p in g.named_parameters():
        same = torch.equal(p, dict(source.named_parameters())[name])
        assert same or name.startswith(("convs.2", "convs.3", "to_rgbs.1.") + (coarse_rgbs if coarse_rgb else ())), name
        if name.startswith(("style.", "input.", "conv1.", "convs.0", "convs.1")):
            assert same, f"{name} computes the frozen blocks' features and must stay bit-identical"
    assert not torch.equal(g.to_rgbs[1].conv.weight, source.to_rgbs[1].conv.weight)  # the 16px block trained
    assert torch.equal(g.to_rgb1.conv.weight, source.to_rgb1.conv.weight) != coarse_rgb


def test_the_discriminator_loss_needs_a_discriminator_and_differentiates_through_it(tiny_config):
    with pytest.raises(ValueError, match="needs the source's discriminator.*--loss pixel"):
        StyleLoss("d-features", None)
    torch.manual_seed(0)
    loss = StyleLoss("d-features", Discriminator(tiny_config), preserve_color=True)
    images = torch.rand(2, 3, 16, 16, requires_grad=True)
    value = loss(images, torch.rand(2, 3, 16, 16))
    value.backward()
    assert value > 0 and images.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in loss.d.parameters())
    grey = torch.rand(2, 1, 16, 16).expand(-1, 3, -1, -1)
    green = (1 - 1.2 * (0.299 + 0.114)) / 0.587
    tinted = grey * torch.tensor([1.2, green, 1.2]).view(1, 3, 1, 1)  # the same luminance, another colour
    assert loss(tinted, grey) < 1e-5 < StyleLoss("d-features", loss.d)(tinted, grey)


@pytest.fixture()
def setup(tmp_path, tiny_config):
    g = trained_like(tiny_config)
    torch.manual_seed(1)
    src = save_checkpoint(tmp_path / "src.pt", g_ema=g, d=Discriminator(tiny_config))
    refs = []
    with torch.no_grad():
        images = to_uint8(g(torch.randn(2, g.style_dim, generator=torch.Generator().manual_seed(5)), truncation=0.5))
    for i, image in enumerate(images):
        path = tmp_path / f"ref{i}.png"
        Image.fromarray(255 - image).save(path)  # the "style": inverted colours
        refs.append(str(path))
    return str(src), refs


def test_stylize_writes_a_resumable_run_folder_whose_checkpoint_is_a_target(tmp_path, setup, capsys):
    src, refs = setup
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    args = [*refs, "--source", src, "--freeze-g", "1", "--ckpt-every", "2", *QUICK]
    assert main(["stylize", *args, "--out", str(whole), "--steps", "6"]) == 0
    assert main(["stylize", *args, "--out", str(cut), "--steps", "4"]) == 0
    assert main(["stylize", *args, "--out", str(cut), "--steps", "6", "--resume"]) == 0
    a = load_checkpoint(whole / "checkpoints" / "step-0000006.pt")
    b = load_checkpoint(cut / "checkpoints" / "step-0000006.pt")
    assert all(torch.equal(a.parts["g_ema"][k], b.parts["g_ema"][k]) for k in a.parts["g_ema"])
    assert a.meta["freeze"]["g_top_blocks"] == 1 and a.meta["stylize"]["references"] == ["ref0", "ref1"]
    record = json.loads((whole / "stylize.json").read_text())
    assert set(record["fidelity"]) == {"ref0", "ref1"} and record["options"]["loss"] == "d-features"
    assert (whole / "samples" / "step-0000006.png").is_file() and (whole / "references" / "ref0.pt").is_file()
    # The frozen blocks compute the source's features, bit for bit, so the stylized generator is a
    # FreezeG target; by default their toRGB layers were recoloured (--coarse-rgb train).
    assert a.meta["freeze"]["coarse_rgb"] is True
    source = dict(load_generator(src).named_parameters())
    stylized = dict(load_generator(whole).named_parameters())
    frozen = [n for n in source if n.startswith(("style.", "conv1.", "convs.0", "convs.1"))]
    assert frozen and all(torch.equal(source[n], stylized[n]) for n in frozen)
    assert not torch.equal(source["to_rgb1.conv.weight"], stylized["to_rgb1.conv.weight"])
    assert main(["translate", refs[0], "--source", src, "--target", str(whole), "--out", str(tmp_path / "t"),
                 "--steps", "3", "--device", "cpu", "-q", "--pivotal-tuning", "--pt-steps", "2"]) == 0
    assert (tmp_path / "t" / "translated" / "ref0.png").is_file() and (tmp_path / "t" / "latents" / "ref0.pti").is_file()
    # Rerunning into a run folder needs --resume or --overwrite.
    assert main(["stylize", *args, "--out", str(whole), "--steps", "6"]) == 2
    assert "already holds a run" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--freeze-g", "3"], "--freeze-g 3: a 16px generator has 3 resolution blocks"),
    (["--loss", "pixel", "--steps", "0"], "--steps must be at least 1"),
])
def test_bad_settings_are_one_line_errors(tmp_path, setup, capsys, extra, message):
    src, refs = setup
    assert main(["stylize", *refs, "--source", src, "--out", str(tmp_path / "o"), *extra, *QUICK]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_no_readable_reference_is_an_error(tmp_path, setup, capsys):
    src, _ = setup
    (tmp_path / "a.png").write_text("no picture")
    assert main(["stylize", str(tmp_path / "a.png"), "--source", src, "--out", str(tmp_path / "o"), *QUICK]) == 2
    assert "no readable reference image among 1 given" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before anything was made: no empty run folder


def test_a_source_without_discriminator_is_refused_for_the_feature_loss_leaving_nothing(tmp_path, setup, capsys):
    _, refs = setup
    bare = save_checkpoint(tmp_path / "bare.pt", g_ema=load_generator(tmp_path / "src.pt"))
    assert main(["stylize", *refs, "--source", str(bare), "--out", str(tmp_path / "o"), *QUICK]) == 2
    err = capsys.readouterr().err
    assert "needs the source's discriminator" in err and "--loss pixel" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
