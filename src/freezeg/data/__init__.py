"""Image data: reading any common image file as RGB, datasets and preparation."""

from .dataset import ImageDataset, default_cache_dir, open_dataset, prepare_dataset

__all__ = ["ImageDataset", "open_dataset", "prepare_dataset", "default_cache_dir"]
