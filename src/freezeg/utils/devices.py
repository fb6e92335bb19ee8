"""Choosing the torch device from `--device auto|cpu|cuda|mps` (no global device assumptions)."""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then MPS, then CPU; an unavailable explicit choice is an error."""
    name = (name or "auto").lower()
    base = name.split(":")[0]
    if base not in DEVICE_CHOICES:
        raise ValueError(f"--device must be one of {', '.join(DEVICE_CHOICES)} (got {name!r})")
    mps_ok = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_ok else "cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: this PyTorch build or machine has no CUDA device (try --device cpu)")
    if base == "mps" and not mps_ok:
        raise ValueError("--device mps: Apple MPS is not available here (try --device cpu)")
    return torch.device(name)
