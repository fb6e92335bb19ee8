"""Finding faces and their 68 landmarks in a photo, behind a small detector interface.

A detector is anything with `detect(image) -> list[Face]`; `DETECTORS` maps names to
factories, so another landmark model is one entry (dlib's is the one shipped). `detect_faces`
adds what every detector needs: huge photos are looked at downscaled (detection cost grows
with pixels, faces stay findable), and faces come back in a stable order, left to right.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from PIL import Image

from .dlib_detector import DlibDetector
from .face import DETECT_MAX_PIXELS, Face, FaceDetector

# DlibDetector imports dlib itself only when built, so this table costs nothing without it.
DETECTORS: dict[str, Callable[[], FaceDetector]] = {"dlib": DlibDetector}
_made: dict[str, FaceDetector] = {}


def make_detector(name: str = "dlib") -> FaceDetector:
    """The detector called `name` (loaded once per process); ValueError with the install line if unavailable."""
    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r} (known: {', '.join(DETECTORS)})")
    if name not in _made:
        _made[name] = DETECTORS[name]()
    return _made[name]


def detection_scale(height: int, width: int, max_pixels: int = DETECT_MAX_PIXELS) -> float:
    """The factor (<= 1) a photo is resized by before detection."""
    return min(1.0, math.sqrt(max_pixels / (height * width)))


def detect_faces(
    image: np.ndarray,  # RGB uint8 [H, W, 3]
    detector: FaceDetector | None = None,  # default: dlib's (make_detector())
    max_pixels: int = DETECT_MAX_PIXELS,  # look for faces in a copy downscaled to this many pixels
) -> list[Face]:
    """Faces in `image` with their landmarks, left to right, in the image's pixel coordinates."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {image.dtype} {image.shape}")
    detector = detector or make_detector()
    h, w = image.shape[:2]
    scale = detection_scale(h, w, max_pixels)
    if scale < 1:
        small = (max(round(w * scale), 1), max(round(h * scale), 1))
        seen = np.asarray(Image.fromarray(image).resize(small, Image.BILINEAR, reducing_gap=2.0))
        faces = [f.scaled(w / small[0]) for f in detector.detect(seen)]
    else:
        faces = detector.detect(image)
    return sorted(faces, key=lambda f: (f.box[0] + f.box[2], f.box[1] + f.box[3]))
