"""What every projection recipe shares: a batch of targets, a latent per target, steps, results.

Several images are projected together as one batch for speed, each independently: every loss
term is computed per sample and the batch loss is their sum, so an image's gradient does not
depend on its neighbours (Adam then works element by element). A recipe subclasses
`BaseProjector`, sets up its parameters after `super().__init__`, and defines `ws()` and
`step()`; `run()` and `result()` are common. The recipes: freezeg.inversion.stylegan2 (the 2020
projector) and freezeg.inversion.staged (the default).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from ..metrics.fidelity import psnr, ssim
from ..models.networks import Generator
from ..utils.precision import autocast
from .latents import Latent, LatentStats, latent_stats


def noise_regularization(noise: list[torch.Tensor]) -> torch.Tensor:
    """Per-sample noise penalty [B]: squared mean autocorrelation of each map with its 1-pixel
    shifts in x and y, over a pyramid of 2x2-averaged scales down to 8 px."""
    loss = noise[0].new_zeros(noise[0].shape[0])
    for n in noise:  # [B, 1, r, r]
        size = n.shape[2]
        while True:
            loss = loss + (n * torch.roll(n, 1, dims=3)).mean(dim=[1, 2, 3]).square()
            loss = loss + (n * torch.roll(n, 1, dims=2)).mean(dim=[1, 2, 3]).square()
            if size <= 8:
                break
            n = n.reshape(-1, 1, size // 2, 2, size // 2, 2).mean(dim=[3, 5])
            size //= 2
    return loss


@torch.no_grad()
def normalize_noise_(noise: list[torch.Tensor]) -> None:
    """Re-standardise each sample's noise map to zero mean and unit variance, in place."""
    for n in noise:
        n.sub_(n.mean(dim=[1, 2, 3], keepdim=True)).div_(n.std(dim=[1, 2, 3], keepdim=True).clamp_min(1e-8))


class BaseProjector:
    """Projects a batch of target images; `step()` runs one optimisation step for all of them.

    Usable step by step (benchmarks, warm-started video frames) or with `run()`; `result()`
    gives the latents and reconstructions at any point. The generator is not modified and
    receives no gradients (only the latents and noise maps are differentiated).
    """

    options_type: type  # the recipe's options dataclass (its defaults when no options are given)
    params: list[torch.Tensor]  # what the optimiser trains (set by the recipe's setup)
    noise: list[torch.Tensor]  # per-layer noise maps [B, 1, r, r] (set by the recipe's setup)

    def __init__(
        self,
        generator: Generator,  # the generator to invert (its device is used throughout)
        targets: torch.Tensor,  # [B, 3, size, size] images in [-1, 1]
        distance: nn.Module,  # forward(x, y) -> [B] (freezeg.inversion.distances)
        options=None,  # the recipe's options (an `options_type`; None: its defaults)
        stats: LatentStats | None = None,  # average w and spread; computed when not given
        init_ws: torch.Tensor | None = None,  # [B, num_ws, style_dim] warm start (else the recipe's start)
        init_noise: list[torch.Tensor] | None = None,  # per-layer [B or 1, 1, r, r] warm start
        precision: str = "fp32",  # 'bf16': the optimisation steps render under bfloat16 autocast
    ):
        g = generator
        self.generator, self.distance, self.options = g, distance, options or self.options_type()
        self.device = next(g.parameters()).device
        self.precision = precision
        if targets.ndim != 4 or targets.shape[1:] != (3, g.size, g.size):
            raise ValueError(f"targets must have shape [batch, 3, {g.size}, {g.size}], got {tuple(targets.shape)}")
        self.targets = targets.to(device=self.device, dtype=torch.float32)
        self.stats = stats or latent_stats(g)
        self.step_index = 0
        self.last_distance = torch.full((self.batch,), float("nan"))
        self.setup(None if init_ws is None else self._checked_ws(init_ws), self._checked_noise(init_noise))

    def setup(self, init_ws: torch.Tensor | None, init_noise: list[torch.Tensor] | None) -> None:
        """The recipe's parameters and optimiser, from the checked warm starts (None: not given)."""
        raise NotImplementedError

    def _checked_noise(self, init_noise: list[torch.Tensor] | None) -> list[torch.Tensor] | None:
        """The warm-start noise maps expanded to the batch, checked against the generator; None when not given."""
        if init_noise is None:
            return None
        g = self.generator
        if len(init_noise) != g.num_noise:
            raise ValueError(f"init_noise must hold {g.num_noise} maps, got {len(init_noise)}")
        return [n.detach().to(self.device).expand(self.batch, 1, r, r).clone()
                for n, r in zip(init_noise, g.noise_resolutions())]

    def _checked_ws(self, init_ws: torch.Tensor) -> torch.Tensor:
        """A warm start [B, num_ws, style_dim] checked against the generator and the batch."""
        init_ws = self.generator._check_ws(init_ws.to(self.device)).float()
        if init_ws.shape[0] != self.batch:
            raise ValueError(f"init_ws has {init_ws.shape[0]} latents for {self.batch} targets")
        return init_ws

    def render(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        """What a step sees: the synthesis in the projector's precision, as float32 [B, 3, size, size].

        Only steps use it; `result()` renders in float32, so reported fidelity is exact."""
        with autocast(self.precision, self.device):
            return self.generator.synthesis(ws, noise=noise).float()

    def stored_noise(self) -> list[torch.Tensor]:
        """The generator's stored noise maps, one copy per target."""
        return [n.detach().to(self.device).expand(self.batch, -1, -1, -1).clone() for n in self.generator.stored_noise()]

    @property
    def batch(self) -> int:
        return self.targets.shape[0]

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def ws(self) -> torch.Tensor:
        """Current per-layer latents [B, num_ws, style_dim] (detached)."""
        raise NotImplementedError  # each recipe parametrises its latents its own way

    def step(self) -> torch.Tensor:
        """One optimisation step for every image; returns the per-image distance [B] before it."""
        raise NotImplementedError

    def run(self, progress: bool = True, desc: str = "projecting",
            callback: Callable[["BaseProjector"], bool | None] | None = None) -> "BaseProjector":
        """All remaining steps, with a tqdm bar showing the mean distance.

        `callback(self)` is called after every step (a progress bar elsewhere, a web page);
        when it returns True the run stops there and `result()` gives the latents found so far.
        """
        remaining = self.options.steps - self.step_index
        with tqdm(total=remaining, desc=desc, disable=None if progress else True, leave=False) as bar:
            for _ in range(remaining):
                dist = self.step()
                bar.update(1)
                if self.step_index % 10 == 0 or self.step_index == self.options.steps:
                    bar.set_postfix(distance=f"{dist.mean().item():.4f}")
                if callback is not None and callback(self):
                    break
        return self

    @torch.no_grad()
    def result(self, loss_name: str = "default") -> tuple[list[Latent], torch.Tensor]:
        """The latents found so far and their reconstructions [B, 3, size, size] (CPU)."""
        ws = self.ws()
        images = self.generator.synthesis(ws, noise=self.noise)
        dist = self.distance(images, self.targets)
        clamped = images.clamp(-1, 1)
        p, s = psnr(clamped, self.targets), ssim(clamped, self.targets)
        latents = []
        for i in range(self.batch):
            latents.append(Latent(
                ws=ws[i].float().cpu().clone(),
                noise=[n[i : i + 1].detach().float().cpu().clone() for n in self.noise],
                space=self.options.space,
                fidelity={"psnr": float(p[i]), "ssim": float(s[i]), "distance": float(dist[i]), "loss": loss_name},
                meta={"steps": self.step_index},
            ))
        return latents, images.cpu()
