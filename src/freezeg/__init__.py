"""freezeg: StyleGAN2 transfer learning with frozen layers and pseudo image-to-image translation."""

from .models.checkpoint import load_checkpoint, load_discriminator, load_generator, save_checkpoint
from .models.freeze import FreezeSpec
from .models.networks import Discriminator, Generator, ModelConfig

__all__ = [
    "Generator",
    "Discriminator",
    "ModelConfig",
    "FreezeSpec",
    "load_generator",
    "load_discriminator",
    "load_checkpoint",
    "save_checkpoint",
]
__version__ = "0.1.0"
