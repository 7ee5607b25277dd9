"""The graph clustering works on: faces as nodes, each joined to its k nearest faces within the
threshold.

Each face's neighbours come from the dataset's index, among the faces it holds (asked by item, or by
vector for a face it does not hold; spread over worker processes, or an HNSW index's threads), and from an exact
search among the faces embedded since it was built, as rx-match searches. Never all pairs: when
the exact search would compare more than EXACT_PAIRS pairs, the index is built first (rx-index's
build: derived data every search then shares).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import index_kinds
from ..id_arrays import BLOCK, Ids, SortedIds, hex_ids, sorting
from ..index import build_index, index_info
from ..logs import EMBEDDINGS
from ..parallel import ordered_map, parent_only
from ..search import FaceSearch
from ..store.dataset import Dataset
from ..vectors import Vectors
from . import space

logger = logging.getLogger("recops")
EXACT_PAIRS = 400_000_000
"""(face asked about, face outside the index) pairs an exact search takes a few seconds for;
beyond, building the index pays."""
ITEMS_PER_TASK = 5000
BLOCK_CELLS = 1 << 25
"""Distances computed at once by the exact search (128 MiB of float32)."""


@dataclass
class Nodes:
    """The faces clustered, sorted by id: node n is faces[n]."""

    faces: SortedIds
    images: Ids
    vectors: np.ndarray
    """Prepared (space.prepare): unit rows for the cosine family, as embedded for euclidean."""

    def __len__(self) -> int:
        return len(self.faces)


@dataclass
class Edges:
    """Undirected edges, a < b, with half the squared distance of their vectors."""

    a: np.ndarray
    b: np.ndarray
    distance: np.ndarray


class Neighbourhood:
    """The faces of one model eligible for clustering, and how to find each one's neighbours."""

    def __init__(
        self,
        dataset: Dataset,
        model: str,
        metric: str,
        eligible: Callable[[str, str], bool],
        search_k: int | None = None,
    ):
        self.dataset, self.model, self.metric, self.search_k = dataset, model, metric, search_k
        # Its own reading, not the dataset's shared view (Vectors.of): that would hold a second
        # matrix for as long as the process runs, 5 GB at ten million faces.
        vectors = Vectors.collect(dataset.log(EMBEDDINGS).records(), model)
        wanted = np.zeros(len(vectors), bool)
        for start in range(0, len(vectors), BLOCK):
            faces, images = (hex_ids(ids[start : start + BLOCK]) for ids in (vectors.face_ids, vectors.image_ids))
            wanted[start : start + len(faces)] = [eligible(f, i) for f, i in zip(faces, images)]
        rows = np.flatnonzero(wanted)
        rows = rows[sorting(vectors.face_ids[rows])]
        matrix = parent_only((len(rows), max(1, vectors.matrix.shape[-1])), np.float32)
        if len(rows):
            np.take(vectors.matrix, rows, axis=0, out=matrix, mode="clip")  # clip: unbuffered, rows are valid
        faces, images = vectors.face_ids[rows], vectors.image_ids[rows]
        del vectors
        self.nodes = Nodes(SortedIds(faces), Ids(images), space.prepare(metric, matrix, copy=False))
        self.node_of = self.nodes.faces
        self._load_index()

    def _load_index(self) -> None:
        self.item_of = np.full(len(self.nodes), -1, np.int64)
        self.node_of_item = np.zeros(0, np.int64)
        self.ann = self.space = self.kind = None
        if index_info(self.dataset, self.model, self.metric, quiet=True) is None:
            return
        search = FaceSearch(self.dataset, self.model, self.metric, self.search_k)  # it tells stale from current
        if search.index is None or not len(search.info.faces):
            return
        self.ann, self.space, self.kind = search.info.ann, search.info.space, search.info.kind
        _open_index.clear()
        _open_index[self.ann] = search.index  # an HNSW index is read whole: once
        found = self.node_of.find(search.info.faces)
        # Embedded again since the build: the index holds an old vector.
        stale = self.node_of.find(search.fresh.face_ids)
        found[np.isin(found, stale[stale >= 0])] = -1
        self.node_of_item = found
        items = np.flatnonzero(found >= 0)
        self.item_of[found[items]] = items

    def edges(self, queries: np.ndarray, k: int, limit: float, jobs: int = 1) -> Edges:
        """Edges from each query node to its k nearest nodes within `limit`, both ways: the index
        answers for the faces it holds, an exact search for the others."""
        outside = np.flatnonzero(self.item_of < 0)
        if len(queries) * len(outside) > EXACT_PAIRS:
            logger.info("building the index first: %d faces are not in it", len(outside))
            build_index(self.dataset, self.model, self.metric)
            self._load_index()
            outside = np.flatnonzero(self.item_of < 0)
        chunks = [queries[s : s + ITEMS_PER_TASK] for s in range(0, len(queries), ITEMS_PER_TASK)]
        if self.ann is None:
            found = ((chunk, None) for chunk in chunks)
        else:
            # An HNSW index lives in the memory of the process that reads it: threads share one copy.
            threads, workers = (jobs, 1) if self.kind == "hnsw" else (1, jobs)
            tasks = [
                (
                    self.kind,
                    self.ann,
                    self.nodes.vectors.shape[1],
                    self.space,
                    len(self.node_of_item),
                    self.item_of[chunk],
                    self.nodes.vectors[chunk[self.item_of[chunk] < 0]],
                    k + 1,
                    self.search_k or -1,
                    threads,
                )
                for chunk in chunks
            ]
            found = (
                (chunk, result)
                for chunk, (_, result) in zip(chunks, ordered_map(tasks, _index_neighbours, workers, lambda task: task))
            )
        a, b, d = [], [], []
        for chunk, indexed in found:
            near, distance = self._exact(chunk, outside, k)
            if indexed is not None:
                items, far = indexed
                near = np.concatenate([near, np.where(items >= 0, self.node_of_item[np.maximum(items, 0)], -1)], axis=1)
                distance = np.concatenate([distance, far.astype(np.float32) ** 2 / 2], axis=1)  # in Annoy's units
            distance[(near == chunk[:, None]) | (near < 0)] = np.inf
            if near.shape[1] > k:
                nearest = np.argpartition(distance, k - 1, axis=1)[:, :k]
                near, distance = np.take_along_axis(near, nearest, 1), np.take_along_axis(distance, nearest, 1)
            keep = distance <= limit
            a.append(np.broadcast_to(chunk[:, None], keep.shape)[keep])
            b.append(near[keep])
            d.append(distance[keep])
        a, b, d = (
            np.concatenate(x) if x else np.zeros(0, t) for x, t in ((a, np.int64), (b, np.int64), (d, np.float32))
        )
        low, high = np.minimum(a, b), np.maximum(a, b)
        _, first = np.unique(low * len(self.nodes) + high, return_index=True)
        return Edges(low[first], high[first], d[first])

    def _exact(self, queries: np.ndarray, among: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest of `among` to each query: (nodes, half squared distances), padded with -1, inf."""
        count = min(k, len(among))
        near = np.full((len(queries), count), -1, np.int64)
        distance = np.full((len(queries), count), np.inf, np.float32)
        if not count:
            return near, distance
        vectors = self.nodes.vectors
        half_norms = (vectors**2).sum(1) / 2
        block = max(1, BLOCK_CELLS // len(among))
        for start in range(0, len(queries), block):
            rows = queries[start : start + block]
            cells = half_norms[rows][:, None] + half_norms[among][None, :] - vectors[rows] @ vectors[among].T
            cells[among[None, :] == rows[:, None]] = np.inf
            nearest = np.argpartition(cells, count - 1, axis=1)[:, :count]
            near[start : start + len(rows)] = among[nearest]
            distance[start : start + len(rows)] = np.take_along_axis(cells, nearest, 1)
        return near, distance


_open_index: dict = {}


def _index_neighbours(task) -> tuple[np.ndarray, np.ndarray]:
    """(items, distances) of the nearest items to each of a task's faces, by item where the index
    holds it (-1), else by vector; padded with -1 and inf."""
    kind, path, dim, space_name, size, items, vectors, count, search_k, threads = task
    index = _open_index.get(path)
    if index is None:
        index = index_kinds.load(kind, path, dim, space_name, size, 0)
        _open_index.clear()
        _open_index[path] = index
    found = np.full((len(items), count), -1, np.int64)
    distances = np.full((len(items), count), np.inf, np.float32)
    if kind == "hnsw":
        held = items >= 0
        matrix = np.empty((len(items), dim), np.float32)
        matrix[~held] = vectors
        if held.any():
            matrix[held] = index.vectors(items[held].tolist())
        near, far = index.batch(matrix, count, search_k, threads)
        found[:, : near.shape[1]], distances[:, : far.shape[1]] = near, far
        return found, distances
    unindexed = iter(vectors)
    for row, item in enumerate(items.tolist()):
        near, far = (
            index.by_item(item, count, search_k) if item >= 0 else index.by_vector(next(unindexed), count, search_k)
        )
        found[row, : len(near)] = near
        distances[row, : len(far)] = far
    return found, distances
