"""`Inversion`: how inputs are projected into a source generator (the recipe, its options, an encoder start).

The app, `translate`, `sweep`, `bench` and the harness all invert through it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..models.networks import Generator
from .encoder import Encoder
from .latents import Latent, LatentStats, latent_stats
from .projector import BaseProjector
from .recipes import Options, make_projector, recipe_of, warm_options
from .staged import StagedOptions


@dataclass
class Inversion:
    """How inputs are projected into the source generator's latent space.

    The recipe follows from the options' type (freezeg.inversion.recipes): StagedOptions (the
    default) or ProjectionOptions (the 2020 StyleGAN2 projector). With an `encoder`, every image
    starts from the encoder's guess and `options.steps` refine it (0: the guess as it is).
    """

    distance: nn.Module  # freezeg.inversion.distances.make_distance(...)
    loss: str = "default"  # the distance's name, for records
    options: Options = field(default_factory=StagedOptions)
    batch: int = 8  # images optimised together
    warm_steps: int | None = None  # steps for video frames after the first (default: steps // 3)
    stats: LatentStats | None = None  # the source's average w and spread (computed once, lazily)
    encoder: Encoder | None = None  # --init: start from this encoder's guess
    precision: str = "fp32"  # 'bf16' or 'fp32', resolved (freezeg.utils.precision.resolve_precision)

    def __post_init__(self):
        if self.batch < 1:
            raise ValueError(f"--batch must be at least 1, got {self.batch}")
        if self.warm_steps is not None and self.warm_steps < 1:
            raise ValueError(f"--warm-steps must be at least 1, got {self.warm_steps}")

    def ensure_stats(self, g: Generator) -> LatentStats:
        if self.stats is None:
            self.stats = latent_stats(g)
        return self.stats

    @property
    def recipe(self) -> str:
        return recipe_of(self.options)

    def describe(self) -> dict:
        """The settings that decide a projection, for records."""
        return {"recipe": self.recipe, "space": self.options.space, "steps": self.options.steps,
                "init": None if self.encoder is None else self.encoder.path, "precision": self.precision}

    def projector(self, g: Generator, targets: torch.Tensor, init: list[Latent] | None = None) -> BaseProjector:
        """A projector for a batch [B, 3, size, size], before its first step.

        `init` (one latent per target) warm-starts it for `warm_steps` steps (video frames);
        otherwise an encoder's guess is the start, refined for `options.steps` steps.
        """
        options = self.options
        if init is not None:
            options = warm_options(options, self.warm_steps or max(1, options.steps // 3))
        elif self.encoder is not None:
            init = self.encoder.guess(targets)
            options = warm_options(options, options.steps)
        return make_projector(g, targets, self.distance, options, self.ensure_stats(g), init, self.precision)

    def project(self, g: Generator, targets: torch.Tensor, progress: bool = True, desc: str = "projecting",
                init: Latent | None = None,
                callback: Callable[[BaseProjector], bool | None] | None = None) -> tuple[list[Latent], torch.Tensor]:
        """Project a batch [B, 3, size, size]; with `init`, warm-start from that latent (video frames).

        `callback` is called after every step (see BaseProjector.run); returning True stops early."""
        proj = self.projector(g, targets, None if init is None else [init] * targets.shape[0])
        proj.run(progress, desc=desc, callback=callback)
        latents, images = proj.result(self.loss)
        for latent in latents:
            latent.meta["recipe"] = self.recipe
            if self.encoder is not None:
                latent.meta["init"] = self.encoder.path
        return latents, images
