"""Face alignment the FFHQ way, and pasting translated faces back into their photos.

    faces = detect_faces(photo)                 # list[Face]: box, 68 landmarks (dlib by default)
    aligned = align(photo, faces[0], size=256)  # AlignedFace: the crop and its quad in the photo
    result = paste_back(photo, aligned, translated_crop)

`find_faces` does the per-photo bookkeeping the CLI and the web app share (names
NAME_face0, NAME_face1, ... left to right; tiny faces skipped with a line); its result's
`align(photo)` gives the crops. Detection needs
`pip install 'freezeg[align]'`; the geometry needs nothing beyond numpy and Pillow.
"""

from .crop import AlignedFace, align
from .detect import DETECTORS, Face, FaceDetector, detect_faces, make_detector
from .geometry import ffhq_quad
from .paste import feathered_mask, paste_back
from .photos import PhotoFaces, find_faces, min_face_side

__all__ = [
    "AlignedFace",
    "DETECTORS",
    "Face",
    "FaceDetector",
    "PhotoFaces",
    "align",
    "detect_faces",
    "feathered_mask",
    "ffhq_quad",
    "find_faces",
    "make_detector",
    "min_face_side",
    "paste_back",
]
