"""Image distances for projection (`--loss`): a registry of differentiable per-sample distances.

Every distance is an nn.Module whose forward(x, y) takes image batches in [-1, 1]
[B, 3, H, W] and returns one distance per sample [B], differentiable w.r.t. x. Samples never
interact, so images projected together in one batch are optimised independently.

- `default`: works offline with nothing downloaded: 0.9 L1 + 0.1 (1 - MS-SSIM), MS-SSIM over
  the scales that fit the image (see metrics.fidelity). The L1 + MS-SSIM mix follows Zhao et
  al. 2017 ("Loss Functions for Image Restoration with Neural Networks"), but pixel-dominant:
  their SSIM-dominant 0.84 share stalled inversions in our tests (generated 16px images came
  back at 14-33 dB PSNR instead of 24-55 dB with L1 after 300 W+ steps).
- `lpips`: the learned perceptual distance of Zhang et al. 2018, from freezeg.metrics.lpips
  (needs its backbone and linear-layer weights: `--lpips-vgg`, `--lpips-lin`).
- `inception`: squared L2 distance between unit-normalised 2048-d pool features of the FID
  Inception network, from freezeg.metrics.inception (`--inception PATH`).

The perceptual networks are imported only when asked for, so the default needs nothing more.
"""

from __future__ import annotations

import inspect
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..metrics.fidelity import ms_ssim

MS_SSIM_SHARE = 0.1  # weight of (1 - MS-SSIM) in the default distance (L1 gets the rest)
PERCEPTUAL_MAX_SIDE = 256  # larger images are area-downsampled before LPIPS (as rosinality's projector)
PERCEPTUAL_MIN_SIDE = 32  # smaller ones are upsampled: VGG pools four times before its last tap


class DefaultDistance(nn.Module):
    """(1 - alpha) L1 + alpha (1 - MS-SSIM), per sample; L1 measured on the [0, 1] scale."""

    def __init__(
        self,
        alpha: float = MS_SSIM_SHARE,  # share of the MS-SSIM term
    ):
        super().__init__()
        if not 0 <= alpha <= 1:
            raise ValueError(f"default distance: alpha must be in [0, 1], got {alpha}")
        self.alpha = alpha

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # [B,3,H,W] x2 -> [B]
        l1 = (x - y).abs().mean(dim=[1, 2, 3]) / 2  # [-1, 1] -> [0, 1] scale
        if self.alpha == 0:
            return l1
        return self.alpha * (1 - ms_ssim(x, y)) + (1 - self.alpha) * l1


def _fit_side(x: torch.Tensor, smallest: int, largest: int) -> torch.Tensor:
    """Area-downsample images over `largest` px, bilinearly upsample those under `smallest`."""
    side = max(x.shape[2], x.shape[3])
    if side > largest:
        return F.interpolate(x, size=(largest, largest), mode="area")
    if min(x.shape[2], x.shape[3]) < smallest:
        return F.interpolate(x, size=(smallest, smallest), mode="bilinear", align_corners=False)
    return x


class LPIPSDistance(nn.Module):
    """LPIPS distance per sample (a frozen network; gradients flow only to the images)."""

    def __init__(
        self,
        network: nn.Module,  # module(x, y) -> [B] (or [B, 1, 1, 1]) LPIPS distances
        max_side: int = PERCEPTUAL_MAX_SIDE,  # images larger than this are area-downsampled first
        min_side: int = PERCEPTUAL_MIN_SIDE,  # images smaller than this are upsampled first
    ):
        super().__init__()
        self.network = network.eval().requires_grad_(False)
        self.max_side = max_side
        self.min_side = min_side

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, y = (_fit_side(t, self.min_side, self.max_side) for t in (x, y))
        d = self.network(x, y)
        return d.reshape(x.shape[0], -1).sum(dim=1)


class InceptionDistance(nn.Module):
    """||f(x)/|f(x)| - f(y)/|f(y)|||^2 per sample, f = 2048-d Inception pool features."""

    def __init__(
        self,
        network: nn.Module,  # module(x) -> [B, 2048] pool features, x in [-1, 1] of any size
    ):
        super().__init__()
        self.network = network.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx = F.normalize(self.network(x).reshape(x.shape[0], -1), dim=1)
        fy = F.normalize(self.network(y).reshape(y.shape[0], -1), dim=1)
        return (fx - fy).square().sum(dim=1)


def _perceptual_loader(module: str, function: str, loss: str) -> Callable:
    """Import freezeg.metrics.<module>.<function>, or a one-line ValueError saying what is missing."""
    try:
        mod = __import__(f"freezeg.metrics.{module}", fromlist=[function])
        return getattr(mod, function)
    except (ImportError, AttributeError) as e:
        raise ValueError(
            f"--loss {loss}: this freezeg install has no {loss} network (freezeg.metrics.{module}: {e}); "
            "use --loss default, which needs no downloaded weights"
        ) from None


def _make_default(device="cpu", alpha: float = MS_SSIM_SHARE) -> nn.Module:
    return DefaultDistance(alpha=alpha).to(device)


def _load(loss: str, loader: Callable, **kwargs) -> nn.Module:
    """Call a perceptual loader; its how-to-get-the-weights error gets the loss named in front."""
    try:
        return loader(**kwargs)
    except ValueError as e:
        raise ValueError(f"--loss {loss}: {e}") from None


def _make_lpips(device="cpu", lpips_vgg: str | None = None, lpips_lin: str | None = None) -> nn.Module:
    load_lpips = _perceptual_loader("lpips", "load_lpips", "lpips")
    network = _load("lpips", load_lpips, vgg_path=lpips_vgg, lin_path=lpips_lin, device=device)
    return LPIPSDistance(network).to(device)


def _make_inception(device="cpu", inception: str | None = None) -> nn.Module:
    load_inception = _perceptual_loader("inception", "load_inception", "inception")
    network = _load("inception", load_inception, path=inception, device=device)
    return InceptionDistance(network).to(device)


DISTANCES: dict[str, Callable[..., nn.Module]] = {
    "default": _make_default,
    "lpips": _make_lpips,
    "inception": _make_inception,
}


def make_distance(name: str = "default", **options) -> nn.Module:
    """The distance called `name` (see DISTANCES); options: device, and per distance
    alpha (default), lpips_vgg / lpips_lin (lpips), inception (inception). Options set to None
    are dropped, so CLI arguments can be passed through unchanged."""
    if name not in DISTANCES:
        raise ValueError(f"--loss {name!r}: unknown distance (choose from {', '.join(DISTANCES)})")
    options = {k: v for k, v in options.items() if v is not None}
    factory = DISTANCES[name]
    known = inspect.signature(factory).parameters
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"--loss {name}: option {', '.join(unknown)} does not apply to this distance")
    return factory(**options)
