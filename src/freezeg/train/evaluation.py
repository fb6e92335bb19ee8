"""What a run measures and shows while it trains: g_ema's SWD to the data, and sample grids."""

from __future__ import annotations

import torch

from ..data.dataset import ImageDataset
from ..generate.compare import pair_grid
from ..generate.sampling import seeded_images
from ..metrics.realism import image_set_statistics, swd
from ..metrics.sources import generator_batches
from ..models.networks import Generator
from ..utils.media import make_grid, save_image, to_uint8


class SWDEvaluator:
    """Average SWD (x1e3, Laplacian-pyramid patches) between g_ema samples and training images.

    Offline and cheap next to FID: `images` fixed seeds against a fixed random subset of the
    data (drawn from `seed`, measured once), so scores of one run compare across steps.
    """

    def __init__(self, dataset: ImageDataset, images: int, seed: int):
        self.dataset, self.images, self.seed = dataset, images, seed
        self._real_stats = None

    @torch.no_grad()
    def __call__(self, g_ema: Generator) -> float:
        n = min(self.images, len(self.dataset))
        if self._real_stats is None:
            order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.seed))[:n]
            real = (self.dataset.batch(order[i : i + 64].numpy()) for i in range(0, n, 64))
            self._real_stats = image_set_statistics(real, seed=0, total=n, desc="SWD: training images")
        fake = image_set_statistics(generator_batches(g_ema, list(range(n)), batch=32), seed=1,
                                    total=n, desc="SWD: samples")
        return swd(self._real_stats, fake, seed=0)["avg"]


@torch.no_grad()
def save_sample_grid(path, g_ema: Generator, seeds: list[int], source: Generator | None = None) -> None:
    """The sample grid of g_ema for fixed seeds; beside the source g_ema's when fine-tuning."""
    if source is not None:
        grid = pair_grid(source, g_ema, seeds, columns=8)
    else:
        grid = make_grid(to_uint8(seeded_images(g_ema, seeds)), ncols=8)
    save_image(grid, path)
