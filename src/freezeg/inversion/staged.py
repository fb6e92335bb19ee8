"""The default projector: the best of several starts, W first, then W+ offsets, noise maps last.

The StyleGAN2 projector (freezeg.inversion.stylegan2, `--recipe stylegan2`) starts every image at the
average w, perturbs the latent early on and optimises latent and noise maps together from the
first step. On real images of the training domain it converges slowly and often into poor
local optima. This recipe, measured with `freezeg bench-inversion`, instead:

1. starts from the best of `starts` candidates per image (the average w and truncated samples
   of the mapping network), chosen by the distance of their renderings (one forward each);
2. optimises one w per image for the first `w_share` of the steps, where the problem is small
   and well posed;
3. then opens per-layer offsets from that w (W+ as "w + offset", as e4e does, Tov et al. 2021),
   with a penalty on the offsets that keeps the latents near the region the generator (and a
   generator fine-tuned from it) was trained on;
4. optimises the noise maps only in the last `noise_share` of the steps, under the noise
   autocorrelation penalty, so they add detail instead of absorbing the image early;
5. adds a pixel MSE term that grows over the run (structure first, exact pixels last).

Like `Projector`, every term is per image, so images projected together stay independent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..models.networks import Generator
from .latents import SPACES, LatentStats
from .projector import BaseProjector, noise_regularization, normalize_noise_

START_SEED = 12345  # the candidate starts' random stream (fixed: results do not depend on --seed's noise)


@dataclass
class StagedOptions:
    """How the default recipe optimises (`--recipe default`)."""

    space: str = "w+"  # "w": one w for all layers; "w+": w plus per-layer offsets
    steps: int = 300  # optimisation steps (0: the chosen start, or the warm start, as it is)
    lr: float = 0.1  # peak Adam learning rate of the latent
    noise_lr: float = 0.05  # peak Adam learning rate of the noise maps
    lr_rampup: float = 0.02  # share of the steps spent warming up linearly from 0
    lr_rampdown: float = 0.3  # share of the steps at the end spent on the cosine ramp to 0
    starts: int = 16  # candidate starts per image: the average w and truncated mapping samples
    start_truncation: float = 0.7  # truncation of the sampled candidates
    w_share: float = 0.1  # share of the steps optimising one w before the per-layer offsets open
    noise_share: float = 0.5  # last share of the steps that optimises the noise maps
    offset_penalty: float = 1e-3  # weight of the mean squared W+ offset (in units of w's per-coordinate variance)
    free_layers: int | None = None  # only ws[:, :free_layers] get offsets (None: all layers)
    mse: float = 20.0  # final weight of the pixel MSE term; it grows linearly from 0 over the run
    optimize_noise: bool = True  # optimise the noise maps in the last phase (else: the stored maps)
    noise_regularize: float = 1e5  # weight of the noise autocorrelation penalty
    seed: int = 0  # kept for interface parity with ProjectionOptions (the recipe draws no random noise)

    def __post_init__(self):
        if self.space not in SPACES:
            raise ValueError(f"--space must be one of {', '.join(SPACES)}, got {self.space!r}")
        if self.steps < 0:
            raise ValueError(f"--steps must be 0 or more, got {self.steps}")
        if self.lr <= 0 or self.noise_lr <= 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        if self.starts < 1:
            raise ValueError(f"starts must be at least 1, got {self.starts}")
        for name in ("lr_rampup", "lr_rampdown", "w_share", "noise_share", "start_truncation"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.free_layers is not None and self.free_layers < 0:
            raise ValueError(f"free_layers must be >= 0, got {self.free_layers}")
        if self.offset_penalty < 0 or self.mse < 0 or self.noise_regularize < 0:
            raise ValueError("offset_penalty, mse and noise_regularize must be >= 0")


def staged_learning_rate(t: float, rampup: float, rampdown: float) -> float:
    """Share of the peak learning rate at progress t in [0, 1]: linear warm-up, flat, cosine to 0."""
    ramp = 1.0
    if rampdown > 0 and t > 1 - rampdown:
        ramp = 0.5 + 0.5 * math.cos(math.pi * (t - (1 - rampdown)) / rampdown)
    if rampup > 0:
        ramp *= min(1.0, t / rampup)
    return ramp


@torch.no_grad()
def best_starts(g: Generator, targets: torch.Tensor, distance: nn.Module, stats: LatentStats, count: int,
                truncation: float, noise: list[torch.Tensor]) -> torch.Tensor:
    """Per image, the candidate w [B, 1, D] whose rendering is nearest: the average w and
    `count - 1` mapped samples truncated towards it (the same candidates for every image)."""
    device = targets.device
    mean = stats.mean.to(device)
    candidates = [mean]
    if count > 1:
        z = torch.randn(count - 1, g.style_dim, generator=torch.Generator().manual_seed(START_SEED)).to(device)
        candidates.append(mean + truncation * (g.mapping(z) - mean))
    candidates = torch.cat(candidates)  # [K, D]
    batch = targets.shape[0]
    scores = []
    for w in candidates:
        images = g.synthesis(w.expand(batch, 1, -1).expand(batch, g.num_ws, -1), noise=noise)
        scores.append(distance(images, targets))
    best = torch.stack(scores).argmin(0)  # [B]
    return candidates[best][:, None, :].clone()


class StagedProjector(BaseProjector):
    """The default recipe with the `Projector` interface: step(), run(), result(), ws(), noise."""

    options_type = StagedOptions

    def setup(self, init_ws: torch.Tensor | None, init_noise: list[torch.Tensor] | None) -> None:
        g, o, device, batch = self.generator, self.options, self.device, self.batch
        # Per-coordinate variance of w: the unit of the offset penalty.
        self.w_variance = self.stats.std**2 / g.style_dim
        self.noise = init_noise if init_noise is not None else self.stored_noise()

        if init_ws is None:
            w = best_starts(g, self.targets, self.distance, self.stats, o.starts, o.start_truncation, self.noise)
            offsets = torch.zeros(batch, g.num_ws, g.style_dim, device=device)
        else:
            w = init_ws.mean(1, keepdim=True)
            offsets = init_ws - w
        if o.space == "w":
            offsets = torch.zeros_like(offsets)
        # Layers without offsets read the shared w alone.
        self.offset_mask = torch.ones(1, g.num_ws, 1, device=device)
        if o.free_layers is not None:
            self.offset_mask[:, o.free_layers:] = 0
        offsets = offsets * self.offset_mask
        self.w = w.clone().requires_grad_(True)  # [B, 1, D]
        self.offsets = offsets.clone().requires_grad_(True)  # [B, num_ws, D]
        for n in self.noise:
            n.requires_grad_(True)
        self.params = [self.w, self.offsets, *self.noise]
        self.optimizer = torch.optim.Adam([
            {"params": [self.w], "lr": o.lr},
            {"params": [self.offsets], "lr": o.lr},
            {"params": self.noise, "lr": o.noise_lr},
        ], betas=(0.9, 0.999))
        self.peaks = [o.lr, o.lr, o.noise_lr]
        self.warm = init_ws is not None  # a warm start skips the W-only phase

    def ws(self) -> torch.Tensor:
        """Current per-layer latents [B, num_ws, style_dim] (detached)."""
        return (self.w + self.offsets * self.offset_mask).detach()

    def phase(self) -> tuple[bool, bool]:
        """(offsets train, noise maps train) at the current step."""
        o = self.options
        t = self.step_index / max(o.steps, 1)
        offsets = o.space == "w+" and (self.warm or t >= o.w_share)
        noise = o.optimize_noise and t >= 1 - o.noise_share
        return offsets, noise

    def step(self) -> torch.Tensor:
        """One optimisation step for every image; returns the per-image distance [B] before it."""
        o = self.options
        t = self.step_index / max(o.steps, 1)
        train_offsets, train_noise = self.phase()
        ramp = staged_learning_rate(t, o.lr_rampup, o.lr_rampdown)
        for group, peak in zip(self.optimizer.param_groups, self.peaks):
            group["lr"] = peak * ramp
        ws = self.w + self.offsets * self.offset_mask  # [B, num_ws, D]
        images = self.render(ws, self.noise)
        dist = self.distance(images, self.targets)  # [B]
        loss = dist
        if o.mse > 0:
            loss = loss + o.mse * t * (images - self.targets).square().mean(dim=[1, 2, 3])
        inputs = [self.w]
        if train_offsets:
            inputs.append(self.offsets)
            if o.offset_penalty > 0:
                loss = loss + o.offset_penalty * (self.offsets * self.offset_mask).square().mean(dim=[1, 2]) / self.w_variance
        if train_noise:
            inputs += self.noise
            if o.noise_regularize > 0:
                loss = loss + o.noise_regularize * noise_regularization(self.noise)
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward(inputs=inputs)  # the generator's weights get no gradient
        self.optimizer.step()
        if train_noise:
            normalize_noise_(self.noise)
        self.step_index += 1
        self.last_distance = dist.detach()
        return self.last_distance
