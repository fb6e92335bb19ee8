"""Projection in bfloat16: the steps render under autocast, the results stay float32 and exact."""

from __future__ import annotations

import torch

from freezeg.inversion.distances import make_distance
from freezeg.inversion.latents import latent_stats
from freezeg.inversion.pipeline import Inversion
from freezeg.inversion.staged import StagedOptions
from helpers import generated, trained_like


def test_bf16_projection_steps_give_float32_results_close_to_fp32(tiny_config):
    g = trained_like(tiny_config)
    targets = generated(g, [3, 4])
    stats = latent_stats(g, n=500)
    found = {}
    for precision in ("fp32", "bf16"):
        inversion = Inversion(make_distance("default"), "default", StagedOptions(steps=30, starts=4), stats=stats,
                              precision=precision)
        latents, images = inversion.project(g, targets, progress=False)
        assert images.dtype == torch.float32 and all(lat.ws.dtype == torch.float32 for lat in latents)
        assert inversion.describe()["precision"] == precision
        found[precision] = [lat.fidelity["psnr"] for lat in latents]
    # The fidelity is measured in float32 either way; bf16 steps land within a dB or two of fp32's.
    for fp32, bf16 in zip(found["fp32"], found["bf16"]):
        assert abs(fp32 - bf16) < 2.0, found


def test_fp32_is_the_default_and_unchanged(tiny_config):
    g = trained_like(tiny_config)
    targets = generated(g, [5])
    stats = latent_stats(g, n=500)
    a = Inversion(make_distance("default"), "default", StagedOptions(steps=5, starts=2), stats=stats)
    b = Inversion(make_distance("default"), "default", StagedOptions(steps=5, starts=2), stats=stats, precision="fp32")
    (la,), _ = a.project(g, targets, progress=False)
    (lb,), _ = b.project(g, targets, progress=False)
    assert torch.equal(la.ws, lb.ws)
