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
from functools import cached_property
from typing import TYPE_CHECKING, Iterable

import numpy as np

from . import models
from .id_arrays import ID_BYTES, hex_ids, id_keys, sorting
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
    """Embeddings of one model: face ids and image ids (n x 16 bytes, the 32 hex digits of each
    id) and a float32 matrix, row for row. At ten million faces ids as bytes take 320 MB, where
    lists of str and a dict of them took about 3 GB."""

    face_ids: np.ndarray
    image_ids: np.ndarray
    matrix: np.ndarray

    @cached_property
    def faces(self) -> list[str]:
        """The face ids as text (made on first ask; FaceSearch.add appends to it)."""
        return hex_ids(self.face_ids)

    @cached_property
    def images(self) -> list[str]:
        return hex_ids(self.image_ids)

    def __len__(self) -> int:
        return len(self.face_ids)

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
        unnamed = 0
        for record in records:
            if record.get("type") != "embedding" or record.get("model") != model:
                continue
            vector = as_vector(record["vector"])
            try:
                face, image = bytes.fromhex(record["face"]), bytes.fromhex(record["image"])
            except (TypeError, ValueError):
                face = image = b""
            if len(face) != ID_BYTES or len(image) != ID_BYTES:
                unnamed += 1
                continue
            rows = groups.get(len(vector))
            if rows is None:
                rows = groups[len(vector)] = _Rows()
            rows.put(face, image, record.get("ts", ""), vector)
        if unnamed:
            logger.warning("leaving out %d %s embedding(s) whose ids are not ids (run rx-fsck)", unnamed, model)
        if not groups:
            empty = np.zeros((0, ID_BYTES), np.uint8)
            return cls(empty, empty.copy(), np.zeros((0, 0), np.float32))
        known = models.embedding_dim(model)
        expected = next((d for d in (dim, known) if d in groups), None) or max(groups, key=lambda d: groups[d].count)
        others = {d: rows.count for d, rows in groups.items() if d != expected}
        if others:
            logger.warning(
                "leaving out %d %s embedding(s) whose vectors do not hold %d numbers (run rx-fsck)",
                sum(others.values()),
                model,
                expected,
            )
        return groups[expected].vectors(expected)


STAMP_BYTES = 32


class _Rows:
    """Every embedding of one vector length, appended as bytes (a bytearray grows in place: a
    million faces cost their 512 MB and 64 bytes each, never twice that while growing); a face
    stated again is folded into the row of its first appearance when the rows are read."""

    def __init__(self) -> None:
        self.count = 0
        self.faces = bytearray()
        self.images = bytearray()
        self.stamps = bytearray()
        self.long_stamps: dict[int, str] = {}
        self.data = bytearray()

    def put(self, face: bytes, image: bytes, stamp: str, vector: np.ndarray) -> None:
        self.faces += face
        self.images += image
        raw = stamp.encode("utf-8", "surrogateescape")
        if len(raw) > STAMP_BYTES or raw.endswith(b"\0"):
            self.long_stamps[self.count] = stamp
        self.stamps += raw[:STAMP_BYTES].ljust(STAMP_BYTES, b"\0")
        self.data += vector.astype("<f4", copy=False).tobytes()
        self.count += 1

    def stamp(self, row: int) -> str:
        if row in self.long_stamps:
            return self.long_stamps[row]
        raw = bytes(self.stamps[row * STAMP_BYTES : (row + 1) * STAMP_BYTES]).rstrip(b"\0")
        return raw.decode("utf-8", "surrogateescape")

    def vectors(self, dim: int) -> Vectors:
        faces = np.frombuffer(self.faces, np.uint8).reshape(-1, ID_BYTES)
        images = np.frombuffer(self.images, np.uint8).reshape(-1, ID_BYTES)
        matrix = np.frombuffer(self.data, "<f4").reshape(-1, dim)
        order = sorting(faces)
        ordered = id_keys(faces)[order]
        same = ordered[1:] == ordered[:-1]
        if not same.any():
            return Vectors(faces, images, matrix)
        bounds = np.diff(np.concatenate([[False], same, [False]]).astype(np.int8))
        keep = np.ones(self.count, bool)
        for first, last in zip(np.flatnonzero(bounds == 1).tolist(), np.flatnonzero(bounds == -1).tolist()):
            rows = order[first : last + 1].tolist()  # in order of appearance: the sort is stable
            self._fold(rows, matrix, images)
            keep[rows[1:]] = False
        kept = np.flatnonzero(keep)
        for block in range(0, len(kept), 1 << 16):  # in place: a kept row only moves up
            rows = kept[block : block + (1 << 16)]
            for array in (faces, images, matrix):
                array[block : block + len(rows)] = array[rows]
        return Vectors(faces[: len(kept)], images[: len(kept)], matrix[: len(kept)])

    def _fold(self, rows: list[int], matrix: np.ndarray, images: np.ndarray) -> None:
        """Into the first row, the latest of these statements of one face (vectors.newer's rule)."""
        first, held = rows[0], rows[0]
        for row in rows[1:]:
            stamp, held_stamp = self.stamp(row), self.stamp(held)
            if stamp > held_stamp or (stamp == held_stamp and matrix[row].tobytes() > matrix[held].tobytes()):
                held = row
        matrix[first], images[first] = matrix[held], images[held]
