"""Pair grids, interpolation animations and layer swapping, from the library and the CLI."""

import numpy as np
import pytest
import torch
from PIL import Image

from freezeg import Generator, load_checkpoint, load_generator, save_checkpoint
from freezeg.cli import main
from freezeg.generate.blend import blend_blocks, blend_generators, blend_weights, check_compatible
from freezeg.generate.compare import pair_grid
from freezeg.inversion.pivotal import shared_blocks
from freezeg.models.freeze import FreezeSpec
from freezeg.models.networks import ModelConfig
from freezeg.utils.video import read_video
from helpers import finetuned


@pytest.fixture()
def pair_files(tmp_path, tiny_config):
    torch.manual_seed(1)
    src, tgt = Generator(tiny_config), Generator(tiny_config)
    return save_checkpoint(tmp_path / "src.pt", g_ema=src), save_checkpoint(tmp_path / "tgt.pt", g_ema=tgt)


def test_pair_grid_puts_source_above_target(tiny_config):
    torch.manual_seed(0)
    src = Generator(tiny_config).eval()
    grid = pair_grid(src, src, [3, 4, 5], columns=2)
    # 2 columns -> rows: src(3,4), tgt(3,4), src(5,_), tgt(5,_); 16px tiles with 2px gaps.
    assert grid.shape == (2 + 4 * 18, 2 + 2 * 18, 3)
    tile = lambda r, c: grid[2 + r * 18 : 18 + r * 18, 2 + c * 18 : 18 + c * 18]
    assert np.array_equal(tile(0, 0), tile(1, 0))  # same generator: source == target
    assert not np.array_equal(tile(0, 0), tile(0, 1))
    assert (tile(2, 1) == 255).all()  # the unused slot is blank


def test_pairs_cli(pair_files, tmp_path):
    out = tmp_path / "pairs.png"
    assert main(["pairs", "--source", str(pair_files[0]), "--target", str(pair_files[1]), "--seeds", "0-5",
                 "--columns", "3", "--truncation", "0.7", "--out", str(out)]) == 0
    assert Image.open(out).size == (2 + 3 * 18, 2 + 4 * 18)


@pytest.mark.parametrize("suffix,space", [(".gif", "z"), (".mp4", "w")])
def test_interpolate_cli_writes_a_loop(pair_files, tmp_path, suffix, space):
    if suffix == ".mp4":
        pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / f"anim{suffix}"
    assert main(["interpolate", "--source", str(pair_files[0]), "--target", str(pair_files[1]),
                 "--seeds", "1,5,9", "--space", space, "--frames", "12", "--fps", "24", "--out", str(out)]) == 0
    video = read_video(out)
    assert len(video) == 12
    assert video.frames[0].shape == (16, 16 + 4 + 16, 3)  # source | gap | target
    assert video.fps == pytest.approx(24, rel=0.1)
    assert not np.array_equal(video.frames[0], video.frames[4])


def test_blend_hard_swap_takes_blocks_by_resolution(tiny_config):
    torch.manual_seed(0)
    src, tgt = Generator(tiny_config), Generator(tiny_config)
    out = blend_generators(src, tgt, swap_at=8)
    sd_out, sd_src, sd_tgt = out.state_dict(), src.state_dict(), tgt.state_dict()
    for key in sd_out:
        expected = sd_tgt if key.startswith(("convs.", "to_rgbs.", "noises.noise_1", "noises.noise_2",
                                             "noises.noise_3", "noises.noise_4")) else sd_src
        assert torch.equal(sd_out[key], expected[key]), key
    assert torch.equal(out.style[1].weight, src.style[1].weight)  # mapping from the source


def test_smooth_blend_weights_and_values(tiny_config):
    shares = blend_weights([4, 8, 16], 8, width=0.5)
    assert 0 < shares[4] < 0.5 < shares[8] < shares[16] < 1
    src, tgt = Generator(tiny_config), Generator(tiny_config)
    out = blend_generators(src, tgt, 8, width=0.5)
    a = shares[8]
    expected = src.convs[1].conv.weight * (1 - a) + tgt.convs[1].conv.weight * a
    assert torch.allclose(out.convs[1].conv.weight, expected, atol=1e-6)
    with pytest.raises(ValueError, match="--swap-at 12"):
        blend_weights([4, 8, 16], 12)


def test_blend_blocks_lerps_each_block_by_its_own_share(tiny_config):
    torch.manual_seed(0)
    src, tgt = Generator(tiny_config), Generator(tiny_config)
    out = blend_blocks(src, tgt, {4: 0.0, 8: 0.25, 16: 1.0})
    assert torch.equal(out.conv1.conv.weight, src.conv1.conv.weight)  # 4px: source
    expected = torch.lerp(src.convs[1].conv.weight, tgt.convs[1].conv.weight, 0.25)
    assert torch.allclose(out.convs[1].conv.weight, expected, atol=1e-7)  # 8px: a quarter target
    assert torch.equal(out.to_rgbs[1].conv.weight, tgt.to_rgbs[1].conv.weight)  # 16px: target
    with pytest.raises(ValueError, match=r"need a target share for each block resolution \[4, 8, 16\]"):
        blend_blocks(src, tgt, {4: 0.0, 8: 1.0})
    with pytest.raises(ValueError, match="target shares must be in \\[0, 1\\], got 16px 1.5"):
        blend_blocks(src, tgt, {4: 0.0, 8: 1.0, 16: 1.5})


def test_blend_cli_writes_a_loadable_checkpoint(pair_files, tmp_path):
    out = tmp_path / "blend.pt"
    assert main(["blend", "--source", str(pair_files[0]), "--target", str(pair_files[1]),
                 "--swap-at", "16", "--out", str(out)]) == 0
    g = load_generator(out)
    tgt = load_generator(pair_files[1])
    assert torch.equal(g.convs[3].conv.weight, tgt.convs[3].conv.weight)
    raw = torch.load(out, weights_only=True)
    assert raw["freezeg"]["blend"]["swap_at"] == 16


def test_share_interpolates_every_block_and_keeps_shared_blocks_bit_identical(tiny_config):
    torch.manual_seed(0)
    src = Generator(tiny_config)
    tgt = finetuned(src, top_blocks=1)
    assert blend_weights([4, 8, 16], share=0.2) == {4: 0.2, 8: 0.2, 16: 0.2}
    assert blend_weights([4, 8, 16], 8, share=0.5) == {4: 0.0, 8: 0.5, 16: 0.5}
    out = blend_generators(src, tgt, share=0.2)
    expected = torch.lerp(src.convs[3].conv.weight, tgt.convs[3].conv.weight, 0.2)
    assert torch.allclose(out.convs[3].conv.weight, expected, atol=1e-7)
    assert not torch.equal(out.convs[3].conv.weight, src.convs[3].conv.weight)
    # the blocks the fine-tune left alone stay the source's, bit for bit, so pivotal tuning can share them
    assert shared_blocks(src, out).resolutions == [4, 8]
    with pytest.raises(ValueError, match=r"--share must be in \[0, 1\], got 1.5"):
        blend_weights([4, 8, 16], share=1.5)


def test_blend_cli_share_keeps_the_targets_freeze_spec(tmp_path, tiny_config):
    torch.manual_seed(0)
    src = Generator(tiny_config)
    freeze = FreezeSpec(g_top_blocks=1).to_dict()
    s = save_checkpoint(tmp_path / "src.pt", g_ema=src)
    t = save_checkpoint(tmp_path / "tgt.pt", g_ema=finetuned(src), meta={"freeze": freeze})
    out = tmp_path / "weak.pt"
    assert main(["blend", "--source", str(s), "--target", str(t), "--share", "0.3", "--out", str(out)]) == 0
    ckpt = load_checkpoint(out)
    assert ckpt.meta["freeze"] == freeze and ckpt.meta["blend"]["share"] == 0.3
    assert ckpt.meta["blend"]["target_share"] == {"4": 0.3, "8": 0.3, "16": 0.3}
    g = load_generator(out)
    assert shared_blocks(load_generator(s), g, ckpt.meta["freeze"]).resolutions == [4, 8]
    assert main(["blend", "--source", str(s), "--target", str(t), "--out", str(tmp_path / "x.pt")]) == 2
    assert main(["blend", "--source", str(s), "--target", str(t), "--share", "0.5", "--width", "0.5",
                 "--out", str(tmp_path / "x.pt")]) == 2
    assert not (tmp_path / "x.pt").exists()


def test_mismatched_generators_are_a_clear_error(pair_files, tmp_path, capsys):
    other = save_checkpoint(tmp_path / "other.pt", g_ema=Generator(ModelConfig(size=8, style_dim=16, n_mlp=2, channels={4: 8, 8: 8})))
    with pytest.raises(ValueError, match="size 16 vs 8"):
        check_compatible(load_generator(pair_files[0]), load_generator(other))
    assert main(["pairs", "--source", str(pair_files[0]), "--target", str(other), "--out", str(tmp_path / "p.png")]) == 2
    assert "differ" in capsys.readouterr().err
