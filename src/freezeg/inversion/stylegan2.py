"""The StyleGAN2 projector of 2020 (`--recipe stylegan2`).

The optimisation is that of the StyleGAN2 projector (Karras et al. 2020, appendix D, as in
NVlabs' projector.py and rosinality's projector.py): start from the average w, Adam with a
learning rate that warms up linearly and ramps down with a cosine, Gaussian noise added to the
latent early on (its strength ramps to zero), noise maps optimised too under a penalty on their
autocorrelation at several scales and re-standardised after every step. The distance between
the rendered and the target image is pluggable (freezeg.inversion.distances).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .latents import SPACES
from .projector import BaseProjector, noise_regularization, normalize_noise_


@dataclass
class ProjectionOptions:
    """How to optimise; the defaults are those of the StyleGAN2 projector."""

    space: str = "w"  # "w": one w for all layers; "w+": one w per layer
    steps: int = 1000  # optimisation steps (0: the starting latent as it is)
    lr: float = 0.1  # peak Adam learning rate
    lr_rampup: float = 0.05  # share of the steps spent warming up linearly from 0
    lr_rampdown: float = 0.25  # share of the steps at the end spent on the cosine ramp to 0
    optimize_noise: bool = True  # optimise the per-layer noise maps too (else: the stored maps)
    noise_regularize: float = 1e5  # weight of the noise autocorrelation penalty
    latent_noise: float = 0.05  # initial latent perturbation, as a share of the spread of w
    latent_noise_ramp: float = 0.75  # share of the steps over which the perturbation fades out
    mse: float = 0.0  # weight of an extra pixel MSE term (anchors colours for perceptual distances)
    seed: int = 0  # seeds the initial noise maps and the latent perturbation

    def __post_init__(self):
        if self.space not in SPACES:
            raise ValueError(f"--space must be one of {', '.join(SPACES)}, got {self.space!r}")
        if self.steps < 0:
            raise ValueError(f"--steps must be 0 or more, got {self.steps}")
        if self.lr <= 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        for name in ("lr_rampup", "lr_rampdown", "latent_noise_ramp"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a share of the steps in [0, 1], got {getattr(self, name)}")
        if self.noise_regularize < 0 or self.latent_noise < 0 or self.mse < 0:
            raise ValueError("noise_regularize, latent_noise and mse must be >= 0")


def learning_rate(t: float, peak: float, rampup: float = 0.05, rampdown: float = 0.25) -> float:
    """The projector's schedule at progress t in [0, 1]: linear warm-up, flat, cosine ramp-down."""
    ramp = min(1.0, (1.0 - t) / rampdown) if rampdown > 0 else 1.0
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    if rampup > 0:
        ramp *= min(1.0, t / rampup)
    return peak * ramp


class Projector(BaseProjector):
    """The 2020 recipe: one latent (W: one row, W+: one per layer) and the noise maps, optimised together."""

    options_type = ProjectionOptions

    def setup(self, init_ws: torch.Tensor | None, init_noise: list[torch.Tensor] | None) -> None:
        g, options, device, batch = self.generator, self.options, self.device, self.batch
        self.rng = torch.Generator(device=device).manual_seed(options.seed)

        if init_ws is None:
            start = self.stats.mean.to(device).expand(batch, -1)  # [B, D]
        else:
            start = init_ws.mean(1) if options.space == "w" else init_ws  # W keeps the layers' average
        rows = 1 if options.space == "w" else g.num_ws
        self.latent = start.reshape(batch, -1, g.style_dim).expand(batch, rows, -1).clone().requires_grad_(True)

        if init_noise is not None:
            self.noise = init_noise
        elif options.optimize_noise:
            self.noise = [torch.randn(batch, 1, r, r, device=device, generator=self.rng) for r in g.noise_resolutions()]
        else:
            self.noise = self.stored_noise()
        params = [self.latent]
        if options.optimize_noise:
            for n in self.noise:
                n.requires_grad_(True)
            params += self.noise
        self.params = params
        self.optimizer = torch.optim.Adam(params, lr=options.lr, betas=(0.9, 0.999))

    def ws(self) -> torch.Tensor:
        """Current per-layer latents [B, num_ws, style_dim] (detached)."""
        return self.latent.detach().expand(-1, self.generator.num_ws, -1)

    def step(self) -> torch.Tensor:
        """One optimisation step for every image; returns the per-image distance [B] before it."""
        o, g = self.options, self.generator
        t = self.step_index / o.steps
        lr = learning_rate(t, o.lr, o.lr_rampup, o.lr_rampdown)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        strength = self.stats.std * o.latent_noise * max(0.0, 1.0 - t / o.latent_noise_ramp) ** 2 if o.latent_noise_ramp else 0.0
        latent = self.latent
        if strength > 0:
            latent = latent + strength * torch.randn(latent.shape, device=latent.device, generator=self.rng)
        images = self.render(latent.expand(-1, g.num_ws, -1), self.noise)
        dist = self.distance(images, self.targets)  # [B]
        loss = dist
        if o.mse > 0:
            loss = loss + o.mse * (images - self.targets).square().mean(dim=[1, 2, 3])
        if o.optimize_noise and o.noise_regularize > 0:
            loss = loss + o.noise_regularize * noise_regularization(self.noise)
        self.optimizer.zero_grad(set_to_none=True)
        # Only the latents and noise maps: the generator's weights get no gradient at all.
        loss.sum().backward(inputs=self.params)
        self.optimizer.step()
        if o.optimize_noise:
            normalize_noise_(self.noise)
        self.step_index += 1
        self.last_distance = dist.detach()
        return self.last_distance
