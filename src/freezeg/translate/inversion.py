"""How a translation run inverts its inputs with the source generator."""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..media import from_uint8
from ..networks import Generator
from ..project import Latent, LatentStats, ProjectionOptions, Projector, latent_stats
from .inputs import read_target

log = logging.getLogger("freezeg")


@dataclass
class Inversion:
    """How inputs are projected into the source generator's latent space."""

    distance: nn.Module  # freezeg.distances.make_distance(...)
    loss: str = "default"  # the distance's name, for records
    options: ProjectionOptions = field(default_factory=ProjectionOptions)
    batch: int = 8  # images optimised together
    warm_steps: int | None = None  # steps for video frames after the first (default: steps // 3)
    stats: LatentStats | None = None  # the source's average w and spread (computed once, lazily)

    def __post_init__(self):
        if self.batch < 1:
            raise ValueError(f"--batch must be at least 1, got {self.batch}")
        if self.warm_steps is not None and self.warm_steps < 1:
            raise ValueError(f"--warm-steps must be at least 1, got {self.warm_steps}")

    def ensure_stats(self, g: Generator) -> LatentStats:
        if self.stats is None:
            self.stats = latent_stats(g)
        return self.stats

    def project(self, g: Generator, targets: torch.Tensor, progress: bool = True, desc: str = "projecting",
                init: Latent | None = None,
                callback: Callable[[Projector], bool | None] | None = None) -> tuple[list[Latent], torch.Tensor]:
        """Project a batch [B, 3, size, size]; with `init`, warm-start from that latent (video frames).

        `callback` is called after every step (see Projector.run); returning True stops early."""
        options, init_ws, init_noise = self.options, None, None
        if init is not None:
            steps = self.warm_steps or max(1, options.steps // 3)
            # No latent perturbation: it would jolt a warm start off the previous frame's latent.
            options = dataclasses.replace(options, steps=steps, latent_noise=0.0)
            init_ws, init_noise = init.ws[None], init.noise
        proj = Projector(g, targets, self.distance, options, stats=self.ensure_stats(g),
                         init_ws=init_ws, init_noise=init_noise)
        proj.run(progress, desc=desc, callback=callback)
        return proj.result(self.loss)


def project_style_image(source: Generator, path: str | os.PathLike, inversion: Inversion, progress: bool = True) -> Latent:
    """Project one style image with the source generator (for --style-image)."""
    image, note = read_target(path, source.size)
    if note:
        log.info("%s", note)
    latents, _ = inversion.project(source, from_uint8(image), progress, desc=f"projecting style {Path(path).name}")
    return latents[0]
