"""Rendering latents to images, side-by-side panels, and the flicker figure of frame sequences."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ..media import make_grid, to_uint8
from ..networks import Generator
from ..project import Latent, stack_latents

if TYPE_CHECKING:
    from ..inversion.pivotal import Tuning
    from .style import StyleMix

RENDER_BATCH = 8  # images per synthesis call when only rendering


@torch.no_grad()
def render(g: Generator, latents: list[Latent], style: StyleMix | None = None, batch: int = RENDER_BATCH,
           tunings: list[Tuning | None] | None = None) -> np.ndarray:
    """uint8 [N, size, size, 3] renderings of latents by g (layer-mixed with `style` if given).

    `tunings`: per latent, pivotally tuned shared blocks to render it with (None: g as it is).
    """
    if tunings is not None and any(t is not None for t in tunings):
        out = []
        for latent, tuning in zip(latents, tunings):
            if tuning is None:
                out.append(render(g, [latent], style))
            else:
                with tuning.applied(g):
                    out.append(render(g, [latent], style))
        return np.concatenate(out)
    out = []
    for start in range(0, len(latents), batch):
        ws, noise = stack_latents(latents[start : start + batch], g)
        if style is not None:
            ws = style.apply(ws)
        out.append(to_uint8(g.synthesis(ws, noise=noise)))
    return np.concatenate(out) if out else np.zeros((0, g.size, g.size, 3), np.uint8)


def panel(tiles: list[np.ndarray]) -> np.ndarray:
    """Images side by side (source | reconstruction | translation) with white gaps."""
    return make_grid(np.stack(tiles), ncols=len(tiles))


def flicker(frames: np.ndarray | list[np.ndarray]) -> float:
    """Mean absolute change between consecutive frames, in 0-255 units (0 for a still)."""
    arr = np.asarray(frames, dtype=np.float32)
    if len(arr) < 2:
        return 0.0
    return float(np.abs(np.diff(arr, axis=0)).mean())
