"""Measuring one generator of a sweep against what every setting shares.

`Reference` is measured once per sweep: the realism statistics of the target images, the
source generator's renderings of fixed latents, and (with --pairs) the source images'
projections into the source generator. `evaluate` then measures a fine-tuned generator with
the existing metrics and nothing else:

- realism (metrics.realism): SWD always; KID (mean and std over subsets) and FID with the
  FID Inception network when its weights are available, FID only from FID_MIN_IMAGES images;
- structure preservation (metrics.structure, and LPIPS when its weights are available):
  source and fine-tuned renderings of the same latents and noise;
- with --pairs, translation error against the ground truth: the saved projections rendered
  by the fine-tuned generator (no re-projection), compared with the true target images by
  structure, mean absolute pixel error (0-255) and LPIPS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.dataset import open_dataset
from ..generate.compare import render_pair, seed_ws
from ..generate.sampling import seed_noise
from ..inversion.latents import Latent
from ..metrics.inception import inception_if_available
from ..metrics.lpips import load_lpips
from ..metrics.pairs import pixel_error
from ..metrics.realism import KID_SUBSETS, ImageSetStatistics, image_set_statistics, realism
from ..metrics.sources import dataset_batches, generator_batches
from ..metrics.structure import structure_report
from ..metrics.weights import MissingWeightsError
from ..models.networks import Generator
from ..translate import render
from ..utils.media import from_uint8, save_image, to_uint8
from .plan import FID_MIN_IMAGES, CheckedPlan, SweepPlan
from .report import tile_row

log = logging.getLogger("freezeg")

BATCH = 16  # images per forward pass while measuring
GRID_ROW = "grid-row.png"  # a setting's renderings of the grid latents (report.tile_row), for the pairs grid
TRANSLATED = "translated"  # a setting's translations of the --pairs images


@dataclass
class Reference:
    """What every setting is measured against; built once per sweep."""

    checked: CheckedPlan
    real: ImageSetStatistics  # realism statistics of the target images
    structure_ws: torch.Tensor  # [S, num_ws, D] latents of the structure seeds (source mapping)
    structure_noise: list[torch.Tensor]  # their noise maps, per layer [S, 1, r, r]
    grid_seeds: list[int]
    inception: nn.Module | None = None
    lpips: nn.Module | None = None
    not_computed: dict[str, str] = field(default_factory=dict)  # metric -> why it is missing
    latents: list[Latent] = field(default_factory=list)  # projections of the --pairs source images


def build_reference(plan: SweepPlan, checked: CheckedPlan, source: Generator, latents: list[Latent]) -> Reference:
    """Measure the target images once, fix the latents, find the optional networks."""
    device = next(source.parameters()).device
    inception, why = (None, "skipped (--swd-only)") if plan.swd_only else inception_if_available(plan.inception, device)
    not_computed = {}
    if inception is None:
        not_computed["kid"] = not_computed["fid"] = why
    elif checked.n < FID_MIN_IMAGES:
        not_computed["fid"] = (f"FID needs at least {FID_MIN_IMAGES} images per set (the feature dimension); "
                               f"this sweep compares {checked.n}")
    try:
        lpips = load_lpips(plan.lpips_vgg, plan.lpips_lin, device=device)
    except MissingWeightsError as e:
        lpips, not_computed["lpips"] = None, str(e)
    data = open_dataset(plan.data, source.size, cache_dir=plan.train.cache_dir)
    real = image_set_statistics(dataset_batches(data, BATCH, checked.n), inception, seed=0, total=checked.n,
                                desc="realism: target images")
    seeds = list(range(max(plan.structure_seeds, plan.grid_seeds)))  # the grid shows the first few
    with torch.no_grad():
        ws = seed_ws(source, seeds)
    maps = [seed_noise(s, source) for s in seeds]
    noise = [torch.cat(layer) for layer in zip(*maps)]
    return Reference(checked, real, ws, noise, list(range(plan.grid_seeds)), inception, lpips, not_computed, latents)


def _renderings(source: Generator, g: Generator, ref: Reference) -> tuple[torch.Tensor, torch.Tensor]:
    """Source and `g` renderings of the structure latents, as 8-bit-rounded CPU images in [-1, 1]."""
    outs_s, outs_g = [], []
    device = next(g.parameters()).device
    for start in range(0, len(ref.structure_ws), BATCH):
        ws = ref.structure_ws[start : start + BATCH].to(device)
        noise = [n[start : start + BATCH] for n in ref.structure_noise]
        s, t = render_pair(source, g, ws, noise)
        outs_s.append(from_uint8(to_uint8(s)))
        outs_g.append(from_uint8(to_uint8(t)))
    return torch.cat(outs_s), torch.cat(outs_g)


def _lpips(model: nn.Module, a: torch.Tensor, b: torch.Tensor) -> float:
    device = next(model.parameters()).device
    with torch.no_grad():
        values = [model(a[i : i + BATCH].to(device), b[i : i + BATCH].to(device)).cpu() for i in range(0, len(a), BATCH)]
    return float(torch.cat(values).mean())


def measure_realism(g: Generator, ref: Reference) -> dict:
    """SWD (average over pyramid levels), KID mean and std, FID: None where not computed."""
    n = ref.checked.n
    fake = image_set_statistics(generator_batches(g, list(range(n)), batch=BATCH), ref.inception, seed=1,
                                total=n, desc="realism: samples")
    result = realism(ref.real, fake, seed=0, kid_subsets=KID_SUBSETS, kid_subset_size=ref.checked.kid_subset_size)
    out = {"swd": result["swd"]["avg"], "swd_levels": {k: v for k, v in result["swd"].items() if k != "avg"},
           "kid": None, "kid_std": None, "fid": None}
    if result["kid"] is not None:
        out["kid"], out["kid_std"] = result["kid"]["mean"], result["kid"]["std"]
    if result["fid"] is not None and "fid" not in ref.not_computed:
        out["fid"] = result["fid"]
    return out


def truth_errors(translations: np.ndarray, ref: Reference) -> dict:
    """Translations (uint8 [P, S, S, 3]) against the true target images: structure, L1 (0-255), LPIPS."""
    truths = ref.checked.truths
    a = [from_uint8(t)[0] for t in translations]
    b = [from_uint8(t)[0] for t in truths]
    report = structure_report(ref.checked.names, a, b)
    out = {"structure": report.mean, "structure_shuffled": report.shuffled,
           "l1": pixel_error(translations, truths), "lpips": None}
    if ref.lpips is not None:
        out["lpips"] = _lpips(ref.lpips, torch.stack(a), torch.stack(b))
    return out


def evaluate(source: Generator, g: Generator, ref: Reference, folder: Path) -> dict:
    """Realism, structure preservation and (with pairs) translation error of a fine-tuned `g`.

    Also writes `folder`/grid-row.png (its renderings of the grid latents) and, with pairs,
    `folder`/translated/NAME.png.
    """
    g.eval()
    out = {"realism": measure_realism(g, ref)}
    with torch.no_grad():
        src, tgt = _renderings(source, g, ref)
        report = structure_report([str(i) for i in range(len(src))], list(src), list(tgt))
        out["structure"] = {"mean": report.mean, "std": report.std, "shuffled": report.shuffled,
                            "lpips": _lpips(ref.lpips, src, tgt) if ref.lpips is not None else None}
        grid = to_uint8(tgt[: len(ref.grid_seeds)])
        save_image(tile_row(grid), folder / GRID_ROW)
        if ref.latents:
            translations = render(g, ref.latents)
            for name, image in zip(ref.checked.names, translations):
                save_image(image, folder / TRANSLATED / f"{name}.png")
            out["truth"] = truth_errors(translations, ref)
    return out


def evaluate_source(source: Generator, ref: Reference, folder: Path) -> dict:
    """The baseline row: the source generator's realism on the target images (no fine-tuning),
    structure 1 (its renderings are its own), and the untranslated inputs against the truth."""
    source.eval()
    out = {"realism": measure_realism(source, ref),
           "structure": {"mean": 1.0, "std": 0.0, "shuffled": None, "lpips": 0.0 if ref.lpips is not None else None}}
    device = next(source.parameters()).device
    with torch.no_grad():
        ws = ref.structure_ws[: len(ref.grid_seeds)].to(device)
        noise = [n[: len(ref.grid_seeds)].to(device) for n in ref.structure_noise]
        row = to_uint8(source.synthesis(ws, noise=noise))
    save_image(tile_row(row), folder / GRID_ROW)
    if ref.checked.inputs is not None:
        out["truth"] = truth_errors(ref.checked.inputs, ref)
    return out
