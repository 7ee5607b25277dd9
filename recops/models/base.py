"""The one small interface every model sits behind: detectors find faces, embedders describe them.

Images are upright HxWx3 uint8 RGB arrays. Boxes are (left, top, right, bottom) in pixels of the
array given. Landmarks are named points: `left_eye` and `right_eye` are the person's own (so
`left_eye` is on the right of the picture), as deepface names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class FoundFace:
    box: tuple[int, int, int, int]
    confidence: float
    landmarks: dict[str, list] = field(default_factory=dict)
    method: str = ""
    """What found it, when a detector has stages (dlib: hog, then ssd for what hog missed)."""
    quality: dict | None = None
    """quality.measure's measures (rx-detect adds them where it has the pixels)."""

    def scaled(self, factor: float) -> "FoundFace":
        """The same face in an image `factor` times the size."""
        if factor == 1.0:
            return self
        box = tuple(int(round(v * factor)) for v in self.box)
        landmarks = {k: _scale_points(v, factor) for k, v in self.landmarks.items()}
        return FoundFace(box, self.confidence, landmarks, self.method, self.quality)

    def moved(self, right: int, down: int) -> "FoundFace":
        """The same face in an image of which this one is a part, `right` and `down` of its corner."""
        box = (self.box[0] + right, self.box[1] + down, self.box[2] + right, self.box[3] + down)
        landmarks = {k: _move_points(v, right, down) for k, v in self.landmarks.items()}
        return FoundFace(box, self.confidence, landmarks, self.method, self.quality)


def scale_face(face: dict, factor: float) -> dict:
    """A face record's box and landmarks in an image `factor` times the size."""
    found = FoundFace(tuple(face["box"]), face.get("confidence", 0.0), face.get("landmarks") or {}).scaled(factor)
    return {**face, "box": list(found.box), "landmarks": found.landmarks}


def _scale_points(value: list, factor: float) -> list:
    if value and isinstance(value[0], (list, tuple)):
        return [[round(x * factor, 1), round(y * factor, 1)] for x, y in value]
    return [round(value[0] * factor, 1), round(value[1] * factor, 1)]


def _move_points(value: list, right: int, down: int) -> list:
    if value and isinstance(value[0], (list, tuple)):
        return [[x + right, y + down] for x, y in value]
    return [value[0] + right, value[1] + down]


class Detector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[FoundFace]: ...


class TilingDetector(Detector, Protocol):
    """A detector that can search a photo again in enlarged tiles, for faces too small for it at first."""

    smallest: float
    """The narrowest face it finds (box width, in pixels of the image it is given)."""

    def detect_tile(self, image: np.ndarray) -> list[FoundFace]:
        """The faces of one tile, without the fallbacks `detect` takes for a whole photo without a face."""
        ...


class Embedder(Protocol):
    name: str
    dim: int
    version: str
    normalization: str

    def embed(self, image: np.ndarray, faces: list[dict], align: bool, flip: bool = False) -> np.ndarray:
        """One row of float32 per face; `faces` hold `box` and `landmarks` in `image`'s pixels.
        With `flip`, each row is the mean of the vectors of the face and of its mirror image."""
        ...


def mean_with_mirror(embed_batch, crops: list[np.ndarray], flip: bool) -> np.ndarray:
    """Vectors of `crops` (aligned faces); with `flip`, averaged with those of the mirrored crops:
    test-time augmentation that costs twice the work and makes a model steadier (on LFW's
    development pairs it takes dlib from 0.984 to 0.989)."""
    vectors = embed_batch(crops)
    if not flip:
        return vectors
    mirrored = embed_batch([np.ascontiguousarray(c[:, ::-1]) for c in crops])
    return ((vectors + mirrored) / 2).astype(np.float32)
