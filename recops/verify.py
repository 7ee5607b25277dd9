"""rx-verify's core: are the faces of two photos the same person? Stores nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import metrics, models
from .calibration import Calibration, error_rate, shipped
from .datasets import settings
from .errors import InputError
from .imageinfo import inspect
from .records import timestamp
from .stages.detection import DetectOptions, find_faces
from .stages.embedding import embed_faces
from .stages.importing import read_image_file, stat_image_file
from .store.dataset import Dataset
from .stream import Emitter
from .thresholds import calibration_of, effective_threshold


@dataclass(frozen=True)
class VerifyOptions:
    detector: str
    model: str
    metric: str
    threshold: float
    align: bool = True
    flip: bool = False
    calibration: Calibration | None = None
    """What tells the distance's false-match rate (the dataset's, else the shipped one)."""


def only_face(data: bytes, options: VerifyOptions, label: str) -> dict:
    try:
        inspect(data)
    except InputError as exc:
        raise InputError(exc.kind, f"{label}: {exc.reason}") from None
    faces = find_faces(data, DetectOptions(options.detector, options.align))
    if len(faces) != 1:
        found = "no face" if not faces else f"{len(faces)} faces"
        raise InputError(
            "not-one-face", f"{label}: {found} found by {options.detector}; verify needs exactly one face per image"
        )
    picture, face = faces[0]
    return {
        "box": list(face.box),
        "landmarks": face.landmarks,
        "confidence": face.confidence,
        "aligned": options.align,
        **picture.fields,
    }


def verify(
    first: bytes, second: bytes, options: VerifyOptions, labels: tuple[str, str] = ("image 1", "image 2")
) -> dict:
    """A verification record: the two faces, their distance, the threshold, and the verdict."""
    models.check_detector(options.detector)
    models.check_embedder(options.model)
    faces = [only_face(data, options, label) for data, label in zip((first, second), labels)]
    vectors = [embed_faces(data, [face], options.model, options.flip)[0] for data, face in zip((first, second), faces)]
    distance = float(metrics.exact(options.metric, vectors[0], vectors[1][None, :])[0])
    return {
        "type": "verification",
        "images": list(labels),
        "boxes": [f["box"] for f in faces],
        "verified": distance <= options.threshold,
        "distance": round(distance, 6),
        "threshold": options.threshold,
        "metric": options.metric,
        "model": options.model,
        "detector": options.detector,
        **error_rate(options.calibration, options.metric, distance),
        "ts": timestamp(),
    }


def verify_photos(
    out: Emitter, first: str, second: str, root: str | None, threshold: float | None, align: bool
) -> None:
    """Emit the verification of two photo files under the settings of the dataset at `root` (or
    the defaults), or an error record naming both: rx-verify's work, and recops verify's."""
    config = settings(root)
    limit = threshold if threshold is not None else effective_threshold(config)
    if root is None:
        calibration = shipped(config.detector, config.model, config.flip)
    else:
        with Dataset.open(root) as dataset:
            calibration = calibration_of(dataset)
    options = VerifyOptions(config.detector, config.model, config.metric, limit, align, config.flip, calibration)
    try:
        data = []
        for path in (first, second):
            stat_image_file(path)
            data.append(read_image_file(path))
        out.emit(verify(data[0], data[1], options, (os.path.abspath(first), os.path.abspath(second))))
    except InputError as exc:
        out.fail(f"{first} {second}", "verify", exc.reason, exc.kind)
