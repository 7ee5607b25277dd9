"""dlib's HOG detector, 5-point landmarks and ResNet recogniser: the defaults, with real weights here.

deepface's own Dlib clients crop and rotate by the eyes; dlib's recogniser was trained on chips
aligned by its 5-point landmarks (get_face_chip), which is how it reaches 99.38% on LFW. So these
wrap the same dlib models and weight files deepface uses, with dlib's own alignment.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from .base import Detector, FoundFace, mean_with_mirror

LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
RECOGNISER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE = 150
CHIP_PADDING = 0.25
HOG_WINDOW = 80
"""dlib's frontal face detector finds faces from this many pixels wide up, each upsampling halves it."""


def _weight(task: str, name: str, file_name: str) -> str:
    from .weight_files import weights_dir
    from .weight_status import require

    require(task, name)
    return os.path.join(weights_dir(), file_name)


def _points(shape) -> list[list[int]]:
    return [[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)]


def landmarks_from_points(points: list[list[int]]) -> dict[str, list]:
    """dlib's 5 points: 0-1 the person's left eye corners, 2-3 the right eye's, 4 under the nose."""
    return {
        "left_eye": [(points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2],
        "right_eye": [(points[2][0] + points[3][0]) / 2, (points[2][1] + points[3][1]) / 2],
        "nose": list(points[4]),
        "dlib5": points,
    }


class DlibDetector:
    """HOG (upsampled once) with 5-point landmarks; when HOG finds nothing, the SSD detector's
    boxes get the same landmarks, so a face turned or lit too badly for HOG is still found.
    `detector_named` gives the fallback detector: the one every caller of that name shares."""

    name = "dlib"

    def __init__(self, detector_named: Callable[[str], Detector], upsample: int = 1, fallback: str | None = "ssd"):
        import dlib

        self._dlib = dlib
        self.hog = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(_weight("face_detector", "dlib", LANDMARKS_FILE))
        self.upsample = upsample
        self.smallest = HOG_WINDOW / 2**upsample
        self.fallback = fallback if fallback and _usable("face_detector", fallback) else None
        self._detector_named = detector_named

    def detect(self, image: np.ndarray) -> list[FoundFace]:
        found = self._hog(image)
        if not found and self.fallback:
            for face in self._detector_named(self.fallback).detect(image):
                found.append((self._dlib.rectangle(*face.box), face.confidence, self.fallback))
        return self._landmarked(image, found)

    def detect_tile(self, image: np.ndarray) -> list[FoundFace]:
        """HOG alone: most tiles of a photo hold no face, and the SSD must not search each of them."""
        return self._landmarked(image, self._hog(image))

    def _hog(self, image: np.ndarray) -> list[tuple]:
        rects, scores, _ = self.hog.run(image, self.upsample)
        return [(rect, float(score), "hog") for rect, score in zip(rects, scores)]

    def _landmarked(self, image: np.ndarray, found: list[tuple]) -> list[FoundFace]:
        faces = []
        for rect, score, method in found:
            box = (
                max(0, rect.left()),
                max(0, rect.top()),
                min(image.shape[1], rect.right()),
                min(image.shape[0], rect.bottom()),
            )
            points = _points(self.shape(image, rect))
            faces.append(FoundFace(box, round(score, 4), landmarks_from_points(points), method))
        return faces


def _usable(task: str, name: str) -> bool:
    from .weight_status import status

    return status(task, name).usable


class DlibEmbedder:
    name = "Dlib"
    dim = 128
    normalization = "base"

    def __init__(self, jitters: int = 0):
        import dlib

        self._dlib = dlib
        path = _weight("facial_recognition", "Dlib", RECOGNISER_FILE)
        self.model = dlib.face_recognition_model_v1(path)
        self.shape = dlib.shape_predictor(_weight("face_detector", "dlib", LANDMARKS_FILE))
        self.jitters = jitters
        self.version = f"{RECOGNISER_FILE}:{os.path.getsize(path)}"

    def embed(self, image: np.ndarray, faces: list[dict], align: bool, flip: bool = False) -> np.ndarray:
        dlib = self._dlib
        chips = []
        for face in faces:
            rect = dlib.rectangle(*[int(v) for v in face["box"]])
            if align:
                points = (face.get("landmarks") or {}).get("dlib5")
                shape = (
                    dlib.full_object_detection(rect, [dlib.point(int(x), int(y)) for x, y in points])
                    if points
                    else self.shape(image, rect)
                )
                chips.append(dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING))
            else:
                chips.append(_crop_resized(image, face["box"], CHIP_SIZE))
        if not chips:
            return np.zeros((0, self.dim), np.float32)
        return mean_with_mirror(self._describe, chips, flip)

    def _describe(self, chips: list[np.ndarray]) -> np.ndarray:
        vectors = self.model.compute_face_descriptor(chips, num_jitters=self.jitters)
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)


def _crop_resized(image: np.ndarray, box, size: int) -> np.ndarray:
    import cv2

    left, top, right, bottom = (int(v) for v in box)
    crop = image[max(0, top) : max(top + 1, bottom), max(0, left) : max(left + 1, right)]
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))
