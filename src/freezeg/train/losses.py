"""StyleGAN2 losses and regularisers (Karras et al. 2020, section 4 and appendix B)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


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
