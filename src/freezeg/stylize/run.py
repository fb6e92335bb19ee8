"""`freezeg stylize`'s run folder: references projected once, then a resumable few-shot fine-tune.

    runs/NAME/
      stylize.json                 options, references, their reconstruction fidelity, the source
      references/NAME.pt, .png     each reference's latent and its reconstruction by the source
      checkpoints/step-NNNNNNN.pt  g and g_ema (the stylized generator), g_optim, freeze spec, provenance
      samples/step-NNNNNNN.png     fixed seeds: the source's row over the stylized generator's
      log.csv                      the loss per logged step
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..inversion.latents import load_latent, save_latent
from ..inversion.pipeline import Inversion
from ..models.checkpoint import load_checkpoint, load_discriminator, load_generator, save_checkpoint
from ..models.networks import Generator
from ..models.run_layout import periodic_checkpoints, step_file_name
from ..train.evaluation import save_sample_grid
from ..train.logs import CsvLog
from ..translate.inputs import read_target
from ..utils import faults
from ..utils.files import write_json
from ..utils.media import from_uint8, save_image, to_uint8
from .fewshot import StyleLoss, StylizeOptions, stylize_generator

log = logging.getLogger("freezeg")

RUN_FILE = "stylize.json"
ENTRIES = (RUN_FILE, "references", "checkpoints", "samples", "log.csv")
MAX_REFERENCES = 10
SAMPLE_SEEDS = list(range(8))


def claim(out: Path, resume: bool, overwrite: bool) -> bool:
    """Check the folder; True when a run is there to resume."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    has_run = (out / RUN_FILE).is_file()
    if has_run and resume:
        return True
    if any((out / e).exists() for e in ENTRIES) and not resume:
        if not overwrite:
            raise FileExistsError(f"{out}: already holds a run (pass --resume to continue it or --overwrite to start over)")
        for e in ENTRIES:
            target = out / e
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return False


def read_references(paths: list[str], size: int) -> tuple[list[str], torch.Tensor]:
    """The readable references (names, [K, 3, size, size] in [-1, 1]); unreadable ones are skipped and named."""
    names, images, skipped = [], [], []
    for path in paths:
        try:
            image, note = read_target(path, size)
        except (OSError, ValueError) as e:
            skipped.append(f"{path} ({str(e).split(': ', 1)[-1]})")
            continue
        if note:
            log.info("%s", note)
        name = Path(path).stem
        while name in names:
            name += "_"
        names.append(name)
        images.append(image)
    for s in skipped:
        log.warning("skipped reference %s", s)
    if not images:
        raise ValueError(f"no readable reference image among {len(paths)} given (first: {skipped[0] if skipped else '-'})")
    if len(images) > MAX_REFERENCES:
        raise ValueError(f"{len(images)} references: stylize takes 1 to {MAX_REFERENCES} pictures of one style")
    return names, from_uint8(np.stack(images))


def stylize_run(references: list[str], source_path: str, out: str | Path, options: StylizeOptions,
                inversion: Inversion, device: torch.device, resume: bool = False, overwrite: bool = False,
                lpips: torch.nn.Module | None = None, poor_psnr: float = 20.0, ckpt_every: int | None = None,
                progress: bool = True) -> Path:
    """Project the references, fine-tune the trainable blocks, write the run folder; returns the
    final checkpoint. Rerun with `resume` to continue from the newest checkpoint."""
    out = Path(out)
    source_ckpt = load_checkpoint(source_path)  # read once: the generator, and D for the d-features loss
    source = load_generator(source_ckpt, device=device).eval()
    options.validate(source)
    created = not out.exists()
    resuming = claim(out, resume, overwrite)
    try:
        options, references, names, images, loss = _prepare(out, resuming, references, options, source_ckpt,
                                                             source.size, lpips, device)
    except Exception:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # refused before anything was written: leave no empty run folder behind
        raise
    images = images.to(device)

    latents = _project(out, names, images, source, inversion, poor_psnr, source_path)
    flagged = [n for n, lat in zip(names, latents) if lat.fidelity.get("psnr", 99) < poor_psnr]
    record = {"source": source_path, "reference_paths": list(references), "references": names,
              "fidelity": {n: lat.fidelity for n, lat in zip(names, latents)}, "poor": flagged,
              "options": asdict(options)}
    write_json(out / RUN_FILE, record)
    ws = torch.stack([lat.ws for lat in latents]).to(device)

    start, start_step, optimizer_state = None, 0, None
    done = periodic_checkpoints(out)
    if resuming and done:
        ckpt = load_checkpoint(done[-1][1])
        start, start_step = load_generator(ckpt, key="g", device=device), int(ckpt.step or 0)
        optimizer_state = ckpt.parts.get("g_optim")
        log.info("resuming %s from step %d", out, start_step)
    if start_step >= options.steps:
        log.info("%s: already stylized for %d steps (raise --steps to continue)", out, start_step)
        return done[-1][1]
    every = ckpt_every or max(1, options.steps // 3)
    csv = CsvLog(out / "log.csv", resume_step=start_step)
    bar = tqdm(total=options.steps, initial=start_step, desc="stylizing", unit="step", disable=None if progress else True)
    began = time.perf_counter()
    last = {"path": None}

    def on_step(step: int, g: Generator, optimizer, value: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{value:.4f}")
        faults.reached("step")
        if step % 10 == 0 or step == options.steps:
            csv.write({"step": step, "loss": value, "seconds": time.perf_counter() - began})
        if step % every == 0 or step == options.steps:
            last["path"] = _save(out, step, g, optimizer, options, source, source_path, record)

    try:
        stylize_generator(source, ws, images, loss, options, start=start, start_step=start_step,
                          optimizer_state=optimizer_state, on_step=on_step)
    finally:
        bar.close()
    log.info("stylized for %d steps in %.1f s -> %s", options.steps - start_step, time.perf_counter() - began, out)
    return last["path"]


def _prepare(out: Path, resuming: bool, references: list[str], options: StylizeOptions, source_ckpt, size: int,
             lpips: torch.nn.Module | None, device: torch.device):
    """The run's options and references (its own when resuming), the images and the loss."""
    if resuming:
        stored = json.loads((out / RUN_FILE).read_text())
        # Runs written before coarse_rgb existed kept the frozen blocks' toRGB frozen.
        options = StylizeOptions(**{"coarse_rgb": False, **stored["options"], "steps": options.steps,
                                    "precision": options.precision})
        if [str(r) for r in references] != stored["reference_paths"]:
            log.warning("resuming with the run's own references (%s); ignoring the ones given",
                        ", ".join(stored["reference_paths"]))
        references = stored["reference_paths"]
    names, images = read_references(references, size)
    d = None
    if options.loss == "d-features" and source_ckpt.has("d"):
        d = load_discriminator(source_ckpt, device=device).eval()
    return options, references, names, images, StyleLoss(options.loss, d, lpips, options.preserve_color)


def _project(out: Path, names: list[str], images: torch.Tensor, source: Generator, inversion: Inversion,
             poor_psnr: float, source_path: str) -> list:
    """Each reference's latent: read from references/ when an earlier run saved it, else projected."""
    folder = out / "references"
    saved = [folder / f"{n}.pt" for n in names]
    if all(p.is_file() for p in saved):
        return [load_latent(p, source) for p in saved]
    latents, renders = inversion.project(source, images, progress=False, desc="projecting references")
    for name, latent, render in zip(names, latents, to_uint8(renders)):
        save_latent(folder / f"{name}.pt", latent, source_path, source)
        save_image(render, folder / f"{name}.png")
        psnr = latent.fidelity.get("psnr", float("nan"))
        if psnr < poor_psnr:
            log.warning("%s: poor reconstruction (PSNR %.2f dB < %g): the source generator cannot draw this "
                        "reference well, so its style is learnt from a different picture", name, psnr, poor_psnr)
        else:
            log.info("%s: reconstructed at PSNR %.2f dB", name, psnr)
    return latents


def _save(out: Path, step: int, g: Generator, optimizer, options: StylizeOptions, source: Generator,
          source_path: str, record: dict) -> Path:
    save_sample_grid(out / "samples" / step_file_name(step, ".png"), g, SAMPLE_SEEDS, source)
    spec = options.freeze_spec(g)
    meta = {"step": step, "freeze": spec.to_dict(), "source": source_path,
            "stylize": {"options": asdict(options), "references": record["references"], "poor": record["poor"]}}
    path = save_checkpoint(out / "checkpoints" / step_file_name(step), g=g, g_ema=g, g_optim=optimizer, meta=meta)
    for _, old in periodic_checkpoints(out)[:-1]:
        old.unlink(missing_ok=True)
    return path
