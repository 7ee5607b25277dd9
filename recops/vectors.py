"""The embeddings log's views: the latest vector of each face under a model, as records
(Embeddings, what rx-embed reuses) and as one float32 matrix (Vectors, what search, clustering
and review read at a million faces).

Both fold by one rule: the latest by timestamp; at equal timestamps (copies that embedded one
face at the same microsecond), the greater vector bytes. It is folding.order's rule with the
content compared by the part of an embedding that matters, which a matrix still holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np

from . import models
from .logs import EMBEDDINGS
from .state import state_of

if TYPE_CHECKING:
    from .store.dataset import Dataset

logger = logging.getLogger("recops")


def as_vector(value) -> np.ndarray:
    """A vector from a record: raw little-endian float32 bytes (msgpack) or a list (JSON)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return np.frombuffer(value, dtype="<f4")
    return np.asarray(value, dtype=np.float32)


def _vector_bytes(value) -> bytes:
    return value.astype("<f4").tobytes() if hasattr(value, "astype") else bytes(as_vector(value).astype("<f4").data)


def newer(record: dict, held: dict | None) -> bool:
    """Whether `record` is the later statement of its face's embedding than `held`."""
    if held is None:
        return True
    ts, held_ts = record.get("ts", ""), held.get("ts", "")
    if ts != held_ts:
        return ts > held_ts
    return _vector_bytes(record["vector"]) > _vector_bytes(held["vector"])


class Embeddings:
    """The latest embedding record of each face under one model."""

    def __init__(self, model: str, records: Iterable[dict] = ()):
        self.model = model
        self._by_face: dict[str, dict] = {}
        for record in records:
            self.add(record)

    @classmethod
    def of(cls, dataset: "Dataset", model: str) -> "Embeddings":
        """The dataset's embeddings of `model` now (state.py)."""
        return state_of(dataset).view(
            f"{EMBEDDINGS}:{model}",
            lambda: cls(model, dataset.log(EMBEDDINGS).records()),
            folds=(EMBEDDINGS,),
            add=cls.add,
        )

    def add(self, record: dict) -> None:
        if (
            record.get("type") == "embedding"
            and record.get("model") == self.model
            and newer(record, self._by_face.get(record["face"]))
        ):
            self._by_face[record["face"]] = record

    def get(self, face: str) -> dict | None:
        return self._by_face.get(face)

    def __contains__(self, face: str) -> bool:
        return face in self._by_face

    def __len__(self) -> int:
        return len(self._by_face)


@dataclass
class Vectors:
    """Embeddings of one model: face ids, image ids and a float32 matrix, row for row."""

    faces: list[str]
    images: list[str]
    matrix: np.ndarray

    @classmethod
    def of(cls, dataset: "Dataset", model: str) -> "Vectors":
        """Every stored embedding of `model` as one matrix (state.py): read once, and again only
        after the log grows, since a matrix takes no record in place."""
        return state_of(dataset).view(
            f"vectors:{model}",
            lambda: cls.collect(dataset.log(EMBEDDINGS).records(), model),
            folds=(),
            reads=(EMBEDDINGS,),
        )

    @classmethod
    def collect(cls, records: Iterable[dict], model: str, dim: int | None = None) -> "Vectors":
        """The latest embedding of each face, in order of first appearance. Vectors of a length
        other than the model's (`dim`, else the model's known length, else the most common one)
        are left out with a warning: a record from elsewhere must not break every search."""
        groups: dict[int, _Rows] = {}
        for record in records:
            if record.get("type") != "embedding" or record.get("model") != model:
                continue
            vector = as_vector(record["vector"])
            rows = groups.get(len(vector))
            if rows is None:
                rows = groups[len(vector)] = _Rows()
            rows.put(record["face"], record["image"], record.get("ts", ""), vector)
        if not groups:
            return cls([], [], np.zeros((0, 0), np.float32))
        known = models.embedding_dim(model)
        expected = next((d for d in (dim, known) if d in groups), None) or max(
            groups, key=lambda d: len(groups[d].images)
        )
        others = {d: len(rows.images) for d, rows in groups.items() if d != expected}
        if others:
            logger.warning(
                "leaving out %d %s embedding(s) whose vectors do not hold %d numbers (run rx-fsck)",
                sum(others.values()),
                model,
                expected,
            )
        return groups[expected].vectors()


class _Rows:
    """A growing matrix of vectors of one length: a million faces cost their 512 MB and their
    ids, not a million small arrays."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.stamps: list[str] = []
        self.images: list[str] = []
        self.matrix = np.zeros((0, 0), np.float32)

    def put(self, face: str, image: str, stamp: str, vector: np.ndarray) -> None:
        row = self.rows.get(face)
        if row is None:
            row = self.rows[face] = len(self.images)
            self.stamps.append(stamp)
            self.images.append(image)
            if row == len(self.matrix):
                grown = np.zeros((max(1024, 2 * len(self.matrix)), len(vector)), np.float32)
                if row:
                    grown[:row] = self.matrix
                self.matrix = grown
        elif stamp < self.stamps[row] or (
            stamp == self.stamps[row] and vector.astype("<f4").tobytes() <= self.matrix[row].tobytes()
        ):
            return
        else:
            self.stamps[row], self.images[row] = stamp, image
        self.matrix[row] = vector

    def vectors(self) -> Vectors:
        matrix = self.matrix
        matrix.resize((len(self.images), matrix.shape[1]), refcheck=False)  # we hold the only reference
        return Vectors(list(self.rows), self.images, matrix)
