"""rx-verify's core: are the faces of two photos the same person? Stores nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

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

PICKS = ("one", "largest", "closest", "every")
"""Which faces verify compares when a photo holds several: `one` refuses such a photo (a verdict
about a face nobody chose is worse than none), `largest` takes each photo's largest face,
`closest` the nearest pair (deepface's choice), `every` writes a verification per pair."""


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
    pick: str = "one"


def faces_of(data: bytes, options: VerifyOptions, label: str) -> list[dict]:
    """The faces of one photo, as verify may compare them; raises InputError when it may not."""
    try:
        inspect(data)
    except InputError as exc:
        raise InputError(exc.kind, f"{label}: {exc.reason}") from None
    found = find_faces(data, DetectOptions(options.detector, options.align))
    if not found:
        raise InputError("no-face", f"{label}: no face found by {options.detector}")
    if len(found) > 1 and options.pick == "one":
        raise InputError(
            "not-one-face",
            f"{label}: {len(found)} faces found by {options.detector}; verify compares one face per image unless "
            "told which (--faces largest, closest or every)",
        )
    faces = [
        {
            "box": list(face.box),
            "landmarks": face.landmarks,
            "confidence": face.confidence,
            "aligned": options.align,
            **picture.fields,
        }
        for picture, face in found
    ]
    if options.pick == "largest":
        faces = [max(faces, key=_area)]
    return faces


def _area(face: dict) -> float:
    left, top, right, bottom = face["box"]
    return (right - left) * (bottom - top)


def verify(
    first: bytes, second: bytes, options: VerifyOptions, labels: tuple[str, str] = ("image 1", "image 2")
) -> list[dict]:
    """Verification records: for each pair compared, the two faces (their boxes, and which of the
    faces found in each photo they are), their distance, the threshold, and the verdict."""
    if options.pick not in PICKS:
        raise ValueError(f"unknown choice of faces {options.pick!r}; choose from {', '.join(PICKS)}")
    models.check_detector(options.detector)
    models.check_embedder(options.model)
    photos = [(data, faces_of(data, options, label)) for data, label in zip((first, second), labels)]
    vectors = [embed_faces(data, faces, options.model, options.flip) for data, faces in photos]
    distances = np.stack([metrics.exact(options.metric, vector, vectors[1]) for vector in vectors[0]])
    pairs = [(i, j) for i in range(len(vectors[0])) for j in range(len(vectors[1]))]
    if options.pick == "closest":
        pairs = [min(pairs, key=lambda pair: distances[pair])]
    found = [len(faces) for _, faces in photos]
    return [_verdict(photos, distances[i, j], (i, j), found, labels, options) for i, j in pairs]


def _verdict(photos, distance: float, pair: tuple[int, int], found: list[int], labels, options) -> dict:
    distance = float(distance)
    return {
        "type": "verification",
        "images": list(labels),
        "boxes": [photos[0][1][pair[0]]["box"], photos[1][1][pair[1]]["box"]],
        "compared": options.pick,
        "faces_found": found,
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
    out: Emitter, first: str, second: str, root: str | None, threshold: float | None, align: bool, pick: str = "one"
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
    options = VerifyOptions(config.detector, config.model, config.metric, limit, align, config.flip, calibration, pick)
    try:
        data = []
        for path in (first, second):
            stat_image_file(path)
            data.append(read_image_file(path))
        for record in verify(data[0], data[1], options, (os.path.abspath(first), os.path.abspath(second))):
            out.emit(record)
    except InputError as exc:
        out.fail(f"{first} {second}", "verify", exc.reason, exc.kind)
