"""Deprecated: the old home of projection and latent files; use freezeg.inversion.

Kept as re-exports for one release (README, "Moved modules").
"""

from .inversion.latents import (  # noqa: F401
    LATENT_FORMAT,
    LATENT_VERSION,
    SPACES,
    STATS_SAMPLES,
    Latent,
    LatentStats,
    config_summary,
    latent_files,
    latent_stats,
    load_latent,
    read_torch_file,
    save_latent,
    stack_latents,
)
from .inversion.projector import BaseProjector, noise_regularization, normalize_noise_  # noqa: F401
from .inversion.recipes import project_images  # noqa: F401
from .inversion.stylegan2 import ProjectionOptions, Projector, learning_rate  # noqa: F401
