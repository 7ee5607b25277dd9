"""deepface's own attribute models (Age, Gender, Emotion, Race), fed as deepface.analyze feeds
them: the face cut out and aligned by the eyes, 224x224 BGR in [0, 1]. They run where their
weight files are present (rx-models add); recops never lets deepface download them."""

from __future__ import annotations

import numpy as np

from .attributes import DEEPFACE, age, scored
from .deepface_models import _build, _tuple


class DeepfaceAnalyser:
    def __init__(self, name: str):
        self.name = name
        self.attribute = next(a for a, model in DEEPFACE.items() if model == name)
        self.client = _build("facial_attribute", name)
        self.version = f"deepface:{name}"

    def analyse(self, image: np.ndarray, faces: list[dict]) -> list[dict]:
        if not faces:
            return []
        from deepface.models.Detector import FacialAreaRegion
        from deepface.modules import detection, preprocessing

        bgr = np.ascontiguousarray(image[:, :, ::-1])
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
            )
            crop = detection.extract_face(
                facial_area=area,
                img=bgr,
                align=face.get("aligned", True),
                expand_percentage=0,
                width_border=0,
                height_border=0,
                detector_backend="skip",
            ).img
            crops.append(preprocessing.resize_image(img=crop / 255.0, target_size=(224, 224))[0])
        output = np.asarray(self.client.predict(np.stack(crops)), dtype=np.float64).reshape(len(faces), -1)
        if self.attribute == "age":
            return [age(row[0]) for row in output]
        return [scored(self.attribute, row) for row in output]
