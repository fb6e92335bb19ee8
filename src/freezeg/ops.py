"""Low-level ops of StyleGAN2 in pure PyTorch: FIR up/down-sampling and bias + leaky ReLU.

Every op here is differentiable, runs on any device and has no compiled extension.
Semantics follow NVlabs' `upfirdn2d` (as re-implemented by rosinality/stylegan2-pytorch):
zero-insertion upsampling by `up`, padding, a *true* 2-D convolution with the FIR kernel,
then keeping every `down`-th sample.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

LEAKY_SLOPE = 0.2
LEAKY_GAIN = math.sqrt(2.0)


def make_kernel(taps: Sequence[float], gain: float = 1.0) -> torch.Tensor:
    """The normalised 2-D FIR kernel (outer product of `taps`, summing to `gain`)."""
    k = torch.as_tensor(taps, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    if k.ndim != 2:
        raise ValueError(f"FIR kernel must be 1-D or 2-D, got shape {tuple(k.shape)}")
    return k / k.sum() * gain


def _pair(value) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"expected a pair, got {value!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def upfirdn2d(
    x: torch.Tensor,  # [N, C, H, W]
    kernel: torch.Tensor,  # [kh, kw] FIR kernel (used as a true convolution)
    up: int = 1,  # integer upsampling factor (zero insertion)
    down: int = 1,  # integer downsampling factor (keep every down-th sample)
    pad: Sequence[int] = (0, 0),  # (before, after) padding in the upsampled grid; negative crops
) -> torch.Tensor:
    """Upsample, FIR-filter and downsample each channel of `x` independently.

    Output size per axis: (H * up + pad0 + pad1 - kh) // down + 1, as in NVlabs' op.
    """
    if x.ndim != 4:
        raise ValueError(f"upfirdn2d expects [N, C, H, W], got shape {tuple(x.shape)}")
    pad0, pad1 = _pair(pad)
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    kernel = kernel.to(dtype=x.dtype, device=x.device)
    out_h = h * up + pad0 + pad1 - kh + 1
    out_w = w * up + pad0 + pad1 - kw + 1
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"upfirdn2d: input {h}x{w} too small for kernel {kh}x{kw} with pad {pad}")

    if up > 1:
        # A stride-`up` transposed convolution with the (unflipped) kernel is zero insertion
        # followed by a full true convolution, without multiplying the inserted zeros. Output
        # sample j of the padded valid convolution is sample j + k - 1 - pad0 of the full one.
        weight = kernel[None, None].expand(c, 1, kh, kw)
        y = F.conv_transpose2d(x, weight, stride=up, groups=c)
        off_h, off_w = kh - 1 - pad0, kw - 1 - pad0
        y = F.pad(y, [-off_w, out_w + off_w - y.shape[3], -off_h, out_h + off_h - y.shape[2]])
        return y[:, :, ::down, ::down] if down > 1 else y

    # No upsampling: pad (negative pads crop), then cross-correlate with the flipped kernel;
    # the conv stride keeps every down-th output sample.
    x = F.pad(x, [pad0, pad1, pad0, pad1])
    weight = kernel.flip([0, 1])[None, None].expand(c, 1, kh, kw)
    return F.conv2d(x, weight, stride=down, groups=c)


def upsample_pad(kernel_size: int, factor: int = 2) -> tuple[int, int]:
    """Padding that makes `upfirdn2d(up=factor)` map H to H*factor exactly (skip connections)."""
    p = kernel_size - factor
    return (p + 1) // 2 + factor - 1, p // 2


def downsample_pad(kernel_size: int, factor: int = 2) -> tuple[int, int]:
    """Padding that makes `upfirdn2d(down=factor)` map H to H/factor exactly."""
    p = kernel_size - factor
    return (p + 1) // 2, p // 2


def bias_leaky_relu(
    x: torch.Tensor,  # [N, C, ...]
    bias: torch.Tensor | None = None,  # [C] added before the activation
    negative_slope: float = LEAKY_SLOPE,
    gain: float = LEAKY_GAIN,  # output scale that keeps the activation's variance
) -> torch.Tensor:
    """StyleGAN2's fused bias + leaky ReLU: leaky_relu(x + b) * sqrt(2)."""
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, negative_slope) * gain
