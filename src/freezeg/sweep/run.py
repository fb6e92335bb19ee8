"""Running a sweep: the checks, one projection of the --pairs images, then for each setting
one fine-tune and its evaluation, then the reports. Resumable at every level.

    runs/sweep/
      plan.json              what the results depend on (a rerun with other values is refused)
      projection/            latents/, reconstructions/, fidelity.json of the --pairs images
      source/                the baseline: result.json, grid-row.png
      g2-d2/                 a setting: a training run folder (run.json, checkpoints/, samples/,
                             log.csv) plus result.json, grid-row.png, translated/NAME.png
      sweep.json, sweep.csv, sweep.svg, pairs.png, translations.png

A setting with a result.json is finished and never rerun; one with a run.json but no result
resumes its training from the newest checkpoint (a finished run resumes as a no-op) and is
then evaluated. The projection skips images whose latents exist. So a sweep stopped anywhere
continues where it stopped, and adding a level to a finished sweep trains only that level.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..inversion.distances import make_distance
from ..inversion.latents import load_latent
from ..inversion.pipeline import Inversion
from ..models.checkpoint import load_generator
from ..models.networks import Generator
from ..train.loop import Trainer
from ..train.run import RUN_FILE, RunFolder
from ..translate import LATENTS, FolderTranslation, collect_inputs
from ..utils import faults
from ..utils.devices import resolve_device
from ..utils.files import write_json
from .evaluate import GRID_ROW, TRANSLATED, build_reference, evaluate, evaluate_source
from .plan import PLAN_FILE, CheckedPlan, Setting, SweepPlan, check_plan
from .report import BASELINE, recommend, tile_row, write_outputs

log = logging.getLogger("freezeg")

RESULT_FILE = "result.json"
PROJECTION = "projection"
TRANSLATION_COLUMNS = 16  # pairs shown in translations.png


@dataclass
class SweepResult:
    """What a sweep measured and wrote."""

    rows: list[dict]  # the baseline first, then one per setting in plan order
    recommendation: dict  # report.recommend
    paths: dict[str, Path]  # sweep.json, sweep.csv, sweep.svg, pairs.png, translations.png
    not_computed: dict[str, str] = field(default_factory=dict)  # metric -> why
    summary: dict = field(default_factory=dict)  # sweep.json's fields besides rows and recommendation


def _read_result(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("%s: unreadable; measuring again", path)
        return None


def project_pairs(plan: SweepPlan, source: Generator, checked: CheckedPlan, progress: bool) -> tuple[list, float]:
    """Project the --pairs source images once with the source generator (resumable); (latents, seconds)."""
    out = Path(plan.out) / PROJECTION
    start = time.perf_counter()
    inversion = plan.inversion or Inversion(make_distance("default", device=next(source.parameters()).device))
    run = FolderTranslation(source, out, inversion, source_path=plan.source, progress=progress)
    report = run.run(collect_inputs([plan.pairs[0]], kinds=("image",)))
    if report.done:
        log.info("projected %d --pairs images once with the source generator (mean PSNR %.2f dB) -> %s",
                 len(report.done), report.mean_psnr or float("nan"), out)
    latents = [load_latent(out / LATENTS / f"{name}.pt", source) for name in checked.names]
    return latents, time.perf_counter() - start


def train_setting(plan: SweepPlan, setting: Setting) -> Generator:
    """Fine-tune one setting to the plan's step count (resuming its run when it has one); its final g_ema."""
    options = plan.setting_options(setting)
    trainer = Trainer(options, resume=(Path(options.out) / RUN_FILE).is_file())
    trainer.train()
    return trainer.g_ema.eval()


def start_over(plan: SweepPlan) -> None:
    """--overwrite: remove what this sweep made for its settings, baseline and projection, and
    nothing else, before anything runs (so that an interrupted start-over cannot leave old
    results that a later run would take as finished)."""
    out = Path(plan.out)
    for folder in [out / BASELINE, *(out / s.label for s in plan.settings)]:
        if (folder / RUN_FILE).exists():
            RunFolder(folder).claim(resume=False, overwrite=True)  # removes only the run's own files
        for name in (RESULT_FILE, GRID_ROW):
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / TRANSLATED, ignore_errors=True)
    shutil.rmtree(out / PROJECTION, ignore_errors=True)


def _row(setting: Setting | None, checked: CheckedPlan) -> dict:
    if setting is None:
        return {"setting": BASELINE, "freeze_g": None, "freeze_d": None, "g_trains": "(not fine-tuned)",
                "d_trains": "", "frozen_blocks": None}
    g_trains, d_trains = setting.describe(checked.config)
    return {"setting": setting.label, "freeze_g": setting.g, "freeze_d": setting.d, "g_trains": g_trains,
            "d_trains": d_trains, "frozen_blocks": list(setting.frozen_blocks(checked.config))}


def run_sweep(plan: SweepPlan, overwrite: bool = False, progress: bool = True) -> SweepResult:
    """Check, project, fine-tune and evaluate every setting, write the reports; see the module doc."""
    checked = check_plan(plan, overwrite)
    if overwrite:
        start_over(plan)
    out = Path(plan.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / PLAN_FILE, plan.to_dict())
    device = resolve_device(plan.train.device)
    source = load_generator(plan.source, device=device).eval()
    for p in source.parameters():
        p.requires_grad_(False)

    latents, projection_seconds = [], None
    if plan.pairs:
        latents, projection_seconds = project_pairs(plan, source, checked, progress)
    ref = build_reference(plan, checked, source, latents)

    rows = []
    for index, setting in enumerate([None, *plan.settings]):
        folder = out / (BASELINE if setting is None else setting.label)
        result_path = folder / RESULT_FILE
        row = _read_result(result_path)
        if row is not None and (folder / GRID_ROW).is_file():
            log.info("%s: finished earlier (%s)", row["setting"], result_path)
            rows.append(row)
            continue
        row = _row(setting, checked)
        seconds = {"train": None, "eval": None}
        if setting is None:
            start = time.perf_counter()
            row.update(evaluate_source(source, ref, folder))
        else:
            g_trains, d_trains = row["g_trains"], row["d_trains"]
            log.info("== setting %d/%d: %s (G trains %s; D trains %s), %d steps", index, len(plan.settings),
                     setting.label, g_trains, d_trains, plan.train.steps)
            start = time.perf_counter()
            g = train_setting(plan, setting)
            seconds["train"] = time.perf_counter() - start
            start = time.perf_counter()
            row.update(evaluate(source, g, ref, folder))
            del g
        seconds["eval"] = time.perf_counter() - start
        row["seconds"] = seconds
        write_json(result_path, row)
        rows.append(row)
        faults.reached("setting")

    recommendation = recommend(rows, plan.tolerance)
    summary = {"data": plan.data, "source": plan.source, "steps": plan.train.steps, "seed": plan.train.seed,
               "batch": plan.train.batch, "realism_images": checked.n, "kid_subset_size": checked.kid_subset_size,
               "structure_seeds": len(ref.structure_ws), "not_computed": ref.not_computed, "notes": checked.notes}
    if plan.pairs:
        summary.update({"pairs": list(plan.pairs), "pair_names": checked.names, "projection": plan.projection_record(),
                        "projection_seconds": projection_seconds,
                        "projection_mean_psnr": float(np.mean([lat.fidelity.get("psnr", np.nan) for lat in latents]))})
    grid_rows = [np.asarray(Image.open(out / r["setting"] / GRID_ROW).convert("RGB")) for r in rows]
    paths = write_outputs(out, summary, rows, recommendation, grid_rows, _translation_rows(out, rows, checked))
    return SweepResult(rows, recommendation, paths, ref.not_computed, summary)


def _translation_rows(out: Path, rows: list[dict], checked: CheckedPlan) -> list[tuple[str, np.ndarray]] | None:
    """translations.png: the inputs, their true targets, then each setting's translations."""
    if checked.inputs is None:
        return None
    names = checked.names[:TRANSLATION_COLUMNS]
    k = len(names)
    table = [("input", tile_row(checked.inputs[:k])), ("truth", tile_row(checked.truths[:k]))]
    for r in rows:
        if r["setting"] == BASELINE:
            continue
        images = [np.asarray(Image.open(out / r["setting"] / TRANSLATED / f"{n}.png").convert("RGB")) for n in names]
        table.append((r["setting"], tile_row(images)))
    return table

