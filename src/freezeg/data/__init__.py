"""Image data: reading any common image file as RGB, datasets and preparation."""

from .dataset import ImageDataset, default_cache_dir, open_dataset, prepare_dataset, save_dataset
from .synthetic import DOMAINS, Scene, make_images, render, render_pairs, write_domain

__all__ = [
    "ImageDataset", "open_dataset", "prepare_dataset", "save_dataset", "default_cache_dir",
    "DOMAINS", "Scene", "render", "make_images", "render_pairs", "write_domain",
]
