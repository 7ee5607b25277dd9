"""The Annoy index of a dataset's embeddings: derived data that knows what it covers.

    cache/index/<model>.<space>.meta         msgpack: the record segments it covers, its face and
                                             image ids in item order, the .ann file it belongs to
    cache/index/<model>.<space>.<build>.ann  the Annoy index, memory-mapped by every reader

A build writes a new .ann under a new name, then replaces the .meta atomically: a reader holds
either the old pair or the new one. Embeddings appended since the build live in segments the meta
does not list; searches read those exactly. When a covered segment is gone (rx-gc compacted it),
the index is stale and is not trusted.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Iterable

import msgpack
import numpy as np

from .embed import EMBEDDINGS, as_vector
from .metrics import space
from .records import timestamp
from .store.atomic import write_atomic
from .store.dataset import Dataset

log = logging.getLogger("recops")
INDEX_DIR = "index"
FORMAT = 1
KEEP_BUILDS = 2
"""Old .ann files kept, so a reader that read the previous meta can still open its index."""


@dataclass
class Vectors:
    """Embeddings of one model: face ids, image ids and a float32 matrix, row for row."""

    faces: list[str]
    images: list[str]
    matrix: np.ndarray

    @classmethod
    def collect(cls, records: Iterable[dict], model: str) -> "Vectors":
        """The latest embedding of each face, in order of first appearance. Vectors go straight
        into a matrix that grows by doubling: a million faces cost their 512 MB and their ids,
        not a million small arrays."""
        rows: dict[str, int] = {}
        stamps: list[str] = []
        images: list[str] = []
        matrix = np.zeros((0, 0), np.float32)
        for record in records:
            if record.get("type") != "embedding" or record.get("model") != model:
                continue
            vector, stamp = as_vector(record["vector"]), record.get("ts", "")
            row = rows.get(record["face"])
            if row is None:
                row = rows[record["face"]] = len(images)
                stamps.append(stamp)
                images.append(record["image"])
                if row == len(matrix):
                    grown = np.zeros((max(1024, 2 * len(matrix)), len(vector)), np.float32)
                    if row:
                        grown[:row] = matrix
                    matrix = grown
            elif stamp < stamps[row]:
                continue
            else:
                stamps[row], images[row] = stamp, record["image"]
            matrix[row] = vector
        if images:
            matrix.resize((len(images), matrix.shape[1]), refcheck=False)  # we hold the only reference
        return cls(list(rows), images, matrix)


@dataclass
class IndexInfo:
    model: str
    space: str
    dim: int
    trees: int
    segments: list[str]
    faces: np.ndarray
    """n x 16 bytes: face ids in item order (hex ids are 32 digits, 16 bytes)."""
    images: np.ndarray
    ann: str
    built: str
    seconds: float

    def face(self, item: int) -> str:
        return self.faces[item].tobytes().hex()

    def image(self, item: int) -> str:
        return self.images[item].tobytes().hex()

    def record(self) -> dict:
        return {"type": "index", "model": self.model, "space": self.space, "dim": self.dim, "count": len(self.faces),
                "trees": self.trees, "segments": len(self.segments), "file": self.ann, "built": self.built,
                "seconds": round(self.seconds, 3)}


def _folder(dataset: Dataset) -> str:
    return os.path.join(dataset.cache_dir, INDEX_DIR)


def _meta_path(dataset: Dataset, model: str, metric: str) -> str:
    return os.path.join(_folder(dataset), f"{model}.{space(metric)}.meta")


def _ids(hex_ids: list[str]) -> bytes:
    return b"".join(bytes.fromhex(i) for i in hex_ids)


def default_trees(count: int) -> int:
    """More trees for more items: recall holds as the index grows, build time stays near linear."""
    return int(min(100, max(10, 10 * np.log10(max(count, 10)) - 10)))


def build_index(dataset: Dataset, model: str, metric: str, trees: int | None = None, jobs: int = -1) -> IndexInfo:
    """Index every embedding of `model` in the dataset, atomically replacing the previous index."""
    from annoy import AnnoyIndex

    started = time.monotonic()
    log_ = dataset.log(EMBEDDINGS)
    log_.flush()
    segments = [s.name for s in log_.segments()]
    vectors = Vectors.collect(log_.records(), model)
    count = len(vectors.faces)
    dim = vectors.matrix.shape[1] if count else 0
    trees = trees or default_trees(count)
    index = AnnoyIndex(dim or 1, space(metric))
    for item, vector in enumerate(vectors.matrix):
        index.add_item(item, vector)
    index.build(trees, n_jobs=jobs)
    folder = _folder(dataset)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    build = os.urandom(6).hex()
    ann = os.path.join(folder, f"{model}.{space(metric)}.{build}.ann")
    temp = ann + ".tmp"
    index.save(temp)
    index.unload()
    os.rename(temp, ann)
    meta = {"format": FORMAT, "model": model, "space": space(metric), "dim": dim, "trees": trees,
            "segments": segments, "faces": _ids(vectors.faces), "images": _ids(vectors.images),
            "ann": os.path.basename(ann), "built": timestamp(), "seconds": time.monotonic() - started}
    write_atomic(_meta_path(dataset, model, metric), msgpack.packb(meta), mode=0o600)
    _forget_old_builds(folder, f"{model}.{space(metric)}.", os.path.basename(ann))
    return _info(meta, folder)


def _forget_old_builds(folder: str, prefix: str, current: str) -> None:
    builds = sorted((os.path.getmtime(os.path.join(folder, n)), n) for n in os.listdir(folder)
                    if n.startswith(prefix) and n.endswith(".ann") and n != current)
    for _, name in builds[: max(0, len(builds) - (KEEP_BUILDS - 1))]:
        os.unlink(os.path.join(folder, name))


def _info(meta: dict, folder: str) -> IndexInfo:
    return IndexInfo(meta["model"], meta["space"], meta["dim"], meta["trees"], list(meta["segments"]),
                     np.frombuffer(meta["faces"], dtype=np.uint8).reshape(-1, 16),
                     np.frombuffer(meta["images"], dtype=np.uint8).reshape(-1, 16),
                     os.path.join(folder, meta["ann"]), meta["built"], meta["seconds"])


def load_index(dataset: Dataset, model: str, metric: str):
    """(AnnoyIndex memory-mapped, IndexInfo), or None when there is no index for model and metric."""
    from annoy import AnnoyIndex

    try:
        with open(_meta_path(dataset, model, metric), "rb") as handle:
            meta = msgpack.unpackb(handle.read())
    except FileNotFoundError:
        return None
    if meta.get("format") != FORMAT:
        log.warning("ignoring an index of another format; rebuild it with rx-index")
        return None
    info = _info(meta, _folder(dataset))
    index = AnnoyIndex(max(info.dim, 1), info.space)
    if len(info.faces):
        index.load(info.ann)
    return index, info
