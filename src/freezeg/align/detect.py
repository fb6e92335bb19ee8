"""Finding faces and their 68 landmarks in a photo, behind a small detector interface.

A detector is anything with `detect(image) -> list[Face]`; `DETECTORS` maps names to
factories, so another landmark model is one entry (dlib's is the one shipped). `detect_faces`
adds what every detector needs: huge photos are looked at downscaled (detection cost grows
with pixels, faces stay findable), and faces come back in a stable order, left to right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
from PIL import Image

DETECT_MAX_PIXELS = 1_200_000  # larger photos are downscaled to this many pixels to look for faces


@dataclass(frozen=True)
class Face:
    """One detected face, in the photo's pixel coordinates (pixel centres at integers)."""

    box: tuple[float, float, float, float]  # detector's box: left, top, right, bottom
    landmarks: np.ndarray  # [68, 2] (x, y), iBUG 300-W order (jaw 0-16, eyes 36-47, mouth 48-67)
    score: float | None = None  # detector confidence, where it gives one

    def scaled(self, factor: float) -> Face:
        """The same face in a copy of the photo resized by `factor`."""
        def s(v):
            return (np.asarray(v, dtype=np.float64) + 0.5) * factor - 0.5
        return Face(tuple(float(v) for v in s(self.box)), s(self.landmarks), self.score)


class FaceDetector(Protocol):
    """Finds faces with 68 landmarks in an RGB uint8 image [H, W, 3]."""

    name: str

    def detect(self, image: np.ndarray) -> list[Face]: ...


def _dlib() -> FaceDetector:
    from .dlib_detector import DlibDetector

    return DlibDetector()


DETECTORS: dict[str, Callable[[], FaceDetector]] = {"dlib": _dlib}
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
