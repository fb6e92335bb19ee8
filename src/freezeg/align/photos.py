"""One photo in, its faces out: named, the tiny ones dropped, a line for everything worth saying.

What `freezeg project/translate --align faces` (and the web app) do per photo: detect, drop
faces too small to be worth translating, align the rest. Faces are numbered left to right
over all detected faces (NAME_face0, NAME_face1, ...), so a message about face1 and the file
NAME_face1 mean the same face even when another one was skipped.

    found = find_faces(photo, "selfie", 256)
    for name, aligned in found.align(photo): ...
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .crop import AlignedFace, align
from .detect import DETECT_MAX_PIXELS, Face, FaceDetector, detect_faces, detection_scale
from .geometry import ffhq_quad, quad_side

MIN_FACE_SIDE = 32  # a face whose FFHQ crop spans fewer photo pixels than this is skipped...
MIN_FACE_FRACTION = 0.25  # ...or fewer than this fraction of the model's size (upscaled more than 4x)


def min_face_side(size: int) -> float:
    """The smallest crop side in photo pixels worth translating into a size x size crop."""
    return max(MIN_FACE_SIDE, MIN_FACE_FRACTION * size)


@dataclass
class PhotoFaces:
    """The usable faces of one photo and what happened to the others."""

    name: str  # the photo's name, stem of the outputs
    size: int  # the crop side they are for
    faces: list[tuple[str, Face]] = field(default_factory=list)  # (NAME_faceK, face), left to right
    tiny: list[str] = field(default_factory=list)  # names of faces skipped as too small
    notes: list[str] = field(default_factory=list)  # one line each, already naming the photo

    @property
    def found(self) -> int:
        return len(self.faces) + len(self.tiny)

    def align(self, photo: np.ndarray) -> list[tuple[str, AlignedFace]]:
        """Each usable face's FFHQ crop."""
        return [(name, align(photo, face, self.size)) for name, face in self.faces]


def face_name(photo_name: str, index: int) -> str:
    return f"{photo_name}_face{index}"


def find_faces(
    photo: np.ndarray,  # RGB uint8 [H, W, 3]
    name: str,  # photo name for outputs and messages (a file stem)
    size: int,  # crop side (the model's)
    detector: FaceDetector | None = None,  # default: dlib's
    label: str | None = None,  # how messages name the photo (default: name)
    max_pixels: int = DETECT_MAX_PIXELS,  # detection works on a copy downscaled to this many pixels
) -> PhotoFaces:
    """Detect the faces of a photo and keep those big enough for a size x size crop; messages name `label`."""
    label = label or name
    result = PhotoFaces(name, size)
    h, w = photo.shape[:2]
    scale = detection_scale(h, w, max_pixels)
    if scale < 1:
        result.notes.append(f"{label}: {w}x{h} ({w * h / 1e6:.1f} MP); faces looked for in a copy downscaled "
                            f"{1 / scale:.1f}x (very small faces may be missed), aligned at full resolution")
    smallest = min_face_side(size)
    for index, face in enumerate(detect_faces(photo, detector, max_pixels)):
        side = quad_side(ffhq_quad(face.landmarks))
        if side < smallest:
            result.tiny.append(face_name(name, index))
            result.notes.append(f"{label}: face{index} is too small ({side:.0f} px crop in the photo, needs "
                                f"{smallest:.0f} for {size} px); skipped")
            continue
        result.faces.append((face_name(name, index), face))
    return result
