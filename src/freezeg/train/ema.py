"""Exponential moving average of the generator's weights (g_ema), with a half-life in images.

NVlabs StyleGAN2-ADA: after each G step, g_ema <- beta * g_ema + (1 - beta) * g with
beta = 0.5 ** (batch / half_life_images); with ramp-up, the half-life is at most
`rampup` times the images seen so far, so early g_ema follows g quickly.

Only trainable tensors are averaged. Frozen ones are never touched, so they stay
bit-identical to the g_ema the run started from (the original FreezeG averages every
tensor, which drags g_ema's frozen layers toward g's copies of them).
"""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch: int, images_seen: int, half_life_kimg: float, rampup: float | None = None) -> float:
    """The decay for one step of `batch` images after `images_seen` images (0 disables averaging)."""
    half_life = half_life_kimg * 1000.0
    if rampup is not None:
        half_life = min(half_life, images_seen * rampup)
    if half_life <= 0:
        return 0.0
    return 0.5 ** (batch / half_life)


class GeneratorEMA:
    """Pairs each trainable tensor of `g` with the tensor of the same name in `g_ema`."""

    def __init__(self, g: nn.Module, g_ema: nn.Module):
        ema_params = dict(g_ema.named_parameters())
        self.pairs = [(ema_params[name], p) for name, p in g.named_parameters() if p.requires_grad]
        for p_ema, _ in self.pairs:
            p_ema.requires_grad_(False)

    @torch.no_grad()
    def update(self, beta: float) -> None:
        """g_ema <- beta * g_ema + (1 - beta) * g, for the trainable tensors only."""
        if not self.pairs:
            return
        ema, live = zip(*self.pairs)
        torch._foreach_lerp_(list(ema), list(live), 1.0 - beta)
