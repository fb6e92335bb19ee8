"""Layer mixing: keep a content latent's early layers, take the later ones from a style."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..interpolation import lerp
from ..media import make_grid, to_uint8
from ..networks import Generator
from ..project import Latent, stack_latents
from ..sampling import seed_latent, seed_noise
from .render import render


def layer_index(spec: str | int, g: Generator) -> int:
    """`--mix-from`: a latent index L in [0, num_ws] or a resolution "32px" (its first latent)."""
    text = str(spec).strip().lower()
    if text.endswith("px"):
        res = int(text[:-2]) if text[:-2].isdigit() else -1
        if res not in g.config.resolutions:
            raise ValueError(f"--mix-from {spec}: not a resolution of this generator ({', '.join(f'{r}px' for r in g.config.resolutions)})")
        return 0 if res == 4 else next(b.layers[0].w_index for b in g.blocks() if b.resolution == res)
    if not text.lstrip("-").isdigit():
        raise ValueError(f"--mix-from {spec!r}: give a layer index (0-{g.num_ws}) or a resolution such as 32px")
    index = int(text)
    if not 0 <= index <= g.num_ws:
        raise ValueError(f"--mix-from {index}: must be in [0, {g.num_ws}] for this {g.size}px generator")
    return index


def mix_styles(content: torch.Tensor, style: torch.Tensor, mix_from: int, strength: float = 1.0) -> torch.Tensor:
    """Keep content ws[:, :L]; from L on blend towards the style: lerp(content, style, strength).

    content [B, num_ws, D]; style [B or 1, num_ws, D]. strength 1 takes the style's latents
    outright, 0 leaves the content unchanged.
    """
    if content.ndim != 3 or style.ndim != 3 or style.shape[1:] != content.shape[1:]:
        raise ValueError(f"content and style latents must be [B, num_ws, D] alike, got {tuple(content.shape)} and {tuple(style.shape)}")
    out = content.clone()
    out[:, mix_from:] = lerp(content[:, mix_from:], style[:, mix_from:].to(content), strength)
    return out


@dataclass
class StyleMix:
    """Where the later layers' latents come from in a translation."""

    ws: torch.Tensor  # [1, num_ws, D] the style latents
    mix_from: int  # first latent index taken from the style
    strength: float = 1.0  # 1: the style's latents; 0: the content's
    label: str = ""  # what the style is, for records ("seed 5", "image x.png", ...)

    def apply(self, ws: torch.Tensor) -> torch.Tensor:
        return mix_styles(ws, self.ws.to(ws.device), self.mix_from, self.strength)

    def describe(self) -> dict[str, Any]:
        return {"style": self.label, "mix_from": self.mix_from, "mix_strength": self.strength}


@torch.no_grad()
def seed_style(g: Generator, seed: int, truncation: float = 1.0) -> Latent:
    """The latent of a seed through g's mapping (truncated), with that seed's noise maps."""
    device = next(g.parameters()).device
    w = g.truncate(g.mapping(seed_latent(seed, g.style_dim).to(device)), truncation)
    return Latent(ws=g.broadcast(w)[0].cpu(), noise=seed_noise(seed, g), space="w", meta={"seed": seed})


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
