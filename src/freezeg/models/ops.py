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


def fir_taps(kernel: torch.Tensor | None, default: tuple = (1, 3, 3, 1)) -> tuple:
    """The 1-D taps of a stored 2-D FIR kernel (an outer product, any gain), smallest tap 1;
    `default` when there is no kernel."""
    if kernel is None:
        return default
    taps = kernel.double().sum(1)
    taps = taps / taps.min()
    rounded = taps.round()
    if torch.allclose(taps, rounded, atol=1e-4):
        taps = rounded
    return tuple(int(t) if float(t).is_integer() else float(t) for t in taps.tolist())


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

    Output size per axis: (H * up + pad0 + pad1 - kh) // down + 1, as in NVlabs' op. The
    kernel is a constant (no gradient flows to it); the gradient with respect to `x` is again
    an upfirdn2d (see _UpFirDn2d), so double backpropagation (R1) costs two filter passes.
    """
    if x.ndim != 4:
        raise ValueError(f"upfirdn2d expects [N, C, H, W], got shape {tuple(x.shape)}")
    pad0, pad1 = _pair(pad)
    h, w = x.shape[2:]
    kh, kw = kernel.shape
    if h * up + pad0 + pad1 - kh + 1 <= 0 or w * up + pad0 + pad1 - kw + 1 <= 0:
        raise ValueError(f"upfirdn2d: input {h}x{w} too small for kernel {kh}x{kw} with pad {pad}")
    kernel = kernel.detach().to(dtype=x.dtype, device=x.device)
    return _UpFirDn2d.apply(x, kernel, int(up), int(down), (pad0, pad1, pad0, pad1))


def _upfirdn2d_forward(x: torch.Tensor, kernel: torch.Tensor, up: int, down: int, pads: tuple) -> torch.Tensor:
    """upfirdn2d's value; pads = (x before, x after, y before, y after)."""
    px0, px1, py0, py1 = pads
    c, h, w = x.shape[1:]
    kh, kw = kernel.shape
    out_h = h * up + py0 + py1 - kh + 1  # before keeping every down-th sample
    out_w = w * up + px0 + px1 - kw + 1

    if up > 1:
        # A stride-`up` transposed convolution with the (unflipped) kernel is zero insertion
        # followed by a full true convolution, without multiplying the inserted zeros. Output
        # sample j of the padded valid convolution is sample j + k - 1 - pad0 of the full one.
        weight = kernel[None, None].expand(c, 1, kh, kw)
        y = F.conv_transpose2d(x, weight, stride=up, groups=c)
        off_h, off_w = kh - 1 - py0, kw - 1 - px0
        y = F.pad(y, [-off_w, out_w + off_w - y.shape[3], -off_h, out_h + off_h - y.shape[2]])
        return y[:, :, ::down, ::down] if down > 1 else y

    # No upsampling: pad (negative pads crop), then cross-correlate with the flipped kernel;
    # the conv stride keeps every down-th output sample. Equal non-negative pads go to the
    # convolution itself, which saves a padded copy of x.
    weight = kernel.flip([0, 1])[None, None].expand(c, 1, kh, kw)
    if px0 == px1 >= 0 and py0 == py1 >= 0:
        return F.conv2d(x, weight, stride=down, padding=(py0, px0), groups=c)
    x = F.pad(x, [px0, px1, py0, py1])
    return F.conv2d(x, weight, stride=down, groups=c)


class _UpFirDn2d(torch.autograd.Function):
    """upfirdn2d with its adjoint as backward: the transpose of "upsample by u, filter with k,
    keep every d-th sample" is "upsample by d, filter with flipped k, keep every u-th sample"
    with complementary pads (NVlabs' upfirdn2d gradient). Expressing the gradient this way
    keeps double backward a filter too, where PyTorch's own double backward of a depthwise
    convolution runs one small convolution per channel group."""

    @staticmethod
    def forward(ctx, x, kernel, up, down, pads):
        ctx.save_for_backward(kernel)
        ctx.geometry = (x.shape[2], x.shape[3], up, down, pads)
        return _upfirdn2d_forward(x, kernel, up, down, pads)

    @staticmethod
    def backward(ctx, dy):
        (kernel,) = ctx.saved_tensors
        in_h, in_w, up, down, (px0, px1, py0, py1) = ctx.geometry
        kh, kw = kernel.shape
        out_h, out_w = dy.shape[2], dy.shape[3]
        grad_pads = (
            kw - px0 - 1,
            in_w * up - out_w * down + px0 - up + 1,
            kh - py0 - 1,
            in_h * up - out_h * down + py0 - up + 1,
        )
        kernel = kernel.flip([0, 1]).to(dy.dtype)  # dy is bfloat16 when the forward ran under autocast
        return _UpFirDn2d.apply(dy, kernel, down, up, grad_pads), None, None, None, None


def conv2d(
    x: torch.Tensor,  # [N, Cin, H, W]
    weight: torch.Tensor,  # [Cout, Cin, k, k]; [Cin, Cout, k, k] when transposed
    bias: torch.Tensor | None = None,  # [Cout]
    stride: int = 1,
    padding: int = 0,
    transposed: bool = False,  # conv_transpose2d (upsampling) instead of conv2d
) -> torch.Tensor:
    """F.conv2d / F.conv_transpose2d (groups 1): the same values and gradients, faster
    backward passes for channels_last CPU tensors (see _Conv2dNHWC). Other tensors go
    straight to PyTorch."""
    if x.device.type == "cpu" and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return _Conv2dNHWC.apply(x, weight, bias, stride, padding, transposed)
    if transposed:
        return F.conv_transpose2d(x, weight, bias, stride, padding)
    return F.conv2d(x, weight, bias, stride, padding)


class _Conv2dNHWC(torch.autograd.Function):
    """A convolution whose backward is written with ordinary differentiable ops.

    - Input gradient: the adjoint convolution (conv_transpose2d for a conv, conv2d for a
      transposed conv). Its own backward is a normal convolution weight gradient, where
      PyTorch's double backward of a convolution (R1's second pass through D) computes weight
      gradients as a convolution with an image-sized kernel, several times slower on CPU.
    - Weight and bias gradient: aten.convolution_backward; for strided convolutions on NCHW
      copies, because oneDNN's channels_last weight gradient of a strided convolution is
      2-3x slower while its forward pass and input gradient are faster.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, transposed):
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, transposed, bias is not None)
        if transposed:
            return F.conv_transpose2d(x, weight, bias, stride, padding)
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        stride, padding, transposed, has_bias = ctx.conf
        # Under autocast the forward ran in bfloat16 while x/weight were saved as given: compute
        # the gradients in one common dtype (autograd casts each back to its input's dtype).
        dtype = torch.promote_types(torch.promote_types(dy.dtype, x.dtype), weight.dtype)
        dy, x, weight = dy.to(dtype), x.to(dtype), weight.to(dtype)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            if transposed:
                grad_x = F.conv2d(dy, weight, None, stride, padding)
            else:
                # output_padding recovers the input rows a strided conv did not reach
                k_h, k_w = weight.shape[2:]
                extra = [
                    x.shape[2] - ((dy.shape[2] - 1) * stride - 2 * padding + k_h),
                    x.shape[3] - ((dy.shape[3] - 1) * stride - 2 * padding + k_w),
                ]
                grad_x = F.conv_transpose2d(dy, weight, None, stride, padding, extra)
        want_b = has_bias and ctx.needs_input_grad[2]
        if ctx.needs_input_grad[1] or want_b:
            if stride > 1:
                dy, x = dy.contiguous(), x.contiguous()
            out_channels = weight.shape[1] if transposed else weight.shape[0]
            _, grad_w, grad_b = torch.ops.aten.convolution_backward(
                dy, x, weight, [out_channels] if want_b else None,
                [stride, stride], [padding, padding], [1, 1], transposed, [0, 0], 1,
                [False, ctx.needs_input_grad[1], want_b],
            )
        return grad_x, grad_w, grad_b, None, None, None


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


def demod_noise_bias_act(
    x: torch.Tensor,  # [B, C, H, W] modulated convolution output, not yet demodulated
    demod: torch.Tensor | None = None,  # [B, C] per-sample output scale; None: already applied
    noise: torch.Tensor | None = None,  # [1 or B, 1, H, W]
    noise_strength: torch.Tensor | None = None,  # [1] learned noise scale
    bias: torch.Tensor | None = None,  # [C]
    negative_slope: float = LEAKY_SLOPE,
    gain: float = LEAKY_GAIN,
    clamp: float | None = None,  # then clamp to +-clamp (NVlabs' conv_clamp); None: no clamp
) -> torch.Tensor:
    """leaky_relu(x * demod + strength * noise + bias) * gain: a synthesis layer's epilogue.

    The same value as the separate steps, in two or three passes over x instead of five:
    leaky_relu(z) * g == leaky_relu(z * g) for g > 0, so the gain goes into the small factors
    (demod, noise strength, bias), and the bias and the activation work in place on a tensor
    that autograd does not keep.
    """
    scale = None if demod is None else demod[:, :, None, None] * gain  # [B, C, 1, 1]
    if noise is not None:
        term = noise * (noise_strength * gain)  # [1 or B, 1, H, W]
        y = torch.add(term, x, alpha=gain) if scale is None else torch.addcmul(term, x, scale)
    else:
        y = x * gain if scale is None else x * scale
    if bias is not None:
        y = y.add_(bias.view(1, -1, *([1] * (x.ndim - 2))) * gain)
    y = F.leaky_relu_(y, negative_slope)
    if clamp is not None:
        y = y.clamp(-clamp, clamp)  # not in place: leaky_relu_'s backward reads its output
    return y
