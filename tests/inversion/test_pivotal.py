"""Pivotal tuning of the shared frozen blocks: which blocks are shared, that only they change,
that the tuned blocks reproduce the image better, and tuning files that belong to their source."""

import copy

import pytest
import torch

from freezeg import FreezeSpec, Generator, ModelConfig
from freezeg.inversion.distances import make_distance
from freezeg.inversion.latents import Latent
from freezeg.inversion.pivotal import (
    PivotalTuner,
    TuningOptions,
    load_tuning,
    save_tuning,
    shared_blocks,
    tuning_path,
)
from helpers import finetuned, trained_like


def off_manifold(g: Generator) -> torch.Tensor:
    """An image the generator cannot make exactly: a smooth colour ramp with a square."""
    ramp = torch.linspace(-0.8, 0.8, g.size)
    img = torch.stack([ramp[None, :].expand(g.size, -1), ramp[:, None].expand(-1, g.size), 0.2 * torch.ones(g.size, g.size)])
    img[:, 4:10, 5:11] = torch.tensor([0.9, -0.5, 0.1])[:, None, None]
    return img[None]


def test_shared_blocks_are_the_bit_identical_ones(tiny_config):
    source = trained_like(tiny_config)
    target = finetuned(source, top_blocks=1)
    shared = shared_blocks(source, target, FreezeSpec(g_top_blocks=1).to_dict())
    assert shared.resolutions == [4, 8] and shared.describe() == "4px, 8px"
    assert "conv1.conv.weight" in shared.names and "convs.0.conv.weight" in shared.names
    assert not any(n.startswith(("convs.2", "to_rgbs.1", "style.")) for n in shared.names)
    assert shared.digest == shared_blocks(source, copy.deepcopy(target)).digest


def test_a_recoloured_coarse_torgb_is_not_shared_but_its_block_is(tiny_config):
    source = trained_like(tiny_config)
    target = finetuned(source, top_blocks=1)
    with torch.no_grad():
        target.to_rgbs[0].conv.weight.add_(0.1)  # --coarse-rgb train moved the 8px block's toRGB
    shared = shared_blocks(source, target, FreezeSpec(g_top_blocks=1, coarse_rgb=True).to_dict())
    assert shared.resolutions == [4, 8]
    assert "convs.0.conv.weight" in shared.names and "to_rgb1.conv.weight" in shared.names
    assert not any(n.startswith("to_rgbs.0.") for n in shared.names)  # tuning it on the source means nothing for the target


def test_unrelated_generators_are_refused_with_one_line(tiny_config):
    source = trained_like(tiny_config)
    with pytest.raises(ValueError, match=r"^tgt\.pt: shares no frozen blocks with src\.pt .*--freeze-g N\)$"):
        shared_blocks(source, Generator(tiny_config), names=("src.pt", "tgt.pt"))
    # A freeze spec that kept 8px frozen while the 8px block differs: not a fine-tune of this source.
    target = finetuned(source, top_blocks=2)
    with pytest.raises(ValueError, match=r"tgt\.pt: its freeze spec froze the 4px, 8px blocks, but 8px differ from src\.pt's"):
        shared_blocks(source, target, FreezeSpec(g_top_blocks=1).to_dict(), names=("src.pt", "tgt.pt"))


def test_tuning_changes_only_shared_blocks_and_gets_closer(tiny_config):
    source = trained_like(tiny_config)
    target = finetuned(source)
    shared = shared_blocks(source, target)
    before = {k: v.clone() for k, v in source.state_dict().items()}
    latent = Latent(ws=source.mean_w().expand(source.num_ws, -1).clone(), noise=None)
    image = off_manifold(source)
    tuner = PivotalTuner(source, shared, make_distance("default"), TuningOptions(steps=30, lr=3e-3))
    tuning, recon = tuner.tune(latent, image)
    assert tuning.after["psnr"] > tuning.before["psnr"] + 2, (tuning.before, tuning.after)
    assert set(tuning.deltas) == set(shared.names) and all(d.dtype == torch.float16 for d in tuning.deltas.values())
    assert recon.shape == image.shape
    # The source itself is never modified; applying the tuning is undone exactly afterwards.
    assert all(torch.equal(v, before[k]) for k, v in source.state_dict().items())
    with torch.no_grad(), tuning.applied(target):
        tuned_weight = target.conv1.conv.weight.clone()
    assert not torch.equal(tuned_weight, before["conv1.conv.weight"])
    assert torch.equal(target.conv1.conv.weight, before["conv1.conv.weight"])
    # Tuning the source's trained blocks too reconstructs closer, yet still writes only the shared deltas.
    both, _ = PivotalTuner(source, shared, make_distance("default"),
                           TuningOptions(steps=30, lr=3e-3, trained_blocks=True)).tune(latent, image)
    assert set(both.deltas) == set(shared.names) and both.after["psnr"] > tuning.after["psnr"]
    assert both.meta["shared_only"]["psnr"] < both.after["psnr"]


def test_tuning_never_ends_worse_than_the_projection(tiny_config):
    # The generator's own image from its own latent: the projection is exact, so any step of a
    # large learning rate can only move away. The tuner must give back the blocks it started with.
    source = trained_like(tiny_config)
    shared = shared_blocks(source, finetuned(source))
    latent = Latent(ws=source.mean_w().expand(source.num_ws, -1).clone(), noise=None)
    with torch.no_grad():
        image = source.synthesis(latent.ws[None].clone(), noise=None)
    tuning, _ = PivotalTuner(source, shared, make_distance("default"), TuningOptions(steps=10, lr=0.05)).tune(latent, image)
    assert tuning.after["distance"] <= tuning.before["distance"] + 1e-6, (tuning.before, tuning.after)
    assert tuning.after["psnr"] >= tuning.before["psnr"] - 0.01


def test_tuning_file_round_trip_and_wrong_source(tmp_path, tiny_config):
    source = trained_like(tiny_config)
    target = finetuned(source)
    shared = shared_blocks(source, target)
    latent = Latent(ws=source.mean_w().expand(source.num_ws, -1).clone(), noise=None)
    tuning, _ = PivotalTuner(source, shared, make_distance("default"), TuningOptions(steps=3)).tune(latent, off_manifold(source))
    path = save_tuning(tuning_path(tmp_path / "a.pt"), tuning, source, "src.pt")
    assert path.name == "a.pti"
    back = load_tuning(path, source, shared)
    assert all(torch.equal(back.deltas[k], tuning.deltas[k]) for k in tuning.deltas)
    assert back.before == tuning.before and back.after == tuning.after
    # Another config: one line naming both.
    other = trained_like(ModelConfig(size=8, style_dim=16, n_mlp=2, channels={4: 8, 8: 8}))
    save_tuning(tmp_path / "small.pti", tuning, other)
    with pytest.raises(ValueError, match=r"small\.pti: tuning made for a 8px generator \(style_dim 16, 4 latents\), "
                                         r"not for a 16px generator \(style_dim 16, 6 latents\)"):
        load_tuning(tmp_path / "small.pti", source, shared)
    # Same config, other weights: the shared blocks differ.
    stranger = trained_like(tiny_config)
    with torch.no_grad():
        stranger.conv1.conv.weight.add_(1)
    stranger_shared = shared_blocks(stranger, finetuned(stranger))
    with pytest.raises(ValueError, match=r"a\.pti: tuned blocks \(4px, 8px\) of another source checkpoint"):
        load_tuning(path, stranger, stranger_shared)
    (tmp_path / "junk.pti").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"junk\.pti: not a readable tuning file"):
        load_tuning(tmp_path / "junk.pti", source, shared)


def test_bad_tuning_options():
    with pytest.raises(ValueError, match="--pt-steps"):
        TuningOptions(steps=0)
    with pytest.raises(ValueError, match="--pt-lr"):
        TuningOptions(lr=0)
