"""Cutting the FFHQ crop of one face out of a photo, and remembering how to put it back.

`align(photo, face, size)` returns an AlignedFace: the size x size crop and the quad it came
from, which is all `paste_back` needs to map a translated crop back into the photo.

Where the quad reaches past the photo's edge (a face near the border), the missing part is
filled as NVlabs' FFHQ script fills it: the photo mirrored outwards, increasingly blurred
and faded towards its median colour, so the generator does not see a hard black edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from .detect import Face
from .geometry import apply_affine, ffhq_quad, invert_affine, quad_side, square_to_quad, warp_affine


@dataclass(frozen=True)
class AlignedFace:
    """An FFHQ-aligned crop and the transform that relates it to its photo."""

    image: np.ndarray  # uint8 [size, size, 3]
    quad: np.ndarray  # [4, 2] the crop's corners in the photo, pixel coordinates (top-left, bottom-left, bottom-right, top-right)
    photo_shape: tuple[int, int]  # (height, width) of the photo
    face: Face  # what the detector found

    @property
    def size(self) -> int:
        return int(self.image.shape[0])

    @property
    def side_in_photo(self) -> float:
        """The crop's side measured in photo pixels (the face's scale in the photo)."""
        return quad_side(self.quad)

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        """Crop pixel coordinates [N, 2] -> photo pixel coordinates."""
        return apply_affine(square_to_quad(self.quad, self.size), np.asarray(points, dtype=np.float64) + 0.5) - 0.5

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Photo pixel coordinates [N, 2] -> crop pixel coordinates."""
        inverse = invert_affine(square_to_quad(self.quad, self.size))
        return apply_affine(inverse, np.asarray(points, dtype=np.float64) + 0.5) - 0.5


def _box(quad: np.ndarray, border: int) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1), end exclusive, around a quad plus `border` pixels."""
    return (int(math.floor(quad[:, 0].min())) - border, int(math.floor(quad[:, 1].min())) - border,
            int(math.ceil(quad[:, 0].max())) + border + 1, int(math.ceil(quad[:, 1].max())) + border + 1)


def _source_region(photo: np.ndarray, quad: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of the photo the crop is resampled from (float32 [h, w, 3]), and the quad in its pixel coordinates.

    As NVlabs' script: a border of 10% of the crop side around the quad; shrunk by an integer
    factor first when the face is at least twice the crop size (a box average: cheap, and it
    keeps a 12-megapixel face from being padded and blurred at full size); mirrored and faded
    outwards where the quad leaves the photo.
    """
    h, w = photo.shape[:2]
    qsize = quad_side(quad)
    x0, y0, x1, y1 = _box(quad, max(int(round(qsize * 0.1)), 3))
    inside = photo[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]
    if inside.size == 0:
        raise ValueError("the face's crop lies wholly outside the photo")
    quad = quad - (max(x0, 0), max(y0, 0))
    shrink = int(qsize // size)
    if shrink >= 2:  # pixel i averages [i k, (i + 1) k); in float, so no rounding bias
        inside = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(inside[..., c], dtype=np.float32), "F")
                                      .reduce(shrink)) for c in range(3)], -1)
        quad = (quad + 0.5) / shrink - 0.5
        qsize /= shrink
    else:
        inside = inside.astype(np.float32)
    rh, rw = inside.shape[:2]
    bx0, by0, bx1, by1 = _box(quad, max(int(round(qsize * 0.1)), 3))
    pads = (max(-bx0, 0), max(-by0, 0), max(bx1 - rw, 0), max(by1 - rh, 0))  # left, top, right, bottom
    if max(pads) == 0:
        return inside, quad
    # NVlabs' fill: pad by at least 30% of the crop side, mirrored; the further out, the more
    # blurred, and the more the region's median colour takes over.
    grow = int(round(qsize * 0.3))
    left, top, right, bottom = (max(p, grow) if p else 0 for p in pads)
    region = np.pad(inside, ((top, bottom), (left, right), (0, 0)), mode="reflect")
    rh, rw = region.shape[:2]
    yy, xx = np.ogrid[:rh, :rw]
    # Per padded side: 1 at the outer edge, 0 where the photo starts, negative inside the photo
    # (the blur already fades in over the last third of a pad's width inside it, as NVlabs').
    depth = np.full((rh, rw), -np.inf, dtype=np.float32)
    for distance, pad in ((xx, left), (rw - 1 - xx, right), (yy, top), (rh - 1 - yy, bottom)):
        if pad:
            depth = np.maximum(depth, 1.0 - distance.astype(np.float32) / pad)
    depth = depth[..., None]
    blurred = Image.fromarray(np.clip(np.rint(region), 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(radius=max(qsize * 0.02, 0.5)))
    region += (np.asarray(blurred, dtype=np.float32) - region) * np.clip(depth * 3.0 + 1.0, 0.0, 1.0)
    region += (np.median(region, axis=(0, 1)) - region) * np.clip(depth, 0.0, 1.0)
    return region, quad + (left, top)


def align(
    photo: np.ndarray,  # RGB uint8 [H, W, 3]
    face: Face,  # a face found in it (landmarks in its pixel coordinates)
    size: int,  # side of the aligned crop (the model's size)
) -> AlignedFace:
    """The FFHQ-aligned size x size crop of `face`: rotated level, scaled and resampled with antialiasing."""
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 photo [H, W, 3], got {photo.dtype} {photo.shape}")
    if size < 1:
        raise ValueError(f"crop size must be positive, got {size}")
    quad = ffhq_quad(face.landmarks)
    region, local_quad = _source_region(photo, quad, size)
    crop = warp_affine(region, square_to_quad(local_quad, size), size, size)
    crop = np.clip(np.rint(crop), 0, 255).astype(np.uint8)
    return AlignedFace(crop, quad, (int(photo.shape[0]), int(photo.shape[1])), face)
