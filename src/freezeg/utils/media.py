"""Images in and out: tensor <-> uint8 conversion, grids, and atomic image writing."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .files import atomic_path


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] images in [-1, 1] -> uint8 array [B, H, W, 3]."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images [batch, 3, H, W], got {tuple(images.shape)}")
    x = (images.detach().float().clamp(-1, 1) + 1) * 127.5
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def make_grid(images: np.ndarray, ncols: int | None = None, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile uint8 images [B, H, W, 3] into one [rows*H, cols*W, 3] array with `pad` px gaps."""
    b, h, w, c = images.shape
    ncols = ncols or max(1, int(math.ceil(math.sqrt(b))))
    nrows = int(math.ceil(b / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), fill, dtype=np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = img
    return grid


def save_image(array: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a uint8 [H, W, 3] array atomically (temp name, then rename); format from suffix."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp)
    return path


def from_uint8(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, H, W, 3] (or one [H, W, 3]) -> float images [B, 3, H, W] in [-1, 1]."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[3] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 images [batch, H, W, 3], got {arr.dtype} {arr.shape}")
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1.0
