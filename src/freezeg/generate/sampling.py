"""Reproducible sampling: one seed -> one z and one set of noise maps, on any device."""

from __future__ import annotations

import torch

from ..models.networks import Generator


def seed_latent(seed: int, style_dim: int) -> torch.Tensor:
    """z for `seed`: drawn on the CPU so that a seed means the same image on every device."""
    return torch.randn(1, style_dim, generator=torch.Generator().manual_seed(seed))


def seed_noise(seed: int, g: Generator) -> list[torch.Tensor]:
    """Per-layer noise maps for `seed` (independent of the z stream)."""
    gen = torch.Generator().manual_seed(seed + 0x5EED)
    return [torch.randn(1, 1, r, r, generator=gen) for r in g.noise_resolutions()]


def seeded_images(
    g: Generator,
    seeds: list[int],
    truncation: float = 1.0,
    noise_mode: str = "random",
    batch: int = 8,
) -> torch.Tensor:
    """Images for `seeds` ([len(seeds), 3, H, W]); with noise_mode "random" the noise is seeded too."""
    device = next(g.parameters()).device
    out = []
    for start in range(0, len(seeds), batch):
        chunk = seeds[start : start + batch]
        z = torch.cat([seed_latent(s, g.style_dim) for s in chunk]).to(device)
        noise = None
        if noise_mode == "random":
            maps = [seed_noise(s, g) for s in chunk]
            noise = [torch.cat(layer).to(device) for layer in zip(*maps)]
        out.append(g(z, truncation=truncation, noise_mode=noise_mode, noise=noise).cpu())
    return torch.cat(out)
