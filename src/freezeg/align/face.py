"""A detected face and the detector interface, shared by every detector and the geometry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

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
