"""Inversion fidelity: PSNR, SSIM and MS-SSIM between images in [-1, 1], one number per sample.

SSIM follows Wang et al. 2004 ("Image quality assessment: from error visibility to structural
similarity"): an 11-tap Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, valid filtering.
MS-SSIM follows Wang, Simoncelli & Bovik 2003 ("Multi-scale structural similarity"): contrast-
structure terms at every scale, luminance at the coarsest, combined with the paper's five
exponents. Everything is differentiable, so the same code serves as a projection loss.

Small images: the window shrinks to the largest odd size that fits (7 taps at 8px), and
MS-SSIM uses only the scales whose side stays >= 8 px (2 scales at 16px, 5 at 128px and up),
with the paper's exponents for those scales renormalised to sum to one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

DATA_RANGE = 2.0  # images live in [-1, 1]
WINDOW = 11  # Gaussian window taps
SIGMA = 1.5  # Gaussian window standard deviation in pixels
K1, K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # fine -> coarse
MS_SSIM_MIN_SIDE = 8  # the coarsest MS-SSIM scale is at least this many pixels


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.ndim != 4 or x.shape != y.shape:
        raise ValueError(f"expected two image batches of the same shape [B, C, H, W], got {tuple(x.shape)} and {tuple(y.shape)}")


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = DATA_RANGE) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per sample: [B, C, H, W] x2 -> [B] (capped near 120 dB)."""
    _check_pair(x, y)
    mse = (x.float() - y.float()).square().mean(dim=[1, 2, 3]).clamp_min(1e-12)
    return 10.0 * torch.log10(data_range**2 / mse)


def _window_taps(side: int) -> int:
    """The Gaussian window size used for an image of this side: 11, or the largest odd size that fits."""
    taps = min(WINDOW, side)
    return taps if taps % 2 == 1 else taps - 1


def _gaussian(taps: int, device, dtype) -> torch.Tensor:
    r = torch.arange(taps, device=device, dtype=dtype) - (taps - 1) / 2
    g = torch.exp(-(r**2) / (2 * SIGMA**2))
    return g / g.sum()  # [taps]


def _filter(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable valid Gaussian filtering of each channel: [B, C, H, W] -> [B, C, H-k+1, W-k+1]."""
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _ssim_terms(x: torch.Tensor, y: torch.Tensor, data_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean luminance*contrast*structure (SSIM) and contrast*structure, per sample: ([B], [B])."""
    side = min(x.shape[2], x.shape[3])
    if side < 3:
        raise ValueError(f"SSIM needs images of at least 3x3 pixels, got {x.shape[2]}x{x.shape[3]}")
    g = _gaussian(_window_taps(side), x.device, x.dtype)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu_x, mu_y = _filter(x, g), _filter(y, g)
    var_x = _filter(x * x, g) - mu_x.square()
    var_y = _filter(y * y, g) - mu_y.square()
    cov = _filter(x * y, g) - mu_x * mu_y
    cs_map = (2 * cov + c2) / (var_x + var_y + c2)
    lum_map = (2 * mu_x * mu_y + c1) / (mu_x.square() + mu_y.square() + c1)
    return (lum_map * cs_map).mean(dim=[1, 2, 3]), cs_map.mean(dim=[1, 2, 3])


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = DATA_RANGE) -> torch.Tensor:
    """Structural similarity per sample, averaged over channels and positions: [B] in [-1, 1]."""
    _check_pair(x, y)
    return _ssim_terms(x.float(), y.float(), data_range)[0]


def ms_ssim_scales(side: int) -> int:
    """How many MS-SSIM scales fit an image of this side (coarsest scale >= 8 px, at most 5)."""
    if side < MS_SSIM_MIN_SIDE:
        return 1
    return min(len(MS_SSIM_WEIGHTS), int(math.log2(side / MS_SSIM_MIN_SIDE)) + 1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = DATA_RANGE, scales: int | None = None) -> torch.Tensor:
    """Multi-scale SSIM per sample: [B] in [0, 1] (negative contrast terms are clamped, as usual)."""
    _check_pair(x, y)
    x, y = x.float(), y.float()
    scales = scales or ms_ssim_scales(min(x.shape[2], x.shape[3]))
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], device=x.device)
    weights = weights / weights.sum()
    out = torch.ones(x.shape[0], device=x.device)
    for j in range(scales):
        full, cs = _ssim_terms(x, y, data_range)
        # The coarsest scale contributes luminance too: full SSIM there; cs at the finer ones.
        term = full if j == scales - 1 else cs
        # Clamp before the fractional power: a negative base has no real power (NaN).
        out = out * term.clamp_min(1e-6) ** weights[j]
        if j < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return out
