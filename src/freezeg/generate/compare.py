"""Source vs target for the same latents: pair grids and side-by-side interpolation loops.

The latent comes from the *source* generator's mapping (and its average w for truncation),
then both synthesis networks render it with the same noise: the pseudo-translation of a
sample, without any projection.
"""

from __future__ import annotations

import numpy as np
import torch

from ..models.networks import Generator
from ..utils.media import make_grid, to_uint8
from .blend import check_compatible
from .interpolation import loop_path
from .sampling import seed_latent, seed_noise


def _device(g: Generator) -> torch.device:
    return next(g.parameters()).device


def seed_ws(source: Generator, seeds: list[int], truncation: float = 1.0) -> torch.Tensor:
    """Per-layer latents [len(seeds), num_ws, D] of `seeds` through the source mapping."""
    z = torch.cat([seed_latent(s, source.style_dim) for s in seeds]).to(_device(source))
    w = source.truncate(source.mapping(z), truncation)
    return source.broadcast(w)


@torch.no_grad()
def render_pair(source: Generator, target: Generator, ws: torch.Tensor, noise: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The same ws and noise through both generators (on one device): (source, target) images."""
    noise = [n.to(ws.device) for n in noise]
    return source.synthesis(ws, noise=noise), target.synthesis(ws, noise=noise)


@torch.no_grad()
def pair_grid(
    source: Generator,
    target: Generator,
    seeds: list[int],
    truncation: float = 1.0,
    columns: int = 8,
    batch: int = 8,
) -> np.ndarray:
    """A uint8 grid: for each chunk of `columns` seeds, a source row above a target row."""
    check_compatible(source, target)
    src_imgs, tgt_imgs = [], []
    for start in range(0, len(seeds), batch):
        chunk = seeds[start : start + batch]
        ws = seed_ws(source, chunk, truncation)
        maps = [seed_noise(s, source) for s in chunk]
        noise = [torch.cat(layer) for layer in zip(*maps)]
        s, t = render_pair(source, target, ws, noise)
        src_imgs.append(to_uint8(s))
        tgt_imgs.append(to_uint8(t))
    src, tgt = np.concatenate(src_imgs), np.concatenate(tgt_imgs)
    columns = min(columns, len(seeds))
    tiles = []
    for start in range(0, len(seeds), columns):
        row_s, row_t = src[start : start + columns], tgt[start : start + columns]
        blank = np.full_like(src[:1], 255).repeat(columns - len(row_s), 0)
        tiles += [np.concatenate([row_s, blank]), np.concatenate([row_t, blank])]
    return make_grid(np.concatenate(tiles), ncols=columns)


@torch.no_grad()
def interpolation_frames(
    source: Generator,
    target: Generator,
    keys: torch.Tensor,
    frames: int,
    space: str = "w",
    truncation: float = 1.0,
    noise_seed: int = 0,
    batch: int = 8,
    gap: int = 4,
    key_noise: list[torch.Tensor] | None = None,
) -> list[np.ndarray]:
    """Side-by-side (source | target) frames of a closed loop through key latents.

    keys: z [K, D] when space is "z" (slerp, then mapping), w [K, D] or W+ [K, num_ws, D] when
    space is "w" (lerp). The noise is fixed for the whole loop, so only the latent moves, unless
    `key_noise` gives each key its own maps (per layer [K, 1, r, r], e.g. from projections): those
    are lerped along the loop too and re-standardised per frame (a lerp of two independent maps
    has less than unit variance).
    """
    check_compatible(source, target)
    if space not in ("z", "w"):
        raise ValueError(f"space must be 'z' or 'w', got {space!r}")
    device = _device(source)
    path = loop_path(keys.to(device), frames, spherical=(space == "z"))
    noise = seed_noise(noise_seed, source)
    noise_path = None
    if key_noise is not None:
        noise_path = []
        for maps in key_noise:
            moving = loop_path(maps.to(device), frames, spherical=False)  # [frames, 1, r, r]
            mean = moving.mean(dim=[1, 2, 3], keepdim=True)
            std = moving.std(dim=[1, 2, 3], keepdim=True).clamp_min(1e-8)
            noise_path.append((moving - mean) / std)
    out = []
    for start in range(0, frames, batch):
        chunk = path[start : start + batch]
        if space == "z":
            chunk = source.truncate(source.mapping(chunk), truncation)
        ws = source.broadcast(chunk) if chunk.ndim == 2 else chunk
        if noise_path is not None:
            noise = [n[start : start + batch] for n in noise_path]
        s, t = render_pair(source, target, ws, noise)
        s, t = to_uint8(s), to_uint8(t)
        spacer = np.full((s.shape[0], s.shape[1], gap, 3), 255, np.uint8)
        out.extend(np.concatenate([s, spacer, t], axis=2))
    return out
