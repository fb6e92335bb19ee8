"""Putting a translated face back into its photo: the inverse warp and a feathered mask.

The translated crop covers the same square of the photo as the aligned crop it was made from
(AlignedFace.quad). Each photo pixel under that square takes the translated crop's colour
at the inversely warped position, blended through a mask that is 1 inside the square and
falls smoothly to 0 over a margin at its edges, so no seam shows where the crop ends.
"""

from __future__ import annotations

import math

import numpy as np

from .crop import AlignedFace
from .geometry import invert_affine, square_to_quad, warp_affine

FEATHER = 0.1  # width of the mask's soft edge, as a fraction of the crop side


def feathered_mask(size: int, feather: float = FEATHER) -> np.ndarray:
    """float32 [size, size]: 1 in the middle, easing (smoothstep) to 0 at the edges over `feather` x size pixels."""
    if not 0 <= feather <= 0.5:
        raise ValueError(f"feather must be in [0, 0.5] (a fraction of the crop side), got {feather}")
    centres = np.arange(size, dtype=np.float32) + 0.5
    to_edge = np.minimum(centres, size - centres)  # distance of each pixel centre to the nearer edge
    width = feather * size
    ramp = np.ones(size, dtype=np.float32) if width == 0 else np.clip(to_edge / width, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)
    return np.minimum(ramp[:, None], ramp[None, :])


def paste_back(
    photo: np.ndarray,  # RGB uint8 [H, W, 3], the photo the face was aligned from
    aligned: AlignedFace,  # the crop's transform (align's result)
    translated: np.ndarray,  # RGB uint8 [T, T, 3]: the crop after translation (any side T)
    feather: float = FEATHER,  # soft edge of the blend, fraction of the crop side
) -> np.ndarray:
    """A copy of `photo` with `translated` blended in where the aligned crop was taken, full resolution."""
    if photo.shape[:2] != aligned.photo_shape:
        raise ValueError(f"photo is {photo.shape[1]}x{photo.shape[0]}, but the face was aligned in a "
                         f"{aligned.photo_shape[1]}x{aligned.photo_shape[0]} photo")
    if translated.ndim != 3 or translated.shape[0] != translated.shape[1] or translated.shape[2] != 3:
        raise ValueError(f"expected a square RGB translation [T, T, 3], got {translated.shape}")
    h, w = photo.shape[:2]
    quad = aligned.quad
    x0, y0 = max(int(math.floor(quad[:, 0].min())) - 1, 0), max(int(math.floor(quad[:, 1].min())) - 1, 0)
    x1, y1 = min(int(math.ceil(quad[:, 0].max())) + 2, w), min(int(math.ceil(quad[:, 1].max())) + 2, h)
    out = photo.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    # Region continuous coordinates -> photo -> the translated crop's continuous coordinates.
    to_crop = invert_affine(square_to_quad(quad, translated.shape[0]))
    to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], dtype=np.float64)
    width, height = x1 - x0, y1 - y0
    face = warp_affine(np.ascontiguousarray(translated, dtype=np.uint8), to_crop, width, height).astype(np.float32)
    mask = warp_affine(feathered_mask(translated.shape[0], feather), to_crop, width, height)
    mask = np.clip(mask, 0.0, 1.0)[..., None]  # bicubic overshoots a little
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(np.rint(region + (face - region) * mask), 0, 255).astype(np.uint8)
    return out
