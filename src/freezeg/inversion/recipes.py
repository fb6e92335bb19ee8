"""Projection recipes by name (`--recipe`): their options, their projector, their warm starts.

- `default`: freezeg.inversion.staged (best of several starts, W then W+ offsets, noise last).
- `stylegan2`: the 2020 StyleGAN2 projector (freezeg.inversion.stylegan2), kept so results can be compared.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Union

import torch
from torch import nn

from ..models.networks import Generator
from .latents import Latent, LatentStats, latent_stats
from .projector import BaseProjector
from .staged import StagedOptions, StagedProjector
from .stylegan2 import ProjectionOptions, Projector

RECIPES = ("default", "stylegan2")
DEFAULT_RECIPE = "default"
Options = Union[StagedOptions, ProjectionOptions]


def recipe_of(options: Options) -> str:
    """The recipe name of an options object."""
    return "stylegan2" if isinstance(options, ProjectionOptions) else "default"


def recipe_options(recipe: str = DEFAULT_RECIPE, **given: Any) -> Options:
    """Options of a recipe; `given` values of None are left at the recipe's defaults.

    Only the options a recipe has are passed on (e.g. `noise_regularize` to both, `mse` to both),
    so one CLI can build either.
    """
    if recipe not in RECIPES:
        raise ValueError(f"--recipe must be one of {', '.join(RECIPES)}, got {recipe!r}")
    cls = StagedOptions if recipe == "default" else ProjectionOptions
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in given.items() if v is not None and k in known})


def warm_options(options: Options, steps: int) -> Options:
    """Options for a start from a good latent (the previous video frame, an encoder's guess):
    `steps` steps, and nothing that would jolt the start away (no latent perturbation)."""
    if isinstance(options, ProjectionOptions):
        return dataclasses.replace(options, steps=steps, latent_noise=0.0)
    return dataclasses.replace(options, steps=steps)


def make_projector(
    generator: Generator,
    targets: torch.Tensor,  # [B, 3, size, size] in [-1, 1]
    distance: nn.Module,
    options: Options | None = None,
    stats: LatentStats | None = None,
    init: list[Latent] | None = None,  # one warm start per target
    precision: str = "fp32",  # 'bf16' or 'fp32' (resolved; freezeg.utils.precision)
) -> BaseProjector:
    """The projector of the options' recipe (default recipe when None), warm-started from `init`."""
    options = options or StagedOptions()
    init_ws = init_noise = None
    if init is not None:
        if len(init) != targets.shape[0]:
            raise ValueError(f"{len(init)} warm starts for {targets.shape[0]} targets")
        init_ws = torch.stack([lat.ws for lat in init])
        if all(lat.noise is not None for lat in init):
            init_noise = [torch.cat(maps) for maps in zip(*(lat.noise for lat in init))]
    cls = Projector if isinstance(options, ProjectionOptions) else StagedProjector
    return cls(generator, targets, distance, options, stats=stats or latent_stats(generator),
               init_ws=init_ws, init_noise=init_noise, precision=precision)


def project_images(
    generator: Generator,
    images: torch.Tensor,  # [N, 3, size, size] in [-1, 1]
    distance: nn.Module,
    options: ProjectionOptions | None = None,  # or freezeg.inversion.staged.StagedOptions (the default recipe)
    batch: int = 8,  # images optimised together
    stats: LatentStats | None = None,
    loss_name: str = "default",
    progress: bool = True,
    precision: str = "fp32",  # 'bf16' or 'fp32' (resolved; freezeg.utils.precision)
) -> tuple[list[Latent], torch.Tensor]:
    """Project N images in batches; returns their latents and reconstructions [N, 3, size, size].

    The options' type picks the recipe: ProjectionOptions (the 2020 projector, also
    when None) or the default recipe's StagedOptions."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    stats = stats or latent_stats(generator)
    options = options or ProjectionOptions()
    latents, recons = [], []
    for start in range(0, images.shape[0], batch):
        proj = make_projector(generator, images[start : start + batch], distance, options, stats, precision=precision).run(progress)
        found, rec = proj.result(loss_name)
        latents += found
        recons.append(rec)
    return latents, torch.cat(recons) if recons else images.new_zeros(0, *images.shape[1:])
