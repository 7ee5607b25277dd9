"""Every other deepface detector and recognition model, through deepface's own code paths.

Weights are never downloaded: offline.no_downloads() turns deepface's download into a clear
error naming the missing file.
"""

from __future__ import annotations

import numpy as np

from .base import FoundFace, mean_with_mirror


def _build(task: str, name: str):
    from deepface.modules import modeling

    from .offline import no_downloads
    from .weight_status import require

    require(task, name)
    with no_downloads():
        return modeling.build_model(task=task, model_name=name)


def _point(value) -> list | None:
    return [float(value[0]), float(value[1])] if value is not None else None


class DeepfaceDetector:
    def __init__(self, name: str):
        self.name = name
        self.client = _build("face_detector", name)

    def detect(self, image: np.ndarray) -> list[FoundFace]:
        faces = []
        for area in self.client.detect_faces(np.ascontiguousarray(image[:, :, ::-1])):
            landmarks = {
                key: _point(getattr(area, key, None))
                for key in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
            }
            box = (
                max(0, int(area.x)),
                max(0, int(area.y)),
                min(image.shape[1], int(area.x + area.w)),
                min(image.shape[0], int(area.y + area.h)),
            )
            confidence = float(area.confidence) if area.confidence is not None else 0.0
            faces.append(FoundFace(box, round(confidence, 4), {k: v for k, v in landmarks.items() if v}, self.name))
        return faces


class DeepfaceEmbedder:
    normalization = "base"

    def __init__(self, name: str):
        self.name = name
        self.client = _build("facial_recognition", name)
        self.dim = int(self.client.output_shape)
        self.version = f"deepface:{name}"

    def embed(self, image: np.ndarray, faces: list[dict], align: bool, flip: bool = False) -> np.ndarray:
        from deepface.models.Detector import FacialAreaRegion
        from deepface.modules import detection, preprocessing

        bgr = np.ascontiguousarray(image[:, :, ::-1])
        height, width = self.client.input_shape
        crops = []
        for face in faces:
            left, top, right, bottom = (int(v) for v in face["box"])
            marks = face.get("landmarks") or {}
            area = FacialAreaRegion(
                x=left,
                y=top,
                w=right - left,
                h=bottom - top,
                left_eye=_tuple(marks.get("left_eye")),
                right_eye=_tuple(marks.get("right_eye")),
                confidence=face.get("confidence"),
            )
            crop = detection.extract_face(
                facial_area=area,
                img=bgr,
                align=align,
                expand_percentage=0,
                width_border=0,
                height_border=0,
                detector_backend="skip",
            ).img
            crops.append(preprocessing.resize_image(img=crop, target_size=(width, height))[0])
        if not crops:
            return np.zeros((0, self.dim), np.float32)
        return mean_with_mirror(self._forward, crops, flip)

    def _forward(self, crops: list[np.ndarray]) -> np.ndarray:
        from deepface.modules import preprocessing

        batch = np.stack(
            [preprocessing.normalize_input(img=c[None], normalization=self.normalization)[0] for c in crops]
        )
        return np.asarray(self.client.forward(batch), dtype=np.float32).reshape(len(crops), -1)


def _tuple(value) -> tuple[int, int] | None:
    return (int(value[0]), int(value[1])) if value else None
