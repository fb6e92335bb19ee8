"""StyleGAN2 layers: equalised-lr linear/conv, modulated conv, noise, toRGB, FIR resampling.

Attribute names mirror rosinality/stylegan2-pytorch so that state dicts are interchangeable
(`modulation`, `blur.kernel`, `activate.bias`, ...). The maths follows Karras et al. 2020,
"Analyzing and Improving the Image Quality of StyleGAN" (config F).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .ops import (
    LEAKY_GAIN,
    LEAKY_SLOPE,
    bias_leaky_relu,
    conv2d,
    demod_noise_bias_act,
    make_kernel,
    upfirdn2d,
    upsample_pad,
)

DEMOD_EPS = 1e-8
MODULATION_MODES = ("auto", "grouped", "scaled", "matmul")


class PixelNorm(nn.Module):
    """Normalise each latent vector to unit root-mean-square over its features."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # [B, D] -> [B, D]
        return z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)


class FusedLeakyReLU(nn.Module):
    """Per-channel bias followed by leaky ReLU(0.2) * sqrt(2); the bias is learnable."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))  # [C]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bias_leaky_relu(x, self.bias)


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate (weights scaled at run time)."""

    def __init__(
        self,
        in_dim: int,  # input features
        out_dim: int,  # output features
        bias_init: float = 0.0,  # initial bias value (1 for style affines)
        lr_mul: float = 1.0,  # learning-rate multiplier (0.01 in the mapping network)
        activation: bool = False,  # apply bias + leaky ReLU * sqrt(2)
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)  # [out, in]
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))  # [out]
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation:
            return bias_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """2-D convolution with equalised learning rate."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,  # own bias (False when a FusedLeakyReLU follows)
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class Blur(nn.Module):
    """FIR low-pass filter with explicit padding; `gain` compensates zero insertion."""

    def __init__(self, taps: Sequence[float], pad: tuple[int, int], gain: float = 1.0):
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps, gain))  # [k, k]
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x FIR upsampling that maps H to 2H (toRGB skip path)."""

    def __init__(self, taps: Sequence[float], factor: int = 2):
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps, gain=factor**2))  # [k, k]
        self.factor = factor
        self.pad = upsample_pad(len(taps), factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ModulatedConv2d(nn.Module):
    """Convolution whose weights are scaled per sample by a style (and demodulated).

    Three ways compute the same result: `grouped` folds the batch into a grouped convolution
    with per-sample weights (rosinality's way); `scaled` modulates the activations, runs one
    shared convolution and demodulates the output (NVlabs' `fused_modconv=False`); `matmul`
    (1x1 kernels, i.e. toRGB) multiplies each sample's pixels by its own small weight matrix.
    `auto` picks matmul for 1x1 kernels, grouped for batch 1 (one plain convolution) and
    scaled for larger batches (one large convolution instead of B small ones); `mode` forces
    one (tests check that they agree).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,  # 3 for convs, 1 for toRGB
        style_dim: int,  # size of w
        demodulate: bool = True,  # False for toRGB
        upsample: bool = False,  # 2x transposed conv followed by a FIR blur
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.upsample = upsample
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        if upsample:
            # Pads so that transposed conv (k=3, stride 2) + blur maps H to exactly 2H.
            p = (len(blur_kernel) - 2) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.mode = "auto"  # one of MODULATION_MODES

    def _path(self, batch: int) -> str:
        if self.mode not in MODULATION_MODES:
            raise ValueError(f"ModulatedConv2d.mode must be one of {MODULATION_MODES}, got {self.mode!r}")
        if self.mode == "matmul" and (self.kernel_size != 1 or self.upsample):
            raise ValueError("ModulatedConv2d mode 'matmul' needs a 1x1 kernel without upsampling")
        if self.mode != "auto":
            return self.mode
        if self.kernel_size == 1 and not self.upsample:
            return "matmul"
        return "grouped" if batch == 1 else "scaled"

    def modulate(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The convolution with demodulation left to the caller where that is cheaper.

        Returns (out [B, Cout, H', W'], demod [B, Cout] or None): the layer's output is
        out * demod[:, :, None, None] (just `out` when demod is None, i.e. already applied or
        not demodulated). Demodulation is a per-channel scale, so it commutes with the blur.
        """
        batch, in_channels, height, width = x.shape  # [B, Cin, H, W]
        if in_channels != self.in_channels:
            raise ValueError(f"ModulatedConv2d expects {self.in_channels} input channels, got {in_channels}")
        # The equalised-lr scale multiplies the (small) style instead of the weight: one pass
        # over the weight less, forward and backward, for the same product.
        style = self.modulation(w) * self.scale  # [B, Cin]
        weight = self.weight[0]  # [Cout, Cin, k, k]
        demod = None

        path = self._path(batch)
        if path == "matmul":
            # A 1x1 conv with per-sample weights is a batched matrix product over pixels.
            wb = weight[None, :, :, 0, 0] * style[:, None, :]  # [B, Cout, Cin]
            if self.demodulate:
                wb = wb * torch.rsqrt(wb.square().sum(dim=2) + DEMOD_EPS)[:, :, None]
            if x.is_contiguous(memory_format=torch.channels_last):
                pixels = x.permute(0, 2, 3, 1).reshape(batch, height * width, in_channels)  # [B, HW, Cin], a view
                out = (pixels @ wb.transpose(1, 2)).reshape(batch, height, width, -1).permute(0, 3, 1, 2)
            else:
                out = (wb @ x.reshape(batch, in_channels, height * width)).reshape(batch, -1, height, width)
        elif path == "grouped":
            wb = weight[None] * style[:, None, :, None, None]  # [B, Cout, Cin, k, k]
            if self.demodulate:
                wb = wb * torch.rsqrt(wb.square().sum(dim=[2, 3, 4]) + DEMOD_EPS)[:, :, None, None, None]
            xg = x.reshape(1, batch * in_channels, height, width)
            if self.upsample:
                wt = wb.transpose(1, 2).reshape(batch * in_channels, self.out_channels, *weight.shape[2:])
                if batch == 1:
                    out = conv2d(xg, wt, stride=2, transposed=True)
                else:
                    out = F.conv_transpose2d(xg, wt, stride=2, groups=batch)
            else:
                wg = wb.reshape(batch * self.out_channels, in_channels, *weight.shape[2:])
                if batch == 1:
                    out = conv2d(xg, wg, padding=self.padding)
                else:
                    out = F.conv2d(xg, wg, padding=self.padding, groups=batch)
            out = out.reshape(batch, self.out_channels, *out.shape[2:])
        else:
            xs = x * style[:, :, None, None]
            if self.upsample:
                out = conv2d(xs, weight.transpose(0, 1), stride=2, transposed=True)
            else:
                out = conv2d(xs, weight, padding=self.padding)
            if self.demodulate:
                # sum over (Cin, k, k) of (weight * style)^2, without building per-sample weights
                demod = torch.rsqrt(style.square() @ weight.square().sum(dim=[2, 3]).t() + DEMOD_EPS)  # [B, Cout]

        if self.upsample:
            out = self.blur(out)
        return out, demod

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        out, demod = self.modulate(x, w)
        return out if demod is None else out * demod[:, :, None, None]


class NoiseInjection(nn.Module):
    """Adds per-pixel noise scaled by one learned strength."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if noise is None:
            return x
        return x + self.weight * noise


class ConstantInput(nn.Module):
    """The learned 4x4 constant the synthesis network starts from."""

    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class StyledConv(nn.Module):
    """Modulated conv + noise + bias/leaky ReLU: one synthesis layer (one w, one noise map)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        style_dim: int,
        upsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,  # clamp the activated output to +-X (NVlabs' conv_clamp)
    ):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, style_dim, upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channels)
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        # = activate(noise(conv(x, w), noise)), with demodulation, noise, bias and activation
        # fused into one epilogue (see demod_noise_bias_act).
        out, demod = self.conv.modulate(x, w)
        return demod_noise_bias_act(out, demod, noise, self.noise.weight, self.activate.bias, clamp=self.conv_clamp)


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB (no demodulation), added to the upsampled previous RGB."""

    def __init__(
        self,
        in_channels: int,
        style_dim: int,
        upsample: bool = True,
        blur_kernel=(1, 3, 3, 1),
        conv_clamp: float | None = None,  # clamp this layer's RGB (before the skip sum) to +-X
    ):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, w) + self.bias
        if self.conv_clamp is not None:
            out = out.clamp(-self.conv_clamp, self.conv_clamp)
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConvLayer(nn.Sequential):
    """Discriminator conv: [blur] -> equalised conv (stride 2 when downsampling) -> [bias + lrelu]."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        downsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        bias: bool = True,
        activate: bool = True,
        conv_clamp: float | None = None,  # clamp the (activated) output to +-X (NVlabs' conv_clamp)
    ):
        layers: list[nn.Module] = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(
            EqualConv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias and not activate)
        )
        if activate:
            layers.append(FusedLeakyReLU(out_channels))
        super().__init__(*layers)
        self.downsample = downsample
        self.activate = activate
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_scaled(x, 1.0)

    def forward_scaled(self, x: torch.Tensor, out_scale: float = 1.0) -> torch.Tensor:
        """self(x) * out_scale, the bias, gain and scale fused into the convolution.

        leaky_relu(z) * g == leaky_relu(z * g) for g > 0, so the activation gain and
        `out_scale` scale the (small) weight and bias instead of the output, and the
        activation runs in place on the convolution's output, which autograd does not keep.
        The clamp scales with `out_scale` (NVlabs clamps at conv_clamp * gain).
        """
        if self.downsample:
            x = self[0](x)
        conv = self[1] if self.downsample else self[0]
        gain = out_scale * (LEAKY_GAIN if self.activate else 1.0)
        bias = self[-1].bias if self.activate else conv.bias
        out = conv2d(
            x,
            conv.weight * (conv.scale * gain),
            None if bias is None else bias * gain,
            conv.stride,
            conv.padding,
        )
        if self.activate:
            out = F.leaky_relu_(out, LEAKY_SLOPE)
        if self.conv_clamp is not None:
            limit = self.conv_clamp * out_scale
            out = out.clamp(-limit, limit)  # not in place: leaky_relu_'s backward reads its output
        return out


class ResBlock(nn.Module):
    """Discriminator residual block: two 3x3 convs (second downsamples) + blurred 1x1 skip."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,  # on both 3x3 convs; the skip is never clamped (as NVlabs)
    ):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, blur_kernel=blur_kernel, conv_clamp=conv_clamp)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True, blur_kernel=blur_kernel, conv_clamp=conv_clamp)
        self.skip = ConvLayer(in_channels, out_channels, 1, downsample=True, blur_kernel=blur_kernel, bias=False, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (conv2(conv1(x)) + skip(x)) / sqrt(2), the 1/sqrt(2) folded into both convolutions
        out = self.conv2.forward_scaled(self.conv1(x), 1 / math.sqrt(2.0))
        return self.skip.forward_scaled(x, 1 / math.sqrt(2.0)).add_(out)


__all__ = [
    "PixelNorm",
    "FusedLeakyReLU",
    "EqualLinear",
    "EqualConv2d",
    "Blur",
    "Upsample",
    "ModulatedConv2d",
    "NoiseInjection",
    "ConstantInput",
    "StyledConv",
    "ToRGB",
    "ConvLayer",
    "ResBlock",
]
