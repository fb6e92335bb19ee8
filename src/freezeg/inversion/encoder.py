"""An encoder that guesses a generator's latent (W+ and optionally the noise maps) from an image.

It is a plain convolutional network (Encoder): the image is reduced from its size to 4 px by
stride-2 stages, a head maps the 4 px features to one w (as an offset from the generator's
average w) plus small per-layer offsets (W+ as "w + offset", as e4e does), and optional 1x1
heads read a noise map from the features at each noise resolution. It is trained
self-supervised on images the source generator renders (freezeg.inversion.encoder_training),
and its guess starts a projection (`project/translate --init enc.pt`).

An encoder file (torch.load(weights_only=True)):
    {"format": "freezeg-encoder", "version": 1, "config": {...}, "generator": {size, style_dim,
     num_ws, n_mlp, digest}, "state": state dict (its w_avg buffer [1, D] included), "step": int,
     "training": {...}}
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..models.checkpoint import atomic_torch_save
from ..models.networks import Generator
from ..train.distributed import weights_digest
from .latents import Latent, config_summary, read_torch_file

ENCODER_FORMAT = "freezeg-encoder"
ENCODER_VERSION = 1


@dataclass
class EncoderConfig:
    """The encoder's shape, fixed by the generator it serves plus two width knobs."""

    size: int  # image side (the generator's)
    style_dim: int  # the generator's w dimension
    num_ws: int  # the generator's per-layer latents
    noise_resolutions: tuple[int, ...] = ()  # one entry per predicted noise map; () predicts none
    width: int = 32  # channels at full resolution; doubled per halving...
    max_width: int = 256  # ...up to this

    @classmethod
    def for_generator(cls, g: Generator, noise: bool = False, width: int = 32, max_width: int = 256) -> "EncoderConfig":
        return cls(g.size, g.style_dim, g.num_ws, tuple(g.noise_resolutions()) if noise else (), width, max_width)

    def channels(self, res: int) -> int:
        return min(self.max_width, self.width * (self.size // res))


class _Stage(nn.Module):
    """Two 3x3 convolutions with leaky ReLU; the second halves the resolution and sets the width."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cin, 3, padding=1)
        self.down = nn.Conv2d(cin, cout, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.leaky_relu(self.conv(x), 0.2)
        return x, F.leaky_relu(self.down(x), 0.2)  # (features at this resolution, next resolution)


class Encoder(nn.Module):
    """Image [B, 3, size, size] in [-1, 1] -> ws [B, num_ws, style_dim] (and noise maps)."""

    def __init__(self, config: EncoderConfig, w_avg: torch.Tensor | None = None):
        super().__init__()
        self.config = c = config
        self.path: str | None = None  # the file it was loaded from (for records)
        self.register_buffer("w_avg", torch.zeros(1, c.style_dim) if w_avg is None else w_avg.reshape(1, -1).float().clone())
        self.from_rgb = nn.Conv2d(3, c.channels(c.size), 1)
        self.stages = nn.ModuleList()
        res = c.size
        while res > 4:
            self.stages.append(_Stage(c.channels(res), c.channels(res // 2)))
            res //= 2
        top = c.channels(4)
        self.top = nn.Conv2d(top, top, 3, padding=1)
        self.head_w = nn.Linear(top * 16, c.style_dim)
        self.head_offsets = nn.Linear(top * 16, c.num_ws * c.style_dim)
        for head in (self.head_w, self.head_offsets):  # start at the average w
            nn.init.zeros_(head.bias)
            head.weight.data.mul_(0.1)
        self.noise_heads = nn.ModuleList(nn.Conv2d(c.channels(r), 1, 1) for r in c.noise_resolutions)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        c = self.config
        if images.ndim != 4 or images.shape[1:] != (3, c.size, c.size):
            raise ValueError(f"the encoder takes images [batch, 3, {c.size}, {c.size}], got {tuple(images.shape)}")
        x = F.leaky_relu(self.from_rgb(images), 0.2)
        features = {}
        for stage in self.stages:
            features[x.shape[-1]], x = stage(x)
        x = F.leaky_relu(self.top(x), 0.2)
        features[4] = x
        flat = x.flatten(1)
        w = self.w_avg + self.head_w(flat)  # [B, D]
        ws = w[:, None, :] + self.head_offsets(flat).reshape(-1, c.num_ws, c.style_dim)
        if not self.noise_heads:
            return ws, None
        return ws, [head(features[r]) for head, r in zip(self.noise_heads, c.noise_resolutions)]

    @torch.no_grad()
    def guess(self, images: torch.Tensor) -> list[Latent]:
        """One latent per image (noise maps standardised per map, as projections keep them)."""
        device = self.w_avg.device
        was_training = self.training
        self.eval()
        ws, noise = self(images.to(device=device, dtype=torch.float32))
        self.train(was_training)
        out = []
        for i in range(len(ws)):
            maps = None
            if noise is not None:
                maps = [standardise(n[i : i + 1]).cpu() for n in noise]
            out.append(Latent(ws=ws[i].cpu(), noise=maps, space="w+", meta={"init": self.path}))
        return out


def standardise(n: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per map [B, 1, r, r]."""
    return (n - n.mean(dim=[1, 2, 3], keepdim=True)) / n.std(dim=[1, 2, 3], keepdim=True).clamp_min(1e-8)


# --------------------------------------------------------------------------- files
def generator_identity(g: Generator) -> dict[str, Any]:
    """What an encoder (or a latent, a tuning) records about the generator it belongs to."""
    return {**config_summary(g), "digest": weights_digest([g])}


def describe_generator(info: dict[str, Any]) -> str:
    """'a 32px generator (style_dim 64, 8 latents)' from a generator identity or config summary."""
    return f"a {info.get('size')}px generator (style_dim {info.get('style_dim')}, {info.get('num_ws')} latents)"


def save_encoder(path: str | os.PathLike, encoder: Encoder, generator: dict[str, Any], step: int,
                 training: dict[str, Any] | None = None) -> Path:
    """Write an encoder file atomically; `training` holds what resuming needs (optimizer, options)."""
    data = {
        "format": ENCODER_FORMAT,
        "version": ENCODER_VERSION,
        "config": {**asdict(encoder.config), "noise_resolutions": list(encoder.config.noise_resolutions)},
        "generator": dict(generator),
        "state": {k: v.detach().cpu() for k, v in encoder.state_dict().items()},
        "step": int(step),
        "training": training or {},
    }
    atomic_torch_save(data, path)
    return Path(path)


def read_encoder_file(path: str | os.PathLike) -> dict[str, Any]:
    """The raw contents of an encoder file, or a one-line ValueError naming the file."""
    data = read_torch_file(path, "encoder file")
    if not isinstance(data, dict) or data.get("format") != ENCODER_FORMAT:
        raise ValueError(f"{path}: not a freezeg encoder file (make one with `freezeg encoder train`)")
    return data


def load_encoder(path: str | os.PathLike, generator: Generator | None = None,
                 device: str | torch.device = "cpu") -> Encoder:
    """Load an encoder; given the generator it is to serve, refuse one made for another config."""
    data = read_encoder_file(path)
    made = data.get("generator") or {}
    if generator is not None:
        mine = config_summary(generator)
        if any(made.get(k) != mine[k] for k in ("size", "style_dim", "num_ws")):
            raise ValueError(f"{path}: encoder made for {describe_generator(made)}, not for {describe_generator(mine)}")
    raw = dict(data["config"])
    raw["noise_resolutions"] = tuple(raw.get("noise_resolutions") or ())
    try:
        encoder = Encoder(EncoderConfig(**raw))
        encoder.load_state_dict(data["state"])
    except (TypeError, RuntimeError, KeyError) as e:
        first = str(e).strip().splitlines()[0]
        raise ValueError(f"{path}: encoder weights do not fit its config ({first[:120]})") from None
    encoder.path = str(path)
    encoder.trained_steps = int(data.get("step", 0))
    encoder.generator_digest = made.get("digest")
    return encoder.to(device).eval()
