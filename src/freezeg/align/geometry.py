"""FFHQ crop geometry: the oriented square from 68 landmarks, and antialiased affine resampling.

Coordinates. Landmarks, quads and boxes are in *pixel coordinates*: (x, y) with the centre of
pixel (column i, row j) at (i, j), as dlib reports them. Resampling works in *continuous
coordinates*, where that pixel covers [i, i + 1) x [j, j + 1): continuous = pixel + 0.5. This
is Pillow's convention for `Image.transform`, and NVlabs' FFHQ script converts between the
two the same way (it passes `quad + 0.5` to Pillow).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

LANDMARKS = 68  # the iBUG 300-W point set (dlib's shape_predictor_68_face_landmarks)
EYE_LEFT = slice(36, 42)  # the eye on the image's left (the subject's right eye)
EYE_RIGHT = slice(42, 48)
MOUTH_LEFT, MOUTH_RIGHT = 48, 54  # outer mouth corners


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """The FFHQ crop of a face: corners [4, 2] (top-left, bottom-left, bottom-right, top-right)
    in pixel coordinates, from its 68 landmarks [68, 2].

    As NVlabs' ffhq-dataset script (`recreate_aligned_images`, rotate_level=True): the square
    is centred 10% of the way from the eye midpoint to the mouth midpoint; its x axis is the
    eye-to-eye direction corrected by the perpendicular of eye-to-mouth (so a tilted head
    comes out level); its half side is the larger of 2x the eye distance and 1.8x the
    eye-to-mouth distance.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (LANDMARKS, 2) or not np.isfinite(lm).all():
        raise ValueError(f"expected {LANDMARKS} finite (x, y) landmarks, got an array of shape {lm.shape}")
    eye_left, eye_right = lm[EYE_LEFT].mean(0), lm[EYE_RIGHT].mean(0)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    mouth_avg = (lm[MOUTH_LEFT] + lm[MOUTH_RIGHT]) / 2
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])  # eye_to_mouth rotated by -90 degrees
    norm = math.hypot(*x)
    if norm == 0:
        raise ValueError("degenerate landmarks: eyes and mouth coincide")
    x *= max(math.hypot(*eye_to_eye) * 2.0, math.hypot(*eye_to_mouth) * 1.8) / norm
    y = np.array([-x[1], x[0]])  # x rotated by +90 degrees (down the face)
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def quad_side(quad: np.ndarray) -> float:
    """Side length of a square quad (as `ffhq_quad` returns), in the quad's pixel units."""
    q = np.asarray(quad, dtype=np.float64)
    return float(np.hypot(*(q[3] - q[0])))


def square_to_quad(quad: np.ndarray, size: int) -> np.ndarray:
    """Affine [2, 3]: continuous coordinates of a size x size square -> continuous coordinates in
    the quad's image, so that the square's corners land on the quad's corners (top-left first)."""
    q = np.asarray(quad, dtype=np.float64) + 0.5  # pixel -> continuous
    return np.column_stack([(q[3] - q[0]) / size, (q[1] - q[0]) / size, q[0]])


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of an affine [2, 3]."""
    full = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points [N, 2] through an affine [2, 3]."""
    p = np.asarray(points, dtype=np.float64)
    return p @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def warp_affine(
    source: np.ndarray,  # [H, W, C] or [H, W]: uint8 image, float32 image or mask
    matrix: np.ndarray,  # [2, 3]: output continuous (x, y) -> source continuous coordinates
    width: int,  # output width in pixels
    height: int,  # output height in pixels
) -> np.ndarray:
    """Resample `source` into a width x height output through `matrix`, antialiased; same dtype.

    Bicubic interpolation where the output is as fine as the source or finer; where one output
    pixel spans s > 1 source pixels, the part of the source under the output is first shrunk by
    s with a Lanczos filter (Pillow's resize, which widens its kernel to the scale), so fine
    detail is averaged instead of aliased. Outside the source: 0 (the caller masks or pads).
    Channels are resampled as 32-bit floats and rounded once at the end (Pillow's 8-bit
    transform truncates, which would darken every image by half a level).
    """
    m = np.asarray(matrix, dtype=np.float64).copy()
    planes = [source] if source.ndim == 2 else [source[..., c] for c in range(source.shape[2])]
    h, w = source.shape[:2]
    scale = math.sqrt(abs(np.linalg.det(m[:, :2])))  # source pixels per output pixel
    box, small = (0, 0, w, h), None
    if scale > 1:
        corners = apply_affine(m, np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=np.float64))
        margin = 3 * scale  # the Lanczos-3 support, in source pixels
        x0 = max(int(math.floor(corners[:, 0].min() - margin)), 0)
        y0 = max(int(math.floor(corners[:, 1].min() - margin)), 0)
        x1 = min(int(math.ceil(corners[:, 0].max() + margin)), w)
        y1 = min(int(math.ceil(corners[:, 1].max() + margin)), h)
        if x1 <= x0 or y1 <= y0:  # the output lies wholly outside the source
            return np.zeros((height, width, *source.shape[2:]), dtype=source.dtype)
        box = (x0, y0, x1, y1)
        m[:, 2] -= (x0, y0)
        small = (max(round((x1 - x0) / scale), 1), max(round((y1 - y0) / scale), 1))
        m = np.diag([small[0] / (x1 - x0), small[1] / (y1 - y0)]) @ m
    out = []
    for plane in planes:
        img = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), mode="F").crop(box)
        if small is not None:
            img = img.resize(small, Image.LANCZOS)
        img = img.transform((width, height), Image.AFFINE, data=tuple(m.reshape(-1)), resample=Image.BICUBIC)
        out.append(np.asarray(img, dtype=np.float32))
    result = out[0] if source.ndim == 2 else np.stack(out, -1)
    if source.dtype == np.uint8:
        return np.clip(np.rint(result), 0, 255).astype(np.uint8)
    return result.astype(source.dtype)
