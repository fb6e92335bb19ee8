"""Pivotal tuning inside a translation run (`translate --pivotal-tuning`).

Each projected image gets its shared blocks tuned around its latent (freezeg.inversion.pivotal)
and the tuning saved beside the latent (latents/NAME.pti). A rerun reuses a tuning file as long
as its latent was reused too; a freshly projected latent is always tuned afresh. Latent files
given as inputs use the tuning file beside them when there is one.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..inversion.latents import Latent
from ..inversion.pivotal import PivotalTuner, Tuning, load_tuning, save_tuning, tuning_path

log = logging.getLogger("freezeg")


class RunTuning:
    """A FolderTranslation's pivotal tuning: tune or reuse, and what the records say about it."""

    def __init__(self, tuner: PivotalTuner, source_path: str | None = None):
        self.tuner = tuner
        self.source_path = source_path

    def describe(self) -> dict[str, Any]:
        o = self.tuner.options
        return {"blocks": [f"{r}px" for r in self.tuner.shared.resolutions], "steps": o.steps, "lr": o.lr,
                "mse": o.mse, "trained_blocks": o.trained_blocks}

    def for_images(self, latent_paths: list[Path], latents: list[Latent], targets: torch.Tensor, fresh: list[bool],
                   progress: bool = True) -> list[Tuning]:
        """One tuning per image: reused from beside its latent file unless the latent is `fresh`."""
        out = []
        for i in tqdm(range(len(latents)), desc="pivotal tuning", unit="img", disable=None if progress else True):
            path = tuning_path(latent_paths[i])
            if path.exists() and not fresh[i]:
                out.append(load_tuning(path, self.tuner.source, self.tuner.shared))
                continue
            tuning, _ = self.tuner.tune(latents[i], targets[i : i + 1])
            save_tuning(path, tuning, self.tuner.source, self.source_path)
            log.info("%s: tuned %s blocks in %.1f s, PSNR %.2f -> %.2f dB", path.stem, self.tuner.shared.describe(),
                     tuning.meta.get("seconds", float("nan")), tuning.before.get("psnr", float("nan")),
                     tuning.after.get("psnr", float("nan")))
            out.append(tuning)
        return out

    def beside(self, latent_path: Path) -> Tuning | None:
        """The tuning file beside a latent file given as input, if there is one."""
        path = tuning_path(latent_path)
        return load_tuning(path, self.tuner.source, self.tuner.shared) if path.exists() else None


def tuned_record(latent: Latent, tuning: Tuning | None) -> tuple[Latent, dict[str, Any]]:
    """The latent as the records should show it (fidelity after tuning) and the record's extra fields."""
    if tuning is None or not tuning.after:
        return latent, {}
    extra = {"before_tuning": {k: tuning.before.get(k) for k in ("psnr", "ssim", "distance")},
             "tuning_seconds": tuning.meta.get("seconds")}
    return dataclasses.replace(latent, fidelity={**latent.fidelity, **tuning.after}), extra
