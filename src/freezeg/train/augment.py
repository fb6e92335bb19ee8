"""Adaptive discriminator augmentation (ADA), pure PyTorch.

Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data": every image
that D sees, real or fake, goes through the same random augmentations, each applied with
probability p per image. With p < ~0.8 they do not "leak" into G's outputs, and they stop D
from memorising a small dataset. p is tuned on the fly: the overfitting heuristic
r_t = E[sign(D(real))] rises towards 1 as D grows over-confident on reals; p moves up when
r_t is above the target (0.6) and down when it is below.

This is the paper's "bgc" pipeline with its default strengths, in its order:
  blit      x-flip, 90-degree rotation, integer translation (up to 0.125 of the side)
  geometric isotropic scale (lognormal, std 0.2 log2), rotation (uniform angle, applied before
            and after the anisotropic scale, each with probability 1 - sqrt(1 - p) so that an
            image is rotated with probability p), anisotropic scale (std 0.2 log2),
            fractional translation (normal, std 0.125 of the side)
  colour    brightness (normal, std 0.2), contrast (lognormal, std 0.5 log2), luma flip,
            hue rotation about the grey axis (uniform angle), saturation (lognormal, std 1 log2)
The geometric transforms of an image are composed into one affine matrix and applied once by
bilinear resampling with mirror padding at the border; the colour ones into one 4x4 matrix on
RGB. Everything is differentiable w.r.t. the images, so G's gradient passes through.

Simplification: the paper resamples at twice the resolution between two wavelet (sym6)
low-pass filters to reduce blur and aliasing; here one bilinear `grid_sample` resamples at the
image's own resolution. Pixel-exact transforms (flips, 90-degree rotations, integer shifts)
are exact either way.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
import torch.distributed as dist
import torch.nn.functional as F

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
TRANSFORMS = GEOMETRIC + COLOUR

XINT_MAX = 0.125  # integer translation: uniform up to this fraction of the side
SCALE_STD = 0.2  # isotropic scale: lognormal, std in log2 units
ROTATE_MAX = 1.0  # rotation: uniform angle up to this fraction of a half turn (1 = any angle)
ANISO_STD = 0.2  # anisotropic scale: lognormal, std in log2 units
XFRAC_STD = 0.125  # fractional translation: normal, std as a fraction of the side
BRIGHTNESS_STD = 0.2  # added to every channel (images in [-1, 1])
CONTRAST_STD = 0.5  # lognormal, std in log2 units
HUE_MAX = 1.0  # hue rotation: uniform angle up to this fraction of a half turn
SATURATION_STD = 1.0  # lognormal, std in log2 units


class AdaptiveAugment(torch.nn.Module):
    """ADA: augment a batch with probability p per transform and image; tune p from D(real)."""

    def __init__(
        self,
        p: float = 0.0,  # initial augmentation probability, in [0, 1]
        target: float = 0.6,  # the value of r_t = E[sign(D(real))] that adaptation aims for
        adjust_kimg: float = 500,  # thousands of real images over which p can move by 1
        interval: int = 4,  # adjust p every this many update() calls
        adaptive: bool = True,  # False: p stays fixed (r_t is still measured)
        transforms: Iterable[str] = TRANSFORMS,  # which transforms of the pipeline to use
    ):
        super().__init__()
        self.transforms = tuple(transforms)
        unknown = [t for t in self.transforms if t not in TRANSFORMS]
        if unknown:
            raise ValueError(f"unknown augmentation {unknown[0]!r} (choose from {', '.join(TRANSFORMS)})")
        if not 0.0 < target < 1.0:
            raise ValueError(f"ADA target must be between 0 and 1, got {target}")
        if adjust_kimg <= 0 or interval < 1:
            raise ValueError(f"ADA needs adjust_kimg > 0 and interval >= 1, got {adjust_kimg} and {interval}")
        self.p = p
        self.target = float(target)
        self.adjust_kimg = float(adjust_kimg)
        self.interval = int(interval)
        self.adaptive = bool(adaptive)
        self._r_t: float | None = None
        self._reset_stats()

    # ---- the probability and its adaptation -------------------------------------------

    @property
    def p(self) -> float:
        """The probability with which each transform is applied to each image."""
        return self._p

    @p.setter
    def p(self, value: float) -> None:
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"augmentation probability must be in [0, 1], got {value}")
        self._p = float(value)

    @property
    def r_t(self) -> float | None:
        """E[sign(D(real))] over the last completed interval (None before the first one)."""
        return self._r_t

    def _reset_stats(self) -> None:
        self._sign_sum = torch.zeros(())  # sum of sign(D(real)), kept on D's device (no sync per call)
        self._count = 0  # number of real logits in that sum
        self._calls = 0  # update() calls since the last adjustment

    @torch.no_grad()
    def update(self, real_logits: torch.Tensor) -> None:
        """Record D's logits on a batch of reals; every `interval` calls, measure r_t and move p.

        p moves by sign(r_t - target) * (real images seen) / (adjust_kimg * 1000), clamped to
        [0, 1]. Under torch.distributed the statistic and the image count are summed over ranks.
        """
        logits = real_logits.detach()
        self._sign_sum = self._sign_sum.to(logits.device) + logits.sign().sum().float()
        self._count += logits.numel()
        self._calls += 1
        if self._calls < self.interval:
            return
        stats = torch.stack([self._sign_sum, torch.tensor(float(self._count), device=logits.device)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(stats)
        sign_sum, count = stats.tolist()
        self._reset_stats()
        if count <= 0:
            return
        self._r_t = sign_sum / count
        if self.adaptive:
            step = math.copysign(1.0, self._r_t - self.target) if self._r_t != self.target else 0.0
            self._p = min(max(self._p + step * count / (self.adjust_kimg * 1000), 0.0), 1.0)

    def get_extra_state(self) -> dict:
        # Plain Python numbers: they load with torch.load(weights_only=True) and on any device.
        return {"p": self._p, "r_t": self._r_t, "sign_sum": float(self._sign_sum),
                "count": self._count, "calls": self._calls}

    def set_extra_state(self, state: dict) -> None:
        self.p = state["p"]
        self._r_t = None if state.get("r_t") is None else float(state["r_t"])
        self._sign_sum = torch.tensor(float(state.get("sign_sum", 0.0)))
        self._count = int(state.get("count", 0))
        self._calls = int(state.get("calls", 0))

    def extra_repr(self) -> str:
        mode = f"adaptive, target={self.target}" if self.adaptive else "fixed"
        return f"p={self._p:.4f}, {mode}"

    # ---- augmenting -------------------------------------------------------------------

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Augment [B, 3, H, W] images (any float dtype and device); the input itself when p == 0."""
        if self._p <= 0.0 or not self.transforms:
            return images
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"augmentation expects RGB images [batch, 3, H, W], got {tuple(images.shape)}")
        if any(t in GEOMETRIC for t in self.transforms):
            images = _resample(images, self._geometric_matrix(images))
        if any(t in COLOUR for t in self.transforms):
            images = _recolour(images, self._colour_matrix(images))
        return images

    def _chance(self, values: torch.Tensor, identity: float, p: float | None = None) -> torch.Tensor:
        """Keep each image's values ([B] or [B, k]) with probability p (default self.p), else the identity."""
        keep = torch.rand(values.shape[0], device=values.device) < (self._p if p is None else p)
        keep = keep.reshape(-1, *([1] * (values.ndim - 1)))
        return torch.where(keep, values, torch.full_like(values, identity))

    def _geometric_matrix(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, 3] map from output to input pixel coordinates (origin at the image centre)."""
        b, _, h, w = images.shape
        dev, use = images.device, self.transforms
        m = torch.eye(3, device=dev).repeat(b, 1, 1)
        if "xflip" in use:
            i = self._chance(torch.randint(2, (b,), device=dev).float(), 0)
            m = m @ _scale2d(1 - 2 * i, torch.ones_like(i))
        if "rotate90" in use:
            i = self._chance(torch.randint(4, (b,), device=dev).float(), 0).long()
            cos = torch.tensor([1.0, 0.0, -1.0, 0.0], device=dev)[i]  # exact, so the result is pixel-exact
            sin = torch.tensor([0.0, 1.0, 0.0, -1.0], device=dev)[i]
            m = m @ _rotate2d(cos, -sin)
        if "xint" in use:
            t = (torch.rand(b, 2, device=dev) * 2 - 1) * XINT_MAX
            t = self._chance(torch.round(t * torch.tensor([w, h], device=dev)), 0)
            m = m @ _translate2d(-t[:, 0], -t[:, 1])
        if "scale" in use:
            s = self._chance(torch.exp2(torch.randn(b, device=dev) * SCALE_STD), 1)
            m = m @ _scale2d(1 / s, 1 / s)
        p_rot = 1 - math.sqrt(max(1 - self._p, 0.0))  # two chances of p_rot make one of p
        if "rotate" in use:
            theta = self._chance((torch.rand(b, device=dev) * 2 - 1) * math.pi * ROTATE_MAX, 0, p_rot)
            m = m @ _rotate2d(torch.cos(-theta), torch.sin(-theta))
        if "aniso" in use:
            s = self._chance(torch.exp2(torch.randn(b, device=dev) * ANISO_STD), 1)
            m = m @ _scale2d(1 / s, s)
        if "rotate" in use:
            theta = self._chance((torch.rand(b, device=dev) * 2 - 1) * math.pi * ROTATE_MAX, 0, p_rot)
            m = m @ _rotate2d(torch.cos(-theta), torch.sin(-theta))
        if "xfrac" in use:
            t = self._chance(torch.randn(b, 2, device=dev) * XFRAC_STD * torch.tensor([w, h], device=dev), 0)
            m = m @ _translate2d(-t[:, 0], -t[:, 1])
        return m

    def _colour_matrix(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 4, 4] affine map on homogeneous RGB (values in [-1, 1], grey axis (1, 1, 1))."""
        b, dev, use = images.shape[0], images.device, self.transforms
        c = torch.eye(4, device=dev).repeat(b, 1, 1)
        grey = torch.tensor([1.0, 1.0, 1.0, 0.0], device=dev) / math.sqrt(3)
        on_grey = torch.outer(grey, grey)  # projection onto the grey axis, the "luma" of the paper
        eye = torch.eye(4, device=dev)
        if "brightness" in use:
            v = self._chance(torch.randn(b, device=dev) * BRIGHTNESS_STD, 0)
            shift = eye.repeat(b, 1, 1)
            shift[:, :3, 3] = v[:, None]
            c = shift @ c
        if "contrast" in use:
            v = self._chance(torch.exp2(torch.randn(b, device=dev) * CONTRAST_STD), 1)
            c = _scale3d(v) @ c
        if "lumaflip" in use:
            i = self._chance(torch.randint(2, (b,), device=dev).float(), 0)
            c = (eye - 2 * on_grey * i[:, None, None]) @ c
        if "hue" in use:
            theta = self._chance((torch.rand(b, device=dev) * 2 - 1) * math.pi * HUE_MAX, 0)
            c = _rotate_about_grey(theta) @ c
        if "saturation" in use:
            v = self._chance(torch.exp2(torch.randn(b, device=dev) * SATURATION_STD), 1)
            c = (on_grey + (eye - on_grey) * v[:, None, None]) @ c
        return c


# ---- matrices (batched: one per image) ---------------------------------------------------


def _affine2d(a, b_, c, d, tx, ty) -> torch.Tensor:
    """[B, 3, 3] matrices [[a, b, tx], [c, d, ty], [0, 0, 1]] from [B] tensors."""
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    return torch.stack([a, b_, tx, c, d, ty, zero, zero, one], -1).reshape(-1, 3, 3)


def _scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros_like(sx)
    return _affine2d(sx, zero, zero, sy, zero, zero)


def _rotate2d(cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros_like(cos)
    return _affine2d(cos, -sin, sin, cos, zero, zero)


def _translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    one, zero = torch.ones_like(tx), torch.zeros_like(tx)
    return _affine2d(one, zero, zero, one, tx, ty)


def _scale3d(s: torch.Tensor) -> torch.Tensor:
    m = torch.eye(4, device=s.device).repeat(s.shape[0], 1, 1)
    m[:, 0, 0] = m[:, 1, 1] = m[:, 2, 2] = s
    return m


def _rotate_about_grey(theta: torch.Tensor) -> torch.Tensor:
    """[B, 4, 4] rotations of RGB by `theta` [B] about the grey axis (1, 1, 1) (Rodrigues' formula)."""
    k = 1.0 / math.sqrt(3)
    cross = torch.tensor([[0.0, -k, k], [k, 0.0, -k], [-k, k, 0.0]], device=theta.device)  # [axis]_x
    cos, sin = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    eye3 = torch.eye(3, device=theta.device)
    r = cos * eye3 + sin * cross + (1 - cos) * torch.full((3, 3), k * k, device=theta.device)
    m = torch.eye(4, device=theta.device).repeat(theta.shape[0], 1, 1)
    m[:, :3, :3] = r
    return m


# ---- applying them -----------------------------------------------------------------------


def _resample(images: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Sample each image at m @ (output pixel), bilinear, mirrored beyond the border."""
    _, _, h, w = images.shape
    # grid_sample's coordinates (align_corners=False) are the centred pixel ones scaled by 2/side.
    to_norm = torch.diag(torch.tensor([2.0 / w, 2.0 / h, 1.0], device=m.device))
    from_norm = torch.diag(torch.tensor([w / 2.0, h / 2.0, 1.0], device=m.device))
    theta = (to_norm @ m @ from_norm)[:, :2, :].to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _recolour(images: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    b, ch, h, w = images.shape
    c = c.to(images.dtype)
    out = c[:, :3, :3] @ images.reshape(b, ch, h * w) + c[:, :3, 3:]
    return out.reshape(b, ch, h, w)


def parse_augment(spec: str) -> AdaptiveAugment | None:
    """`--augment`: "ada" (adaptive from p = 0), "fixed:P" (constant p = P) or "none" (None)."""
    text = str(spec).strip().lower()
    if text == "none":
        return None
    if text == "ada":
        return AdaptiveAugment(p=0.0, adaptive=True)
    if text.startswith("fixed:"):
        try:
            p = float(text[len("fixed:"):])
        except ValueError:
            p = float("nan")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"--augment {spec}: P must be a number between 0 and 1 (e.g. fixed:0.2)")
        return AdaptiveAugment(p=p, adaptive=False)
    raise ValueError(f"--augment: expected ada, fixed:P (0 <= P <= 1) or none, got {spec!r}")
