"""`freezeg bench-inversion`: how close inversions come, how fast, and how well they translate.

A run is a recipe with a step budget, written RECIPE[(OPTION=VALUE,...)][+enc][+pt|+ptall][@SPACE]:STEPS, e.g.
`stylegan2@w+:300` (the 2020 projector, W+, 300 steps), `default:300`, `default+enc:0` (the
encoder's guess alone), `default+enc+pt:50` (then pivotal tuning of the shared blocks),
`default+ptall:300` (tuning the source's trained blocks too, for the reconstruction),
`default(offset_penalty=0.1):300` (a recipe option changed). Every run projects the same images in the same
batches and reports, per image set:
- reconstruction: PSNR (mean, min, count below 20 dB), SSIM, LPIPS when its weights exist;
  a curve of mean PSNR against steps and seconds (evaluations are not timed);
- with pivotal tuning (+pt): the same after tuning, and the tuning's seconds per image;
- with a target generator: translations' realism against target images (KID x1e3 with the FID
  Inception network when available, SWD x1e3 always) and their structure against the inputs
  (and against ground-truth translations, when given); beside them the target generator's own
  samples and the untranslated inputs, as references.
Seconds per image are wall seconds of the batch divided by its images.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..generate.sampling import seeded_images
from ..metrics.fidelity import psnr, ssim
from ..metrics.pairs import pixel_error
from ..metrics.realism import image_set_statistics, realism
from ..metrics.structure import structure_report
from ..models.networks import Generator
from ..utils.media import from_uint8, to_uint8
from .encoder import Encoder
from .latents import Latent, stack_latents
from .pipeline import Inversion
from .pivotal import PivotalTuner, SharedBlocks, Tuning, TuningOptions
from .recipes import RECIPES, recipe_options

log = logging.getLogger("freezeg")

DEFAULT_RUNS = "stylegan2@w+:300,default:300,default+enc:0,default+enc:100,default+pt:300"
CURVE_POINTS = (0.0, 0.125, 0.25, 0.5, 0.75, 1.0)  # shares of the steps at which PSNR is measured
POOR_PSNR = 20.0
_RUN = re.compile(r"^(?P<recipe>[a-z0-9]+)(\((?P<options>[^()]*)\))?(?P<flags>(\+[a-z]+)*)(@(?P<space>w\+?))?:(?P<steps>\d+)$")
_OUTSIDE_PARENTHESES = re.compile(r",(?![^()]*\))")


@dataclass
class RunSpec:
    """One harness run: a recipe, a step budget, and whether it starts from the encoder / tunes."""

    name: str
    recipe: str
    steps: int
    space: str = "w+"
    encoder: bool = False
    pivotal: bool = False
    pivotal_all: bool = False  # also tune the source's trained blocks (reconstruction only)
    options: dict[str, Any] = field(default_factory=dict)  # recipe options other than the defaults


def _option_value(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text) if re.fullmatch(r"-?\d+", text.strip()) else float(text)
    except ValueError:
        return text.strip()


def parse_runs(text: str) -> list[RunSpec]:
    """'stylegan2@w+:300,default+enc:0' -> RunSpecs (one-line errors for anything else)."""
    runs = []
    for part in (p.strip() for p in _OUTSIDE_PARENTHESES.split(text)):
        if not part:
            continue
        m = _RUN.match(part)
        if m is None:
            raise ValueError(f"--runs: cannot read {part!r} (use RECIPE[+enc][+pt|+ptall][@w|@w+]:STEPS, e.g. default+pt:300)")
        flags = [f for f in m["flags"].split("+") if f]
        unknown = [f for f in flags if f not in ("enc", "pt", "ptall")]
        if m["recipe"] not in RECIPES or unknown:
            raise ValueError(f"--runs: {part!r}: recipes are {', '.join(RECIPES)}, flags +enc, +pt and +ptall")
        options = {}
        for pair in filter(None, (m["options"] or "").split(",")):
            key, eq, value = pair.partition("=")
            if not eq:
                raise ValueError(f"--runs: {part!r}: recipe options are OPTION=VALUE, got {pair!r}")
            options[key.strip()] = _option_value(value)
        spec = RunSpec(part, m["recipe"], int(m["steps"]), m["space"] or "w+", "enc" in flags,
                       "pt" in flags or "ptall" in flags, "ptall" in flags, options)
        _options_of(spec)  # unknown or bad options fail here, before any run starts
        runs.append(spec)
    if not runs:
        raise ValueError("--runs: no runs given")
    return runs


@dataclass
class HarnessSetup:
    """What every run shares."""

    source: Generator
    distance: nn.Module
    batch: int = 16  # images projected together
    encoder: Encoder | None = None  # for +enc runs
    target: Generator | None = None  # renders translations
    shared: SharedBlocks | None = None  # for +pt runs
    tuning: TuningOptions = field(default_factory=TuningOptions)
    lpips: nn.Module | None = None  # LPIPS distance, when its weights exist
    inception: nn.Module | None = None  # FID Inception, when its weights exist
    loss: str = "default"
    precision: str = "fp32"  # projection steps in 'bf16' or 'fp32' (resolved)


def _options_of(spec: RunSpec):
    """The recipe options of a run (one-line errors for options the recipe does not have)."""
    known = {f.name for f in dataclasses.fields(type(recipe_options(spec.recipe)))}
    unknown = [k for k in spec.options if k not in known or k in ("space", "steps")]
    if unknown:
        raise ValueError(f"--runs: {spec.name!r}: {spec.recipe} has no option {unknown[0]!r} here "
                         f"(it has {', '.join(sorted(known - {'space', 'steps'}))})")
    try:
        return recipe_options(spec.recipe, space=spec.space, steps=spec.steps, **spec.options)
    except (TypeError, ValueError) as e:
        raise ValueError(f"--runs: {spec.name!r}: {e}") from None


def _timed_projection(setup: HarnessSetup, spec: RunSpec, targets: torch.Tensor) -> tuple[list[Latent], list[dict], float]:
    """Project `targets` batch by batch; the latents, the PSNR curve and the seconds spent."""
    options = _options_of(spec)
    inversion = Inversion(setup.distance, setup.loss, options, batch=setup.batch,
                          encoder=setup.encoder if spec.encoder else None, precision=setup.precision)
    inversion.ensure_stats(setup.source)
    checkpoints = sorted({round(p * spec.steps) for p in CURVE_POINTS})
    sums = {c: [0.0, 0.0, 0.0] for c in checkpoints}  # step -> [psnr sum, ssim sum, seconds]
    latents: list[Latent] = []
    seconds = 0.0
    for start in range(0, len(targets), setup.batch):
        chunk = targets[start : start + setup.batch]
        begin = time.perf_counter()
        proj = inversion.projector(setup.source, chunk)
        spent = time.perf_counter() - begin
        for step in range(spec.steps + 1):
            if step in sums:
                found, _ = proj.result(setup.loss)
                sums[step][0] += sum(lat.fidelity["psnr"] for lat in found)
                sums[step][1] += sum(lat.fidelity["ssim"] for lat in found)
                sums[step][2] += spent
            if step < spec.steps:
                begin = time.perf_counter()
                proj.step()
                spent += time.perf_counter() - begin
        found, _ = proj.result(setup.loss)
        latents += found
        seconds += spent
    n = len(targets)
    curve = [{"step": c, "seconds_per_image": s[2] / n, "psnr": s[0] / n, "ssim": s[1] / n} for c, s in sums.items()]
    return latents, curve, seconds


def _reconstruction(images: torch.Tensor, targets: torch.Tensor, lpips: nn.Module | None) -> dict[str, Any]:
    clamped = images.clamp(-1, 1)
    p, s = psnr(clamped, targets), ssim(clamped, targets)
    out = {"psnr": float(p.mean()), "psnr_min": float(p.min()), "below_20db": int((p < POOR_PSNR).sum()),
           "ssim": float(s.mean()), "lpips": None, "per_image_psnr": [round(float(v), 3) for v in p]}
    if lpips is not None:
        with torch.no_grad():
            out["lpips"] = float(lpips(clamped, targets).mean())
    return out


@torch.no_grad()
def _render(g: Generator, latents: list[Latent], tunings: list[Tuning] | None) -> torch.Tensor:
    """Renderings [N, 3, S, S] in [-1, 1] rounded to 8 bits (as saved), with each image's tuning."""
    out = []
    for i, latent in enumerate(latents):
        ws, noise = stack_latents([latent], g)
        if tunings is None:
            out.append(g.synthesis(ws, noise=noise))
        else:
            with tunings[i].applied(g):
                out.append(g.synthesis(ws, noise=noise))
    return from_uint8(to_uint8(torch.cat(out)))


def _realism(setup: HarnessSetup, reference, images: torch.Tensor, seed: int) -> dict[str, Any]:
    stats = image_set_statistics([images], setup.inception, seed=seed, desc="translations")
    r = realism(reference, stats, seed=0)
    return {"swd": r["swd"]["avg"], "kid_x1e3": None if r["kid"] is None else 1e3 * r["kid"]["mean"]}


def _structure(names: list[str], sources: torch.Tensor, translations: torch.Tensor) -> float:
    return structure_report(names, list(sources), list(translations)).mean


def run_harness(
    setup: HarnessSetup,
    runs: list[RunSpec],
    images: np.ndarray,  # uint8 [N, S, S, 3] held-out images of the source domain
    names: list[str],
    target_images: torch.Tensor | None = None,  # [M, 3, S, S] real images of the target domain (realism reference)
    truth: torch.Tensor | None = None,  # [N, 3, S, S] ground-truth translations of `images`, if known
    generated: int = 0,  # also run on this many of the source generator's own images (sanity check)
    progress: bool = True,
) -> dict[str, Any]:
    """Every run on the images (and on G-made images); returns the result dict `format_harness` prints."""
    g = setup.source
    targets = from_uint8(images)
    sets = {"real": (targets, names)}
    if generated:
        with torch.no_grad():
            made = from_uint8(to_uint8(seeded_images(g, list(range(generated)))))
        sets["generated"] = (made, [f"seed{s}" for s in range(generated)])
    reference = None
    result: dict[str, Any] = {"images": len(targets), "generated": generated, "size": g.size, "runs": {}, "references": {}}
    if setup.target is not None and target_images is not None:
        reference = image_set_statistics([target_images], setup.inception, seed=0, desc="target images")
        with torch.no_grad():
            samples = from_uint8(to_uint8(seeded_images(setup.target, list(range(len(targets))))))
        result["references"]["target samples"] = _realism(setup, reference, samples, seed=1)
        result["references"]["inputs, untranslated"] = {**_realism(setup, reference, targets, seed=1),
                                                       "structure_vs_input": 1.0}
        if truth is not None:
            result["references"]["inputs, untranslated"]["structure_vs_truth"] = _structure(names, truth, targets)
            result["references"]["inputs, untranslated"]["l1_vs_truth"] = pixel_error(to_uint8(truth), to_uint8(targets))
            result["references"]["ground truth"] = {**_realism(setup, reference, truth, seed=1),
                                                    "structure_vs_input": _structure(names, targets, truth)}
    for spec in runs:
        entry: dict[str, Any] = {}
        for set_name, (set_targets, set_names) in sets.items():
            log.info("bench-inversion: %s on %d %s images", spec.name, len(set_targets), set_name)
            latents, curve, seconds = _timed_projection(setup, spec, set_targets)
            recon = _render(g, latents, None)
            row = {"seconds_per_image": seconds / len(set_targets), "curve": curve,
                   "reconstruction": _reconstruction(recon, set_targets, setup.lpips)}
            tunings = None
            if spec.pivotal:
                if setup.shared is None:
                    raise ValueError(f"--runs {spec.name}: pivotal tuning needs --target (a FreezeG fine-tune of --ckpt)")
                options = dataclasses.replace(setup.tuning, trained_blocks=spec.pivotal_all)
                tuner = PivotalTuner(g, setup.shared, setup.distance, options, setup.loss)
                begin = time.perf_counter()
                tuned = [tuner.tune(lat, set_targets[i : i + 1]) for i, lat in enumerate(latents)]
                row["tuning_seconds_per_image"] = (time.perf_counter() - begin) / len(set_targets)
                tunings = [tuning for tuning, _ in tuned]
                row["before_tuning"] = row["reconstruction"]
                # The tuner's own reconstructions: with +ptall the fully tuned source's.
                tuned_images = from_uint8(to_uint8(torch.cat([image for _, image in tuned])))
                row["reconstruction"] = _reconstruction(tuned_images, set_targets, setup.lpips)
                if spec.pivotal_all:  # translations get only the shared blocks' part of that tuning
                    row["shared_blocks_only"] = _reconstruction(_render(g, latents, tunings), set_targets, setup.lpips)
            if set_name == "real" and reference is not None:
                translated = _render(setup.target, latents, tunings)
                row["translation"] = {**_realism(setup, reference, translated, seed=1),
                                      "structure_vs_input": _structure(set_names, set_targets, translated)}
                if truth is not None:
                    row["translation"]["structure_vs_truth"] = _structure(set_names, truth, translated)
                    row["translation"]["l1_vs_truth"] = pixel_error(to_uint8(truth), to_uint8(translated))
            entry[set_name] = row
        result["runs"][spec.name] = entry
    return result


def _num(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "-"


def format_harness(result: dict[str, Any]) -> str:
    """The harness result as a plain-text table per image set, references last."""
    lines = []
    has_kid = any(ref.get("kid_x1e3") is not None for ref in result["references"].values())

    def realism_cells(t: dict) -> str:
        kid = f"{_num(t.get('kid_x1e3'), '.2f'):>9}" if has_kid else ""
        return (f"{kid}{_num(t.get('swd'), '.2f'):>9}{_num(t.get('structure_vs_input'), '.3f'):>8}"
                f"{_num(t.get('structure_vs_truth'), '.3f'):>9}{_num(t.get('l1_vs_truth'), '.1f'):>9}")

    width = max([24, *(len(name) + 2 for name in result["runs"])])
    for set_name in ("real", "generated"):
        rows = [(name, entry[set_name]) for name, entry in result["runs"].items() if set_name in entry]
        if not rows:
            continue
        count = result["images"] if set_name == "real" else result["generated"]
        lines.append(f"{set_name} images ({count} at {result['size']}px)")
        head = f"{'run':<{width}}{'s/img':>7}{'PSNR':>7}{'min':>7}{'<20dB':>6}{'SSIM':>7}{'LPIPS':>7}"
        if set_name == "real" and result["references"]:
            head += (f"{'KID x1e3':>9}" if has_kid else "") + f"{'SWD x1e3':>9}{'struct':>8}{'vs truth':>9}{'L1 truth':>9}"
        lines.append(head)
        for name, row in rows:
            r = row["reconstruction"]
            seconds = row["seconds_per_image"] + row.get("tuning_seconds_per_image", 0.0)
            line = (f"{name:<{width}}{seconds:>7.2f}{r['psnr']:>7.2f}{r['psnr_min']:>7.2f}{r['below_20db']:>6d}"
                    f"{r['ssim']:>7.3f}{_num(r['lpips'], '.3f'):>7}")
            t = row.get("translation")
            if t:
                line += realism_cells(t)
            lines.append(line)
            for key, label, secs in (("shared_blocks_only", "  shared blocks only", seconds),
                                     ("before_tuning", "  before tuning", row["seconds_per_image"])):
                if key in row:
                    b = row[key]
                    lines.append(f"{label:<{width}}{secs:>7.2f}{b['psnr']:>7.2f}{b['psnr_min']:>7.2f}"
                                 f"{b['below_20db']:>6d}{b['ssim']:>7.3f}{_num(b['lpips'], '.3f'):>7}")
        if set_name == "real":
            for name, ref in result["references"].items():
                lines.append(f"{name:<{width}}{'':>41}{realism_cells(ref)}")
        lines.append("")
    return "\n".join(lines).rstrip()
