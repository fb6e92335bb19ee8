"""Layer mixing: keep a content latent's early layers, take the later ones from a style."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..generate.interpolation import lerp
from ..generate.sampling import seed_latent, seed_noise
from ..inversion.latents import Latent
from ..inversion.pipeline import Inversion
from ..models.networks import Generator
from ..utils.media import from_uint8
from .inputs import read_target

log = logging.getLogger("freezeg")


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


def project_style_image(source: Generator, path: str | os.PathLike, inversion: Inversion, progress: bool = True) -> Latent:
    """Project one style image with the source generator (for --style-image)."""
    image, note = read_target(path, source.size)
    if note:
        log.info("%s", note)
    latents, _ = inversion.project(source, from_uint8(image), progress, desc=f"projecting style {Path(path).name}")
    return latents[0]
