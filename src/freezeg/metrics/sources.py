"""Image sets to measure: a folder/zip/prepared dataset, or samples of a generator checkpoint.

Both yield batches of float images [B, 3, S, S] in [-1, 1] that hold 8-bit values: generated
images are rounded to uint8 as saving them would, so a checkpoint and a folder of its saved
samples measure the same, and real and generated images are treated alike.
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np
import torch

from ..data.dataset import ImageDataset
from ..data.images import fit_square, list_images, read_image
from ..generate.sampling import seeded_images
from ..models.networks import Generator
from ..utils.media import from_uint8, to_uint8


def folder_image_size(path: str | os.PathLike) -> int:
    """Side of the square the first image of a folder fits (its shorter side): the size to measure a folder at."""
    files = list_images(path) if os.path.isdir(path) else []
    if not files:
        raise ValueError(f"{path}: no images to take the size from (pass --size)")
    return int(min(read_image(files[0]).shape[:2]))


def dataset_batches(ds: ImageDataset, batch: int, limit: int | None = None) -> Iterator[torch.Tensor]:
    """The first `limit` (default all) images of a dataset, in order, as batches in [-1, 1]."""
    n = len(ds) if limit is None else min(limit, len(ds))
    for start in range(0, n, batch):
        yield ds.batch(np.arange(start, min(start + batch, n)))


def generator_batches(
    g: Generator,  # generator to sample (eval mode)
    seeds: list[int],  # one image per seed (freezeg.generate.sampling: same seed, same image)
    truncation: float = 1.0,  # truncation psi
    batch: int = 16,  # images per forward pass
    size: int | None = None,  # resize to this side (default: the generator's)
) -> Iterator[torch.Tensor]:
    """Seeded samples of `g`, rounded to 8 bits, as CPU batches in [-1, 1]."""
    with torch.no_grad():
        for start in range(0, len(seeds), batch):
            pixels = to_uint8(seeded_images(g, seeds[start : start + batch], truncation=truncation, batch=batch))
            if size is not None and size != pixels.shape[1]:
                pixels = np.stack([fit_square(p, size) for p in pixels])
            yield from_uint8(pixels)
