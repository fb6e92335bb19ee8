"""Our networks -> NVlabs state dicts and constructor arguments (`freezeg convert --to nvlabs`).

The output loads into NVlabs' own classes with `load_state_dict` (strict):

    G = training.networks.Generator(**f["G_kwargs"]); G.load_state_dict(f["G_ema"])
    D = training.networks.Discriminator(**f["D_kwargs"]); D.load_state_dict(f["D"])

(the stylegan3 repository's `networks_stylegan2.Generator` takes the synthesis arguments as
plain keywords: `Generator(**f["G_kwargs_stylegan3"])`).
"""

from __future__ import annotations

from typing import Any

import torch

from ..networks import ModelConfig
from .names import LATENT_AVG, discriminator_table, generator_table, to_nvlabs

OUR_PARTS = {"g_ema": "G_ema", "g": "G", "d": "D"}


def channel_base_max(config: ModelConfig) -> tuple[int, int]:
    """NVlabs' (channel_base, channel_max) giving this channel table: min(base // res, max) per resolution."""
    table = config.channel_table()
    cmax = max(table.values())
    for base in sorted({c * r for r, c in table.items()}):
        if all(min(base // r, cmax) == c for r, c in table.items()):
            return base, cmax
    pretty = ",".join(f"{r}:{c}" for r, c in table.items())
    raise ValueError(
        f"the channel table {pretty} is not of NVlabs' form min(channel_base / resolution, channel_max); "
        "their networks cannot be built with it"
    )


def constructor_kwargs(config: ModelConfig) -> dict[str, dict]:
    """Keyword arguments for NVlabs' Generator and Discriminator that build this config."""
    base, cmax = channel_base_max(config)
    taps = [float(t) for t in config.blur_kernel]
    synthesis = dict(channel_base=base, channel_max=cmax, num_fp16_res=0, conv_clamp=config.conv_clamp, resample_filter=taps)
    mapping = dict(num_layers=config.n_mlp, lr_multiplier=config.lr_mlp)
    common = dict(z_dim=config.style_dim, c_dim=0, w_dim=config.style_dim, img_resolution=config.size, img_channels=3)
    return {
        "G_kwargs": dict(common, mapping_kwargs=mapping, synthesis_kwargs=synthesis),
        "G_kwargs_stylegan3": dict(common, mapping_kwargs=mapping, **synthesis),
        "D_kwargs": dict(
            c_dim=0, img_resolution=config.size, img_channels=3, architecture="resnet", channel_base=base,
            channel_max=cmax, num_fp16_res=0, conv_clamp=config.conv_clamp, block_kwargs=dict(resample_filter=taps),
            mapping_kwargs={},
            epilogue_kwargs=dict(mbstd_group_size=config.mbstd_group, mbstd_num_channels=config.mbstd_channels),
        ),
    }


def nvlabs_state_dict(config: ModelConfig, sd: dict[str, torch.Tensor], part: str,
                      latent_avg: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """One of our state dicts (part g_ema, g or d) under NVlabs' names and layouts.

    Generators need `latent_avg` (NVlabs keeps the W average inside the mapping network)."""
    is_d = part == "d"
    table = discriminator_table(config) if is_d else generator_table(config)
    out = {}
    for entry in table:
        if entry.layout == "w_avg":
            if latent_avg is None:
                raise ValueError(f"{part}: NVlabs' generator stores the average w; none given")
            out[entry.nvlabs] = latent_avg.detach().reshape(-1).to(torch.float32).clone()
            continue
        t = None if entry.ours is None else sd.get(entry.ours)
        if entry.ours is not None and t is None:
            raise ValueError(f"{part}: missing {entry.ours}")
        out[entry.nvlabs] = to_nvlabs(entry, t, config.blur_kernel)
    return out


def nvlabs_state_dicts(config: ModelConfig, parts: dict[str, Any]) -> dict[str, dict[str, torch.Tensor]]:
    """G_ema / G / D state dicts in NVlabs' layout from our parts (g_ema, g, d, latent_avg)."""
    latent_avg = parts.get(LATENT_AVG)
    return {
        OUR_PARTS[part]: nvlabs_state_dict(config, parts[part], part, latent_avg)
        for part in ("g_ema", "g", "d")
        if parts.get(part) is not None
    }
