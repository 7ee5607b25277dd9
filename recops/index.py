"""The index of a dataset's embeddings (Annoy's, or HNSW's: index_kinds.py): derived data that
knows what it covers.

    cache/index/<model>.<space>.meta          msgpack: its kind, the record segments it covers, its
                                              face and image ids in item order, the file it belongs to
    cache/index/<model>.<space>.<build>.ann   an Annoy index, memory-mapped by every reader
    cache/index/<model>.<space>.<build>.hnsw  an HNSW index (hnswlib's file), read whole by a reader

A build writes a new index file under a new name, then replaces the .meta atomically: a reader holds
either the old pair or the new one. Embeddings appended since the build live in segments the meta
does not list; searches read those exactly. When a covered segment is gone (rx-gc compacted it),
the index is stale and is not trusted.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass

import msgpack
import numpy as np

from . import index_kinds
from .logs import EMBEDDINGS
from .metrics import space
from .records import timestamp
from .store.dataset import Dataset
from .store.layout import CACHE
from .store.segments import SEGMENT_RE
from .store.tree import GiB, temp_name
from .vectors import Vectors

logger = logging.getLogger("recops")
INDEX_DIR = "index"
INDEX_REL = f"{CACHE}/{INDEX_DIR}"
FORMAT = 1
MAX_META = GiB
MAX_ANN = 1 << 40
"""An index is memory-mapped, never read whole: any size a disk holds."""
MAX_LINKS = 256
KEEP_BUILDS = 2
"""Old index files kept, so a reader that read the previous meta can still open its index."""


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
    """The index file's path."""
    built: str
    seconds: float
    kind: str = "annoy"
    links: int | None = None
    """HNSW's links per face (M); None for Annoy."""

    def face(self, item: int) -> str:
        return self.faces[item].tobytes().hex()

    def image(self, item: int) -> str:
        return self.images[item].tobytes().hex()

    def record(self) -> dict:
        return {
            "type": "index",
            "kind": self.kind,
            "model": self.model,
            "space": self.space,
            "dim": self.dim,
            "count": len(self.faces),
            **({"trees": self.trees} if self.kind == "annoy" else {"links": self.links}),
            "segments": len(self.segments),
            "file": self.ann,
            "built": self.built,
            "seconds": round(self.seconds, 3),
        }


def _meta_rel(model: str, metric: str) -> str:
    return f"{INDEX_REL}/{model}.{space(metric)}.meta"


def default_trees(count: int) -> int:
    """More trees for more items: recall holds as the index grows, build time stays near linear."""
    return int(min(100, max(10, 10 * np.log10(max(count, 10)) - 10)))


def build_index(
    dataset: Dataset,
    model: str,
    metric: str,
    trees: int | None = None,
    jobs: int = -1,
    kind: str | None = None,
    links: int | None = None,
) -> IndexInfo:
    """Index every embedding of `model` in the dataset, atomically replacing the previous index;
    `kind` None: the kind of the index there was, else Annoy's; `links` None (HNSW): as many as
    the index there was had, else index_kinds.HNSW_LINKS."""
    built = index_info(dataset, model, metric, quiet=True)
    kind = kind or (built.kind if built else "annoy")
    if links is None and built is not None and built.kind == kind:
        links = built.links
    if links is not None and kind != "hnsw":
        raise ValueError("links are an HNSW index's; an Annoy index has trees")
    if kind not in index_kinds.KINDS:
        raise ValueError(f"unknown kind of index {kind!r}; choose from {', '.join(index_kinds.KINDS)}")
    started = time.monotonic()
    record_log = dataset.log(EMBEDDINGS)
    record_log.flush()
    segments = [s.name for s in record_log.segments()]
    vectors = Vectors.collect(record_log.records(), model)
    count = len(vectors)
    dim = vectors.matrix.shape[1] if count else 0
    faces, images = vectors.face_ids.tobytes(), vectors.image_ids.tobytes()
    held = [vectors.matrix]
    del vectors  # the build frees `held`'s matrix once the library holds its own copy
    folder = dataset.tree.folder(INDEX_REL, create=True)
    ann = f"{model}.{space(metric)}.{os.urandom(6).hex()}.{index_kinds.SUFFIX[kind]}"
    temp = temp_name()
    # Both libraries write by name: through the open folder's /proc path, so no link on the way is followed.
    settings = index_kinds.build(
        kind,
        held,
        space(metric),
        os.path.join(dataset.tree.fd_path(folder), temp),
        trees or default_trees(count),
        jobs,
        links,
    )
    os.rename(temp, ann, src_dir_fd=folder, dst_dir_fd=folder)
    meta = {
        "format": FORMAT,
        "kind": kind,
        **settings,
        "model": model,
        "space": space(metric),
        "dim": dim,
        "segments": segments,
        "faces": faces,
        "images": images,
        "ann": ann,
        "built": timestamp(),
        "seconds": time.monotonic() - started,
    }
    dataset.tree.write(_meta_rel(model, metric), msgpack.packb(meta), mode=0o600)
    _forget_old_builds(dataset, f"{model}.{space(metric)}.", ann)
    return _info(meta, dataset.tree.path(INDEX_REL))


def _forget_old_builds(dataset: Dataset, prefix: str, current: str) -> None:
    folder = INDEX_REL
    builds = sorted(
        (e.mtime, e.name)
        for e in dataset.tree.entries(folder)
        if e.is_file and e.name.startswith(prefix) and e.name.endswith((".ann", ".hnsw")) and e.name != current
    )
    for _, name in builds[: max(0, len(builds) - (KEEP_BUILDS - 1))]:
        dataset.tree.remove(f"{folder}/{name}")


def _info(meta: dict, folder: str) -> IndexInfo:
    return IndexInfo(
        meta["model"],
        meta["space"],
        meta["dim"],
        meta["trees"],
        list(meta["segments"]),
        np.frombuffer(meta["faces"], dtype=np.uint8).reshape(-1, 16),
        np.frombuffer(meta["images"], dtype=np.uint8).reshape(-1, 16),
        os.path.join(folder, meta["ann"]),
        meta["built"],
        meta["seconds"],
        meta.get("kind", "annoy"),
        meta.get("links"),
    )


def _meta_problem(meta: object, model: str, metric: str) -> str | None:
    """Why a meta file cannot be trusted; it may have come with a restored backup."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return "of another format"
    kind = meta.get("kind", "annoy")  # indexes built before HNSW say nothing of their kind
    if kind not in index_kinds.KINDS:
        return "of an unknown kind"
    ann, name = meta.get("ann"), re.escape(f"{model}.{space(metric)}.") + r"[0-9a-f]{12}\." + index_kinds.SUFFIX[kind]
    if not (isinstance(ann, str) and re.fullmatch(name, ann)):
        return "naming no index file of its own"
    faces, images, segments = meta.get("faces"), meta.get("images"), meta.get("segments")
    if not (
        isinstance(faces, bytes) and isinstance(images, bytes) and len(faces) % 16 == 0 and len(faces) == len(images)
    ):
        return "with damaged face ids"
    if not (isinstance(segments, list) and all(isinstance(n, str) and SEGMENT_RE.match(n) for n in segments)):
        return "with damaged segment names"
    for key in ("dim", "trees"):
        if not (isinstance(meta.get(key), int) and 0 <= meta[key] < 1 << 16):
            return f"with a damaged {key}"
    if kind == "hnsw" and not (isinstance(meta.get("links"), int) and 2 <= meta["links"] <= MAX_LINKS):
        return "with a damaged number of links"
    if meta.get("space") != space(metric) or not isinstance(meta.get("built"), str):
        return "of another space"
    if not isinstance(meta.get("seconds"), (int, float)):
        return "with a damaged build time"
    return None


def index_info(dataset: Dataset, model: str, metric: str, quiet: bool = False) -> IndexInfo | None:
    """What the index for model and metric covers (its meta, not the index itself), or None when
    there is none or only one that cannot be trusted: it is derived data, rx-index makes it again."""
    try:
        meta = msgpack.unpackb(dataset.tree.read(_meta_rel(model, metric), MAX_META))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, msgpack.UnpackException) as exc:
        if not quiet:
            logger.warning("ignoring the index of %s: %s; rebuild it with rx-index", dataset.root, exc)
        return None
    why = _meta_problem(meta, model, metric)
    if why is not None:
        if not quiet:
            logger.warning("ignoring an index %s; rebuild it with rx-index", why)
        return None
    return _info(meta, dataset.tree.path(INDEX_REL))


def load_index(dataset: Dataset, model: str, metric: str):
    """(its neighbours, as index_kinds answers them, or None when it holds no face; IndexInfo), or
    None as index_info says."""
    info = index_info(dataset, model, metric)
    if info is None:
        return None
    if not len(info.faces):
        return None, info
    try:
        with dataset.tree.opened(f"{INDEX_REL}/{os.path.basename(info.ann)}", MAX_ANN) as fd:
            index = index_kinds.load(
                info.kind, dataset.tree.fd_path(fd), info.dim, info.space, len(info.faces), info.trees
            )
    except (OSError, RuntimeError) as exc:  # hnswlib says a damaged file with a RuntimeError
        logger.warning("ignoring the index of %s: %s; rebuild it with rx-index", dataset.root, exc)
        return None
    return index, info
