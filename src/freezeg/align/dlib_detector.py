"""dlib's face detector (HOG + linear SVM) with its 68-point landmark model.

Both come from pip (`pip install 'freezeg[align]'`): `dlib` itself, and
`shape_predictor_68_face_landmarks.dat` inside the `face-recognition-models` distribution. We
read that file through the distribution's metadata and never import the package (its
`__init__` needs pkg_resources, which new setuptools no longer has).
"""

from __future__ import annotations

import numpy as np

from ..utils.packaged import package_file
from .face import DETECT_MAX_PIXELS, Face

EXTRA = "pip install 'freezeg[align]'"
MODELS = "face-recognition-models"
LANDMARK_MODEL = "face_recognition_models/models/shape_predictor_68_face_landmarks.dat"
MIN_SCORE = 0.25  # SVM margin below which a detection is dropped: on scikit-image's astronaut photo
# the mission patch scores 0.12-0.13 (at 2x and at 1024 px), the face 1.2-1.5


class DlibDetector:
    """dlib's frontal face detector and 68-point shape predictor (the landmarks FFHQ was aligned with)."""

    name = "dlib"

    def __init__(self):
        try:
            import dlib
        except ImportError:
            raise ValueError(f"--align faces needs dlib: {EXTRA} (dlib compiles from source: cmake and a "
                             "C++ compiler, several minutes)") from None
        model = package_file(MODELS, LANDMARK_MODEL)
        if model is None:
            raise ValueError(f"--align faces needs dlib's 68-point landmark model from the {MODELS} package: {EXTRA}")
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        try:
            self._predictor = dlib.shape_predictor(str(model))
        except RuntimeError as e:
            raise ValueError(f"{model}: cannot load dlib's landmark model ({e})") from None

    def detect(self, image: np.ndarray) -> list[Face]:
        image = np.ascontiguousarray(image)
        # HOG finds faces from about 80 px wide; a small photo is also searched at 2x while that
        # stays within the detection budget (detect_faces downscales larger ones to it).
        upsample = 1 if 4 * image.shape[0] * image.shape[1] <= DETECT_MAX_PIXELS else 0
        boxes, scores, _ = self._detector.run(image, upsample, MIN_SCORE)
        faces = []
        for box, score in zip(boxes, scores):
            shape = self._predictor(image, box)
            landmarks = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
            faces.append(Face((box.left(), box.top(), box.right(), box.bottom()), landmarks, float(score)))
        return faces
