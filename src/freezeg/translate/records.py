"""An output folder's layout and its record file (fidelity.json), which makes runs resumable.

    latents/NAME.pt            the projection (freezeg latent file; per-frame files for videos)
    reconstructions/NAME.png   the source generator's rendering of that latent
    translated/NAME.png        the target generator's rendering (translate only)
    panels/NAME.png            source | reconstruction | translation (translate only)
    aligned/PHOTO_faceK.png    with --align faces: the FFHQ crop that was projected
    pasted/PHOTO.jpg           with --paste-back: the photo with its translated faces blended in
    fidelity.json              one record per input (PSNR, SSIM, distance, notes), the run's
                               settings and the skipped inputs
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..inversion.latents import Latent
from ..utils.files import write_text
from .inputs import InputItem

log = logging.getLogger("freezeg")

LATENTS, RECONSTRUCTIONS, TRANSLATED, PANELS = "latents", "reconstructions", "translated", "panels"
FIDELITY_FILE = "fidelity.json"
DEFAULT_POOR_PSNR = 20.0  # dB; below this an inversion is flagged as poor


@dataclass
class OutputLayout:
    """Where an input's outputs go, and which of them mark it as finished."""

    out_dir: Path
    translating: bool  # a target generator renders translations (else: projection only)

    def path(self, folder: str, name: str, suffix: str = ".png") -> Path:
        return self.out_dir / folder / f"{name}{suffix}"

    def required(self, item: InputItem) -> list[Path]:
        """The files whose presence means `item` was processed completely (all are written last)."""
        suffix = item.path.suffix.lower() if item.kind == "video" else ".png"
        if self.translating:
            return [self.path(TRANSLATED, item.name, suffix), self.path(PANELS, item.name, suffix)]
        if item.kind == "video":
            return [self.path(RECONSTRUCTIONS, item.name, suffix)]
        return [self.path(LATENTS, item.name, ".pt"), self.path(RECONSTRUCTIONS, item.name)]

    def finished(self, item: InputItem) -> bool:
        return all(p.exists() for p in self.required(item))


def read_records(out_dir: Path) -> dict[str, Any]:
    """fidelity.json of an output folder ({} when there is none yet)."""
    path = Path(out_dir) / FIDELITY_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the records of an earlier run ({e}); move it away or use another --out") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a freezeg record file; move it away or use another --out")
    return data


def describe_setting(setting: Any) -> str:
    """A recorded setting (target path, style dict) in words for error messages."""
    if setting is None:
        return "none"
    if isinstance(setting, dict):
        return "(" + ", ".join(f"{k} {v}" for k, v in setting.items()) + ")"
    return repr(setting)


class RunRecords:
    """The records of one output folder: earlier runs' entries plus this run's, saved after every batch."""

    def __init__(self, out_dir: Path, poor_psnr: float = DEFAULT_POOR_PSNR):
        self.out_dir = Path(out_dir)
        self.poor_psnr = poor_psnr
        self.before = read_records(self.out_dir)
        self.entries: dict[str, Any] = dict(self.before.get("inputs") or {})

    @property
    def previous_settings(self) -> dict[str, Any]:
        return self.before.get("settings") or {}

    def made_from(self, name: str) -> str | None:
        """The input path an earlier run made the outputs called `name` from."""
        return (self.entries.get(name) or {}).get("input")

    def add(self, item: InputItem, latent: Latent, outputs: dict, note: str | None = None, extra: dict | None = None) -> None:
        """Record one processed input and log its fidelity line."""
        f = latent.fidelity
        self.entries[item.name] = {
            "input": str(item.path),
            "kind": item.kind,
            "psnr": f.get("psnr"),
            "ssim": f.get("ssim"),
            "distance": f.get("distance"),
            "loss": f.get("loss"),
            "space": latent.space,
            "steps": latent.meta.get("steps"),
            "note": note,
            "outputs": outputs,
            **(extra or {}),
        }
        if isinstance(f.get("psnr"), (int, float)):
            flag = "  << poor inversion" if f["psnr"] < self.poor_psnr else ""
            log.info("%s: PSNR %.2f dB, SSIM %.3f, %s distance %.4f%s", item.name, f["psnr"], f.get("ssim", float("nan")),
                     f.get("loss"), f.get("distance", float("nan")), flag)

    def save(self, settings: dict[str, Any], skipped: list[tuple[str, str]]) -> None:
        data = {
            # A projection-only run into a translation folder keeps the translations' settings.
            "settings": {**self.previous_settings, **settings},
            "poor_psnr": self.poor_psnr,
            "inputs": self.entries,
            "skipped": [{"path": p, "reason": r} for p, r in skipped],
        }
        psnrs = [e["psnr"] for e in self.entries.values() if isinstance(e.get("psnr"), (int, float))]
        if psnrs:
            data["mean_psnr"] = float(np.mean(psnrs))
        write_text(self.out_dir / FIDELITY_FILE, json.dumps(data, indent=1))

    def is_poor(self, entry: dict) -> bool:
        p = entry.get("psnr")
        return isinstance(p, (int, float)) and p < self.poor_psnr

    def poor_names(self) -> list[str]:
        return [name for name, e in self.entries.items() if self.is_poor(e)]

    def mean(self, key: str) -> float | None:
        """Mean of a fidelity figure ("psnr", "ssim") over every record in the folder."""
        values = [e[key] for e in self.entries.values() if isinstance(e.get(key), (int, float))]
        return float(np.mean(values)) if values else None


@dataclass
class RunReport:
    """What a folder run did."""

    out_dir: Path
    done: list[str] = field(default_factory=list)  # names processed in this run
    finished_before: list[str] = field(default_factory=list)  # names skipped as already finished
    reused_latents: list[str] = field(default_factory=list)  # names whose saved latent was reused
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    poor: list[str] = field(default_factory=list)  # names flagged as poor inversions (whole folder)
    summary: Path | None = None
    pasted: list[Path] = field(default_factory=list)  # photos written with their translated faces pasted back
    mean_psnr: float | None = None  # over every record in the folder
    mean_ssim: float | None = None
