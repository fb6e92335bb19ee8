"""Rendering latents to images, side-by-side panels, and the flicker figure of frame sequences."""

from __future__ import annotations

import numpy as np
import torch

from ..inversion.latents import Latent, stack_latents
from ..inversion.pivotal import Tuning
from ..models.networks import Generator
from ..utils.media import make_grid, to_uint8
from .style import StyleMix, mix_styles

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


@torch.no_grad()
def mix_grid(g: Generator, contents: list[Latent], styles: list[Latent], mix_from: int, strength: float = 1.0) -> np.ndarray:
    """A uint8 grid: top row the styles, left column the contents, each cell content rows
    ws[:, :L] with the style's ws[:, L:] (blended by `strength`), rendered by g with the content's noise."""
    if not contents or not styles:
        raise ValueError("a mixing grid needs at least one content and one style")
    style_images = render(g, styles)
    content_images = render(g, contents)
    style_ws = torch.stack([style.ws for style in styles])  # [C, num_ws, D]
    tiles = [np.full((g.size, g.size, 3), 255, np.uint8), *style_images]
    for r, content in enumerate(contents):
        ws, noise = stack_latents([content] * len(styles), g)  # the content's noise in every cell
        ws = mix_styles(ws, style_ws.to(ws.device), mix_from, strength)
        tiles += [content_images[r], *to_uint8(g.synthesis(ws, noise=noise))]
    return make_grid(np.stack(tiles), ncols=len(styles) + 1)
