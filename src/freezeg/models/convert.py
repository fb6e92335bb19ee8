"""Converting checkpoints: any format we read -> ours (rosinality's layout), or -> NVlabs state dicts.

`to_freezeg` rebuilds every network the file holds (so a broken file fails here, not later)
and saves it with its config; an NVlabs pickle's settings (conv_clamp, mapping depth,
minibatch-stddev group) travel in the `freezeg.config` metadata. `to_nvlabs` writes the
state dicts and constructor arguments that NVlabs' own Generator/Discriminator load.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from .checkpoint import (
    Checkpoint,
    CheckpointError,
    atomic_torch_save,
    build_discriminator,
    build_generator,
    save_checkpoint,
)
from .networks import ModelConfig
from .nvlabs.exporter import constructor_kwargs, nvlabs_state_dict
from .nvlabs.importer import NVLABS_STATE_DICTS

log = logging.getLogger("freezeg")

TARGETS = ("freezeg", "nvlabs")
GENERATOR_PARTS = ("g_ema", "g")


def describe_config(config: ModelConfig) -> str:
    """One line with what the config carries beyond tensor shapes."""
    group = "whole batch" if config.mbstd_group is None else config.mbstd_group
    return (
        f"{config.size}px, style {config.style_dim}, {config.n_mlp} mapping layers (lr x{config.lr_mlp:g}), "
        f"conv_clamp {'none' if config.conv_clamp is None else f'{config.conv_clamp:g}'}, "
        f"mbstd group {group} x {config.mbstd_channels}"
    )


def to_freezeg(ckpt: Checkpoint, out: str | Path) -> tuple[Path, list[str]]:
    """Save `ckpt`'s networks in our format (rosinality's keys + freezeg metadata); returns (path, parts)."""
    modules = {part: build_generator(ckpt, part) for part in GENERATOR_PARTS if ckpt.has(part)}
    if ckpt.has("d"):
        modules["d"] = build_discriminator(ckpt, "d")
    if not modules:
        raise CheckpointError(f"{ckpt.path}: holds no networks to convert")
    extra = {}
    if ckpt.parts.get("latent_avg") is not None:
        extra["latent_avg"] = ckpt.parts["latent_avg"]
    # A converted file's `source` is a dict; a training checkpoint's is the path it was fine-tuned from.
    prior = ckpt.meta.get("source")
    source = dict(prior) if isinstance(prior, dict) else {"format": ckpt.format}
    if isinstance(prior, str):
        source["fine_tuned_from"] = prior
    source["path"] = ckpt.path
    path = save_checkpoint(out, meta={"source": source}, **modules, **extra)
    return path, [*modules, *extra]


def to_nvlabs(ckpt: Checkpoint, out: str | Path) -> tuple[Path, list[str]]:
    """Write NVlabs-named state dicts (G_ema, G, D) plus G_kwargs/D_kwargs for their classes."""
    generators = {part: build_generator(ckpt, part) for part in GENERATOR_PARTS if ckpt.has(part)}
    if not generators:
        raise CheckpointError(f"{ckpt.path}: holds no generator to convert")
    d = build_discriminator(ckpt, "d") if ckpt.has("d") else None
    config = next(iter(generators.values())).config
    if d is not None:
        config = dataclasses.replace(config, mbstd_channels=d.config.mbstd_channels)
    latent_avg = ckpt.parts.get("latent_avg")
    if latent_avg is None:
        g = generators.get("g_ema") or generators["g"]
        latent_avg = g.mean_w()
        log.info("%s: no stored average w; estimated it from 10000 samples for NVlabs' mapping.w_avg", ckpt.path)
    try:
        kwargs = constructor_kwargs(config)
    except ValueError as e:
        raise CheckpointError(f"{ckpt.path}: {e}") from None
    names = {"g_ema": "G_ema", "g": "G"}
    out_dict = {names[p]: nvlabs_state_dict(config, g.state_dict(), p, latent_avg) for p, g in generators.items()}
    if d is not None:
        out_dict["D"] = nvlabs_state_dict(config, d.state_dict(), "d")
    parts = list(out_dict)
    out_dict.update(kwargs)
    out_dict["freezeg"] = {"format": NVLABS_STATE_DICTS, "config": config.to_dict(), "source": ckpt.path}
    path = Path(out)
    atomic_torch_save(out_dict, path)
    return path, parts


def convert(ckpt: Checkpoint, out: str | Path, to: str = "freezeg") -> tuple[Path, list[str]]:
    """Convert a loaded checkpoint to `to` ("freezeg" or "nvlabs") at `out`."""
    if to not in TARGETS:
        raise ValueError(f"--to must be one of {', '.join(TARGETS)}, got {to!r}")
    return to_freezeg(ckpt, out) if to == "freezeg" else to_nvlabs(ckpt, out)
