"""Latent paths for animations: closed loops through key latents (slerp in z, lerp in w)."""

from __future__ import annotations

import torch


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation along the last dimension (Gaussian z keeps its typical norm)."""
    a_n = a / a.norm(dim=-1, keepdim=True)
    b_n = b / b.norm(dim=-1, keepdim=True)
    cos = (a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7)
    omega = torch.arccos(cos)
    t = torch.as_tensor(t, dtype=a.dtype)
    so = torch.sin(omega)
    # Nearly parallel vectors: fall back to lerp (the sin ratio is 0/0 there).
    near = so.abs() < 1e-6
    wa = torch.where(near, 1 - t, torch.sin((1 - t) * omega) / so)
    wb = torch.where(near, t, torch.sin(t * omega) / so)
    return wa * a + wb * b


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    return a + (b - a) * t


def loop_path(keys: torch.Tensor, frames: int, spherical: bool) -> torch.Tensor:
    """`frames` points on the closed path keys[0] -> keys[1] -> ... -> keys[-1] -> keys[0].

    keys: [K, ...]; returns [frames, ...]. The speed is uniform per segment and the last
    frame leads back into the first, so the animation loops without a repeated frame.
    """
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    k = keys.shape[0]
    if k < 1:
        raise ValueError("need at least one key latent")
    if k == 1:
        return keys[:1].expand(frames, *keys.shape[1:]).clone()
    out = []
    for i in range(frames):
        pos = i * k / frames  # position along the loop in segments
        seg = int(pos)
        t = pos - seg
        a, b = keys[seg], keys[(seg + 1) % k]
        out.append(slerp(a, b, t) if spherical else lerp(a, b, t))
    return torch.stack(out)
