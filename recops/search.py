"""Nearest faces: the dataset's index (Annoy's or HNSW's), plus an exact search of what was embedded
since it was built."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np

from . import metrics
from .index import load_index
from .logs import EMBEDDINGS
from .store.dataset import Dataset
from .vectors import Vectors

logger = logging.getLogger("recops")
DEFAULT_SEARCH_K = 20_000
"""Annoy nodes inspected per query when not told: recall@10 0.957 at a million faces in 2.6 ms
(bench search); Annoy's own default (trees x k) gives 0.48 there. An HNSW index makes it ef 400."""


@dataclass(frozen=True)
class Neighbour:
    face: str
    image: str
    distance: float
    dataset: str | None = None
    """The id of the dataset that holds the face, where several are searched as one (shards.py)."""


class FaceSearch:
    """k-nearest faces of one model, under one metric, over everything the dataset has embedded."""

    def __init__(
        self, dataset: Dataset, model: str, metric: str, search_k: int | None = None, only: set[str] | None = None
    ):
        """`only`: search just these faces, exactly (a small part of a large gallery, such as the
        faces with an identity, is found faster so than by filtering the index's neighbours)."""
        self.metric = metric
        self.search_k = search_k
        self.only = only
        loaded = load_index(dataset, model, metric) if only is None else None
        segments = dataset.log(EMBEDDINGS).segments()
        names = {s.name for s in segments}
        self.index, self.info = loaded if loaded else (None, None)
        self.stale_index = bool(self.info and not set(self.info.segments) <= names)
        if self.stale_index:
            logger.warning(
                "the index of %s is stale (record files it covers are gone); searching exactly "
                "until rx-index rebuilds it",
                dataset.root,
            )
            self.index, self.info = None, None
        covered = set(self.info.segments) if self.info else set()
        fresh = itertools.chain(
            (record for s in segments if s.name not in covered for record in s.records()),
            dataset.log(EMBEDDINGS).unflushed(),
        )
        if only is not None:
            fresh = (record for record in fresh if record.get("face") in only)
        self.fresh = Vectors.collect(fresh, model, self.info.dim if self.info and len(self.info.faces) else None)
        self._fresh_faces = set(self.fresh.faces)
        self._rows = len(self.fresh.faces)
        self._norms = np.linalg.norm(self.fresh.matrix, axis=1) if self._rows else np.zeros(0, np.float32)

    def add(self, face: str, image: str, vector: np.ndarray) -> None:
        """Make a face found from now on (one embedded while a stream is being matched)."""
        if face in self._fresh_faces or (self.only is not None and face not in self.only):
            return
        matrix = self.fresh.matrix
        if self._rows == len(matrix):  # grow by doubling: adding n faces costs O(n), not O(n^2)
            grown = np.zeros((max(8, 2 * len(matrix)), len(vector)), np.float32)
            grown[: self._rows] = matrix[: self._rows] if self._rows else grown[:0]
            self.fresh.matrix = matrix = grown
            norms = np.zeros(len(grown), np.float32)
            norms[: self._rows] = self._norms[: self._rows]
            self._norms = norms
        matrix[self._rows] = vector
        self._norms[self._rows] = np.linalg.norm(vector)
        self._rows += 1
        self.fresh.faces.append(face)
        self.fresh.images.append(image)
        self._fresh_faces.add(face)

    @property
    def size(self) -> int:
        return (len(self.info.faces) if self.info else 0) + self._rows

    @property
    def dim(self) -> int | None:
        """The length of the vectors searched; None while there are none."""
        if self.info is not None and len(self.info.faces):
            return self.info.dim
        return self.fresh.matrix.shape[1] if self._rows else None

    def nearest(self, vector: np.ndarray, k: int) -> list[Neighbour]:
        found: list[Neighbour] = []
        if self.index is not None:
            items, distances = self.index.by_vector(
                np.asarray(vector, dtype=np.float32), k, self.search_k or max(DEFAULT_SEARCH_K, k * self.info.trees)
            )
            for item, distance in zip(items, metrics.from_space(self.metric, distances)):
                face = self.info.face(item)
                if face not in self._fresh_faces:  # embedded again since the build: the fresh vector wins
                    found.append(Neighbour(face, self.info.image(item), float(distance)))
        if self._rows:
            distances = metrics.exact(self.metric, vector, self.fresh.matrix[: self._rows], self._norms[: self._rows])
            nearest = np.argpartition(distances, k)[:k] if k < len(distances) else np.arange(len(distances))
            for row in nearest[np.argsort(distances[nearest])]:
                found.append(Neighbour(self.fresh.faces[row], self.fresh.images[row], float(distances[row])))
        found.sort(key=lambda n: (n.distance, n.face))
        unique, seen = [], set()
        for neighbour in found:  # a face re-embedded into the stream may sit in the index too
            if neighbour.face not in seen:
                seen.add(neighbour.face)
                unique.append(neighbour)
        return unique[:k]
