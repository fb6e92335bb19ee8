"""StyleGAN2 (config F) generator and residual discriminator, rosinality-compatible.

Module and parameter names are exactly those of rosinality/stylegan2-pytorch (`style.1.weight`,
`convs.0.conv.blur.kernel`, `to_rgbs.0.bias`, `noises.noise_0`, ...), so state dicts load in
either direction. The code, however, identifies blocks by *resolution* through
`Generator.blocks()` / `Discriminator.blocks()`, which the freezing rules and the forward
passes share.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from .layers import ConstantInput, ConvLayer, EqualLinear, PixelNorm, ResBlock, StyledConv, ToRGB

MIN_SIZE = 8
MAX_SIZE = 1024
NOISE_MODES = ("random", "const", "none")


def default_channels(channel_multiplier: int = 2) -> dict[int, int]:
    """rosinality's (and NVlabs' config F) feature-map count per resolution."""
    cm = channel_multiplier
    return {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm, 1024: 16 * cm}


def preferred_memory_format(like: torch.Tensor) -> torch.memory_format:
    """Feature-map layout for the device of `like`.

    On CPU, oneDNN's convolutions (depthwise FIR filters above all) run on NHWC
    (channels_last) tensors without reordering them on every call; the values are the same
    in either layout. Elsewhere the default layout is kept.
    """
    return torch.channels_last if like.device.type == "cpu" else torch.contiguous_format


@dataclass
class ModelConfig:
    """Everything needed to rebuild a generator/discriminator pair from scratch."""

    size: int  # output resolution in pixels, a power of two in [8, 1024]
    style_dim: int = 512  # dimension of z and w
    n_mlp: int = 8  # layers in the mapping network
    channel_multiplier: int = 2  # scales the default table at 64px and above
    channels: dict[int, int] | None = None  # per-resolution overrides of the default table
    blur_kernel: Sequence[float] = (1, 3, 3, 1)  # FIR taps for resampling
    lr_mlp: float = 0.01  # learning-rate multiplier of the mapping network
    # NVlabs' settings (stylegan2-ada-pytorch / stylegan3 configs); the defaults are rosinality's.
    conv_clamp: float | None = None  # clamp conv/toRGB activations to +-X after bias and activation (None: off)
    mbstd_group: int | None = 4  # D minibatch-stddev group size (None: the whole batch)
    mbstd_channels: int = 1  # D minibatch-stddev feature maps (0: no stddev layer)

    def __post_init__(self):
        if not isinstance(self.size, int) or self.size < MIN_SIZE or self.size > MAX_SIZE or self.size & (self.size - 1):
            raise ValueError(f"size must be a power of two from {MIN_SIZE} to {MAX_SIZE}, got {self.size!r}")
        if self.style_dim < 1 or self.n_mlp < 1 or self.channel_multiplier < 1:
            raise ValueError(
                f"style_dim, n_mlp and channel_multiplier must be positive "
                f"(got {self.style_dim}, {self.n_mlp}, {self.channel_multiplier})"
            )
        if self.channels is not None:
            table = {}
            for res, ch in dict(self.channels).items():
                res, ch = int(res), int(ch)
                if res < 4 or res & (res - 1):
                    raise ValueError(f"channel table: resolution {res} is not a power of two >= 4")
                if res > self.size:
                    raise ValueError(f"channel table: resolution {res} is larger than the model size {self.size}")
                if ch < 1:
                    raise ValueError(f"channel table: resolution {res} has {ch} channels")
                table[res] = ch
            self.channels = dict(sorted(table.items()))
        self.blur_kernel = tuple(float(t) if float(t) != int(t) else int(t) for t in self.blur_kernel)
        if len(self.blur_kernel) < 2:
            raise ValueError(f"blur kernel needs at least 2 taps, got {self.blur_kernel}")
        if self.conv_clamp is not None:
            self.conv_clamp = float(self.conv_clamp)
            if not self.conv_clamp > 0:
                raise ValueError(f"conv_clamp must be positive or None, got {self.conv_clamp}")
        if self.mbstd_group is not None and int(self.mbstd_group) < 1:
            raise ValueError(f"mbstd_group must be at least 1 or None, got {self.mbstd_group}")
        if self.mbstd_channels < 0:
            raise ValueError(f"mbstd_channels must be >= 0, got {self.mbstd_channels}")

    @property
    def log_size(self) -> int:
        return int(math.log2(self.size))

    @property
    def num_ws(self) -> int:
        """Per-layer latents: 2 at 4px, then up-conv, conv and toRGB per resolution (toRGB shares)."""
        return 2 * self.log_size - 2

    @property
    def num_noise(self) -> int:
        return 2 * self.log_size - 3

    @property
    def resolutions(self) -> list[int]:
        return [2**k for k in range(2, self.log_size + 1)]

    def channel_table(self) -> dict[int, int]:
        table = default_channels(self.channel_multiplier)
        table.update(self.channels or {})
        return {res: table[res] for res in self.resolutions}

    def to_dict(self) -> dict:
        return {
            "size": self.size,
            "style_dim": self.style_dim,
            "n_mlp": self.n_mlp,
            "channel_multiplier": self.channel_multiplier,
            "channels": {str(k): v for k, v in self.channel_table().items()},
            "blur_kernel": list(self.blur_kernel),
            "lr_mlp": self.lr_mlp,
            "conv_clamp": self.conv_clamp,
            "mbstd_group": self.mbstd_group,
            "mbstd_channels": self.mbstd_channels,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        if d.get("channels") is not None:
            d["channels"] = {int(k): int(v) for k, v in d["channels"].items()}
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class SynthesisLayer:
    """One styled conv of a synthesis block with the latent and noise it reads."""

    module: StyledConv
    w_index: int
    noise_index: int


@dataclass
class SynthesisBlock:
    """All generator modules that work at one resolution."""

    resolution: int
    layers: list[SynthesisLayer]
    to_rgb: ToRGB
    to_rgb_w_index: int
    extra: list[nn.Module] = field(default_factory=list)  # the constant input at 4px

    def modules(self) -> list[nn.Module]:
        return [*self.feature_modules(), self.to_rgb]

    def feature_modules(self) -> list[nn.Module]:
        """Everything but toRGB: what computes the features the next block reads."""
        return [*self.extra, *(layer.module for layer in self.layers)]


class Generator(nn.Module):
    """StyleGAN2 generator: `mapping` (z -> w) and `synthesis` (per-layer w -> image)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.size = config.size
        self.style_dim = config.style_dim
        self.n_mlp = config.n_mlp
        self.num_ws = config.num_ws
        self.num_noise = config.num_noise
        ch = config.channel_table()
        blur = config.blur_kernel
        d = config.style_dim

        # Mapping: pixel norm then n_mlp equalised FC layers with lr multiplier (keys style.1..n).
        self.style = nn.Sequential(
            PixelNorm(), *(EqualLinear(d, d, lr_mul=config.lr_mlp, activation=True) for _ in range(config.n_mlp))
        )

        self.input = ConstantInput(ch[4])
        clamp = config.conv_clamp
        self.conv1 = StyledConv(ch[4], ch[4], d, blur_kernel=blur, conv_clamp=clamp)
        self.to_rgb1 = ToRGB(ch[4], d, upsample=False, conv_clamp=clamp)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        for res in config.resolutions[1:]:
            self.convs.append(StyledConv(ch[res // 2], ch[res], d, upsample=True, blur_kernel=blur, conv_clamp=clamp))
            self.convs.append(StyledConv(ch[res], ch[res], d, blur_kernel=blur, conv_clamp=clamp))
            self.to_rgbs.append(ToRGB(ch[res], d, blur_kernel=blur, conv_clamp=clamp))

        # Fixed noise maps for noise_mode="const" (saved in checkpoints, as rosinality does).
        self.noises = nn.Module()
        for j, res in enumerate(self.noise_resolutions()):
            self.noises.register_buffer(f"noise_{j}", torch.randn(1, 1, res, res))
        # Average w for truncation: not part of the state dict (rosinality stores it beside).
        self.register_buffer("w_avg", None, persistent=False)

    # ----------------------------------------------------------------- structure
    def noise_resolutions(self) -> list[int]:
        """Resolution of each noise input, in rosinality's order."""
        return [2 ** ((j + 5) // 2) for j in range(self.num_noise)]

    def blocks(self) -> list[SynthesisBlock]:
        """Synthesis blocks from 4px up, each with the w and noise indices its layers use."""
        out = [
            SynthesisBlock(4, [SynthesisLayer(self.conv1, 0, 0)], self.to_rgb1, 1, extra=[self.input]),
        ]
        for k, res in enumerate(self.config.resolutions[1:]):
            i = 2 * k + 1  # up-conv latent; conv i+1; toRGB i+2 (= next block's up-conv)
            layers = [SynthesisLayer(self.convs[2 * k], i, i), SynthesisLayer(self.convs[2 * k + 1], i + 1, i + 1)]
            out.append(SynthesisBlock(res, layers, self.to_rgbs[k], i + 2))
        return out

    def stored_noise(self) -> list[torch.Tensor]:
        return [getattr(self.noises, f"noise_{j}") for j in range(self.num_noise)]

    # ----------------------------------------------------------------- mapping
    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, style_dim] -> w [B, style_dim]."""
        if z.ndim != 2 or z.shape[1] != self.style_dim:
            raise ValueError(f"z must have shape [batch, {self.style_dim}], got {tuple(z.shape)}")
        return self.style(z)

    @torch.no_grad()
    def mean_w(self, n: int = 10000, seed: int = 0, chunk: int = 2000) -> torch.Tensor:
        """Average of mapping(z) over n draws with a fixed seed: [1, style_dim]."""
        device = next(self.parameters()).device
        gen = torch.Generator().manual_seed(seed)
        total = torch.zeros(1, self.style_dim, dtype=torch.float64, device=device)
        for start in range(0, n, chunk):
            z = torch.randn(min(chunk, n - start), self.style_dim, generator=gen).to(device)
            total += self.mapping(z).double().sum(0, keepdim=True)
        return (total / n).float()

    def truncate(self, w: torch.Tensor, truncation: float, truncation_w: torch.Tensor | None = None) -> torch.Tensor:
        """w' = w_avg + t (w - w_avg); w_avg from `truncation_w` or the stored/estimated average."""
        if truncation == 1:
            return w
        if truncation_w is None:
            if self.w_avg is None:
                self.w_avg = self.mean_w()
            truncation_w = self.w_avg
        truncation_w = truncation_w.to(w).reshape(-1, self.style_dim)
        if w.ndim == 3:
            truncation_w = truncation_w.reshape(-1, 1, self.style_dim)
        return truncation_w + truncation * (w - truncation_w)

    def broadcast(self, w: torch.Tensor, w2: torch.Tensor | None = None, mix_index: int | None = None) -> torch.Tensor:
        """Repeat w over all layers: [B, D] -> [B, num_ws, D]; with w2, layers >= mix_index use w2.

        A missing mix_index is drawn uniformly from [1, num_ws - 1] (style-mixing regularisation).
        """
        if w.ndim == 3:
            self._check_ws(w)
            return w
        ws = w[:, None, :].expand(-1, self.num_ws, -1)
        if w2 is None:
            return ws
        if mix_index is None:
            mix_index = random.randint(1, self.num_ws - 1)
        if not 0 <= mix_index <= self.num_ws:
            raise ValueError(f"mix index must be in [0, {self.num_ws}], got {mix_index}")
        ws2 = w2[:, None, :].expand(-1, self.num_ws, -1)
        return torch.cat([ws[:, :mix_index], ws2[:, mix_index:]], dim=1)

    # ----------------------------------------------------------------- synthesis
    def _check_ws(self, ws: torch.Tensor) -> torch.Tensor:
        if ws.ndim == 2 and ws.shape[1] == self.style_dim:
            return ws[:, None, :].expand(-1, self.num_ws, -1)
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.style_dim):
            raise ValueError(
                f"ws must have shape [batch, {self.num_ws}, {self.style_dim}] (or [batch, {self.style_dim}]), "
                f"got {tuple(ws.shape)}"
            )
        return ws

    def _resolve_noise(self, noise, noise_mode: str, batch: int, like: torch.Tensor) -> list:
        if noise is None:
            if noise_mode not in NOISE_MODES:
                raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
            if noise_mode == "const":
                return self.stored_noise()
            if noise_mode == "none":
                return [None] * self.num_noise
            return [torch.randn(batch, 1, r, r, device=like.device, dtype=like.dtype) for r in self.noise_resolutions()]
        noise = list(noise)
        if len(noise) != self.num_noise:
            raise ValueError(f"noise must be a list of {self.num_noise} tensors, got {len(noise)}")
        for j, (n, r) in enumerate(zip(noise, self.noise_resolutions())):
            if n is not None and (n.ndim != 4 or n.shape[0] not in (1, batch) or n.shape[1:] != (1, r, r)):
                raise ValueError(f"noise[{j}] must have shape [1 or {batch}, 1, {r}, {r}], got {tuple(n.shape)}")
        return noise

    def synthesis(self, ws: torch.Tensor, noise: list | None = None, noise_mode: str = "random") -> torch.Tensor:
        """Per-layer latents ws [B, num_ws, style_dim] -> image [B, 3, size, size] in about [-1, 1].

        `noise`: one tensor per synthesis conv ([1 or B, 1, r, r]; None entries add no noise);
        when omitted, `noise_mode` picks fresh ("random"), stored ("const") or no ("none") noise.
        """
        ws = self._check_ws(ws)
        batch = ws.shape[0]
        noise = self._resolve_noise(noise, noise_mode, batch, ws)
        x = self.input(batch).contiguous(memory_format=preferred_memory_format(ws))
        rgb = None
        for block in self.blocks():
            for layer in block.layers:
                x = layer.module(x, ws[:, layer.w_index], noise[layer.noise_index])
            rgb = block.to_rgb(x, ws[:, block.to_rgb_w_index], rgb)
        return rgb.contiguous()

    def forward(
        self,
        z: torch.Tensor,  # [B, style_dim]
        truncation: float = 1.0,
        truncation_w: torch.Tensor | None = None,  # [1, style_dim]; default: stored average w
        noise_mode: str = "random",
        noise: list | None = None,
        mix_z: torch.Tensor | None = None,  # second z for style mixing
        mix_index: int | None = None,  # first layer that uses mix_z's w
        return_ws: bool = False,
    ):
        """z -> image; with `return_ws` also the per-layer latents actually used."""
        w = self.truncate(self.mapping(z), truncation, truncation_w)
        w2 = None if mix_z is None else self.truncate(self.mapping(mix_z), truncation, truncation_w)
        ws = self.broadcast(w, w2, mix_index)
        img = self.synthesis(ws, noise=noise, noise_mode=noise_mode)
        return (img, ws) if return_ws else img


@dataclass
class DiscriminatorBlock:
    """Discriminator modules at one input resolution (the 4px head included)."""

    resolution: int
    modules: list[nn.Module]
    name: str


def stddev_group_size(batch: int, preferred: int | None = 4) -> int:
    """Minibatch-stddev group size for a batch.

    rosinality (and NVlabs) use min(batch, preferred) and fail when that does not divide the
    batch. We keep its value wherever it works; otherwise we take the largest divisor of the
    batch below it if that is at least 2 (preferred 4: batch 6 -> 3, 10 -> 2), else the
    smallest divisor above it (5 -> 5, 7 -> 7, 25 -> 5), so every group has at least two
    samples and a real standard deviation. `preferred` None means the whole batch (NVlabs).
    """
    if preferred is None:
        return batch
    group = min(batch, preferred)
    if batch % group == 0:
        return group
    below = [g for g in range(group - 1, 1, -1) if batch % g == 0]
    if below:
        return below[0]
    return next(g for g in range(preferred + 1, batch + 1) if batch % g == 0)


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator: image [B, 3, size, size] -> logits [B, 1]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.size = config.size
        ch = config.channel_table()
        blur = config.blur_kernel
        clamp = config.conv_clamp
        if config.mbstd_channels and ch[4] % config.mbstd_channels:
            raise ValueError(f"mbstd_channels {config.mbstd_channels} must divide the 4px channel count {ch[4]}")
        layers: list[nn.Module] = [ConvLayer(3, ch[config.size], 1, conv_clamp=clamp)]  # fromRGB
        for res in reversed(config.resolutions[1:]):
            layers.append(ResBlock(ch[res], ch[res // 2], blur, conv_clamp=clamp))
        self.convs = nn.Sequential(*layers)
        self.stddev_group = config.mbstd_group
        self.stddev_channels = config.mbstd_channels
        self.final_conv = ConvLayer(ch[4] + config.mbstd_channels, ch[4], 3, conv_clamp=clamp)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 16, ch[4], activation=True), EqualLinear(ch[4], 1))

    def blocks(self) -> list[DiscriminatorBlock]:
        """From the input resolution down: fromRGB + ResBlock per resolution, then the 4px head."""
        out = []
        for j, res in enumerate(reversed(self.config.resolutions[1:])):
            modules = [self.convs[0], self.convs[1]] if j == 0 else [self.convs[j + 1]]
            out.append(DiscriminatorBlock(res, modules, f"b{res}"))
        out.append(DiscriminatorBlock(4, [self.final_conv, self.final_linear], "head"))
        return out

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if img.ndim != 4 or img.shape[1:] != (3, self.size, self.size):
            raise ValueError(f"D expects images [batch, 3, {self.size}, {self.size}], got {tuple(img.shape)}")
        x = self.convs(img.contiguous(memory_format=preferred_memory_format(img)))
        batch = x.shape[0]
        if self.stddev_channels > 0:
            x = torch.cat([x, self.minibatch_stddev(x)], dim=1)
        x = self.final_conv(x)
        return self.final_linear(x.reshape(batch, -1))

    def minibatch_stddev(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, F, H, W]: per group of samples, the mean standard deviation of
        each of F channel slices, broadcast over the group and the pixels."""
        batch, channels, height, width = x.shape
        group = stddev_group_size(batch, self.stddev_group)
        feats = self.stddev_channels
        # Samples b and b + batch/group share a group (rosinality's and NVlabs' view order).
        y = x.reshape(group, -1, feats, channels // feats, height, width)
        y = torch.sqrt(y.var(dim=0, unbiased=False) + 1e-8)  # [B/g, F, C/F, H, W]
        y = y.mean(dim=[2, 3, 4])  # [B/g, F]
        return y.reshape(-1, feats, 1, 1).repeat(group, 1, height, width)  # [B, F, H, W]
