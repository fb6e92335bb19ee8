"""StyleGAN2 losses and regularisers (Karras et al. 2020, section 4 and appendix B), and the loss
object the loop drives one phase at a time.

As in NVlabs' StyleGAN2-ADA (`StyleGAN2Loss.accumulate_gradients(phase, ...)`), the loss owns
everything a phase computes: sampling fakes (with style mixing), augmenting what D sees, the
penalties and their running statistics. The loop only decides which phases run, steps the
optimisers and keeps the books, so a new way to fine-tune is a new loss class, not a branch.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, ContextManager

import torch
import torch.nn.functional as F

from ..models.networks import Discriminator, Generator
from . import distributed as ddp
from .augment import AdaptiveAugment
from .options import TrainOptions


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator's logistic loss: softplus(-D(real)) + softplus(D(fake)), averaged."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator's non-saturating loss: softplus(-D(G(z))), averaged."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1: mean over samples of ||d sum(D(x)) / dx||^2 (real_images must require grad)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.square().reshape(grad.shape[0], -1).sum(1).mean()


def path_length_penalty(
    images: torch.Tensor,  # [B, 3, H, W] generated from ws
    ws: torch.Tensor,  # [B, num_ws, style_dim] broadcast latents (part of the graph)
    mean_path_length: torch.Tensor | float,  # running mean a
    decay: float = 0.01,
    pl_noise: torch.Tensor | None = None,  # default: randn_like(images) / sqrt(H W)
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Path-length regulariser. Returns (penalty, updated running mean (detached), lengths).

    lengths = sqrt(mean over layers of sum over style dims of J^T y squared), y ~ N(0, I)/sqrt(HW);
    mean' = a + decay (mean(lengths) - a); penalty = mean((lengths - mean')^2).
    """
    if pl_noise is None:
        pl_noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
    (grad,) = torch.autograd.grad((images * pl_noise).sum(), ws, create_graph=True)
    lengths = grad.square().sum(2).mean(1).sqrt()
    mean_path_length = torch.as_tensor(mean_path_length, dtype=lengths.dtype, device=lengths.device)
    new_mean = mean_path_length + decay * (lengths.mean() - mean_path_length)
    penalty = (lengths - new_mean).square().mean()
    return penalty, new_mean.detach(), lengths


PHASES = ("Dmain", "Dreg", "Gmain", "Greg")  # in the order of one iteration
D_PHASES = ("Dmain", "Dreg")


@dataclass
class PhaseResult:
    """What one phase leaves for the loop once its gradients are accumulated."""

    loss: torch.Tensor  # the scalar that was differentiated (checked for finiteness with the gradients)
    logs: dict[str, torch.Tensor] = field(default_factory=dict)  # values for the interval averages
    commit: Callable[[], None] | None = None  # bookkeeping that only an applied update may do


class StyleGAN2Loss:
    """The StyleGAN2 objective in four phases: D's logistic loss, lazy R1, G's non-saturating loss,
    lazy path-length regularisation (rosinality's train.py; Karras et al. 2020)."""

    def __init__(
        self,
        g: Generator,  # the generator being trained
        d: Discriminator,  # the discriminator being trained
        options: TrainOptions,  # mixing, r1_gamma, path_* settings and the lazy intervals
        augment: AdaptiveAugment | None,  # applied to everything D sees (None: no augmentation)
        d_params: list[torch.nn.Parameter],  # D's trainable tensors (they stop asking for gradients in G phases)
        info: ddp.ProcessInfo,  # averages the path-length mean over processes
        autocast: Callable[[], ContextManager] = contextlib.nullcontext,  # precision context of the networks
    ):
        self.g, self.d, self.options, self.augment = g, d, options, augment
        self.d_params, self.info, self.autocast = d_params, info, autocast
        self.device = next(g.parameters()).device
        self.mean_path_length = 0.0  # running mean a of the path-length penalty (checkpointed)

    # ------------------------------------------------------------------ sampling
    def latents(self, batch: int) -> tuple[torch.Tensor, torch.Tensor | None, int | None]:
        """z, an optional second z for style mixing and its injection index (rosinality's mixing_noise)."""
        dim = self.g.style_dim
        z = torch.randn(batch, dim, device=self.device)
        if self.options.mixing > 0 and float(torch.rand(())) < self.options.mixing:
            index = int(torch.randint(1, self.g.num_ws, ()))
            return z, torch.randn(batch, dim, device=self.device), index
        return z, None, None

    def fake(self, batch: int, keep_ws: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated images [B, 3, H, W] and the broadcast latents they came from."""
        z, z2, index = self.latents(batch)
        w = self.g.mapping(z)
        w2 = None if z2 is None else self.g.mapping(z2)
        ws = self.g.broadcast(w, w2, index)
        if keep_ws and not ws.requires_grad:
            ws = ws.detach().requires_grad_(True)  # a frozen mapping: the path length still needs d img / d ws
        return self.g.synthesis(ws, noise_mode="random"), ws

    def _aug(self, images: torch.Tensor) -> torch.Tensor:
        return self.augment(images) if self.augment is not None else images

    @contextlib.contextmanager
    def _d_frozen(self):
        """D's trainable tensors stop asking for gradients during G's phases (they only pass them)."""
        for p in self.d_params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in self.d_params:
                p.requires_grad_(True)

    # ------------------------------------------------------------------ phases
    def accumulate_gradients(self, phase: str, real: torch.Tensor) -> PhaseResult:
        """Run `phase` on this iteration's real batch [B, 3, H, W] and backpropagate its loss."""
        if phase not in PHASES:
            raise ValueError(f"unknown training phase {phase!r} (known: {', '.join(PHASES)})")
        result = getattr(self, "_" + phase.lower())(real)
        result.loss.backward()
        return result

    def _dmain(self, real: torch.Tensor) -> PhaseResult:
        with torch.no_grad(), self.autocast():
            fake, _ = self.fake(real.shape[0])
        with self.autocast():
            fake_logits = self.d(self._aug(fake)).float()
            real_logits = self.d(self._aug(real)).float()
        loss = d_logistic_loss(real_logits, fake_logits)
        commit = None if self.augment is None else (lambda: self.augment.update(real_logits))
        logs = {"d_loss": loss.detach(), "real_score": real_logits.detach().mean(),
                "fake_score": fake_logits.detach().mean()}
        return PhaseResult(loss, logs, commit)

    def _dreg(self, real: torch.Tensor) -> PhaseResult:
        real = real.detach().requires_grad_(True)
        with self.autocast():
            logits = self.d(self._aug(real)).float()
        r1 = r1_penalty(logits, real)
        loss = self.options.r1_gamma / 2 * r1 * self.options.d_reg_every
        return PhaseResult(loss, {"r1": r1.detach()})

    def _gmain(self, real: torch.Tensor) -> PhaseResult:
        with self._d_frozen(), self.autocast():
            fake, _ = self.fake(real.shape[0])
            logits = self.d(self._aug(fake)).float()
        loss = g_nonsaturating_loss(logits)
        return PhaseResult(loss, {"g_loss": loss.detach()})

    def _greg(self, real: torch.Tensor) -> PhaseResult:
        o = self.options
        with self.autocast():
            img, ws = self.fake(max(1, real.shape[0] // o.path_batch_shrink), keep_ws=True)
        penalty, new_mean, lengths = path_length_penalty(img.float(), ws, self.mean_path_length, o.path_decay)
        loss = o.path_weight * o.g_reg_every * penalty

        def commit():
            self.mean_path_length = float(ddp.mean_scalar(new_mean, self.info))

        return PhaseResult(loss, {"path": penalty.detach(), "path_length": lengths.detach().mean()}, commit)

    def due(self, step: int) -> list[str]:
        """The phases of iteration `step`: the main ones always, the lazy regularisers on their interval."""
        o = self.options
        phases = ["Dmain"]
        if o.d_reg_every and step % o.d_reg_every == 0 and o.r1_gamma > 0:
            phases.append("Dreg")
        phases.append("Gmain")
        if o.g_reg_every and step % o.g_reg_every == 0 and o.path_weight > 0:
            phases.append("Greg")
        return phases
