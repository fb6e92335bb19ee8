"""Video inputs: frames projected one by one, each warm-started from the previous frame's latent.

Every frame's latent is saved as it is found (latents/NAME/000000.pt, ...), so a video cut short
resumes at the first frame without a file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from ..inversion.latents import Latent, load_latent
from ..inversion.pipeline import Inversion
from ..models.networks import Generator
from ..utils.media import from_uint8
from .inputs import fit_to_model

log = logging.getLogger("freezeg")


def fit_frames(frames: list[np.ndarray], size: int, name: str) -> tuple[np.ndarray, str | None]:
    """uint8 [T, size, size, 3] frames and one note for the whole video when they had to be fitted."""
    fitted, note = [], None
    for frame in frames:
        image, note = fit_to_model(frame, size, name)
        fitted.append(image)
    if note:
        note = note.replace(name, f"{name} (every frame)")
        log.info("%s", note)
    return np.stack(fitted), note


def project_frames(
    source: Generator,
    frames: np.ndarray,  # uint8 [T, size, size, 3]
    inversion: Inversion,
    frame_dir: Path,  # per-frame latent files
    save: Callable[[Path, Latent], None],  # writes one frame's latent file
    overwrite: bool = False,  # re-project frames whose latent files exist
    progress: bool = True,
    desc: str = "frames",
) -> list[Latent]:
    """One latent per frame; saved frames are reused unless `overwrite`."""
    targets = from_uint8(frames)  # [T, 3, size, size]
    latents: list[Latent] = []
    previous = None
    for t in tqdm(range(len(frames)), desc=desc, unit="frame", disable=None if progress else True):
        saved = frame_dir / f"{t:06d}.pt"
        if saved.exists() and not overwrite:
            latent = load_latent(saved, source)
        else:
            # Each frame starts from the previous frame's latent and noise: steadier than fresh starts.
            found, _ = inversion.project(source, targets[t : t + 1], False, init=previous)
            latent = found[0]
            latent.meta["frame"] = t
            save(saved, latent)
        latents.append(latent)
        previous = latent
    return latents


def mean_fidelity(latents: list[Latent]) -> Latent:
    """A stand-in latent for a video's record: the first frame's latent with the frames' mean fidelity."""
    fid = {k: float(np.mean([lat.fidelity.get(k, float("nan")) for lat in latents])) for k in ("psnr", "ssim", "distance")}
    return Latent(ws=latents[0].ws, noise=None, space=latents[0].space,
                  fidelity={**fid, "loss": latents[0].fidelity.get("loss")}, meta={"steps": latents[0].meta.get("steps")})
