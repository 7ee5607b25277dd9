"""rx-embed's core: one embedding per (face, model), computed once.

Each face record passes on, followed by its embedding record. The faces of one image are
embedded together, from one decode of the image. With a dataset the embeddings are stored and a
re-run reuses them; without one it is a pure filter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from .. import models
from ..errors import InputError
from .face_runs import face_runs
from ..parallel import ordered_map
from ..pixels import load_rgb
from ..records import timestamp
from ..sources import image_source, read_source
from ..store.dataset import Dataset
from ..stream import BadInput, Emitter

logger = logging.getLogger("recops")
STAGE = "embed"
EMBEDDINGS = "embeddings"


@dataclass(frozen=True)
class EmbedOptions:
    model: str
    flip: bool = False
    """Average each face's vector with its mirror image's: steadier, twice the work."""


def as_vector(value) -> np.ndarray:
    """A vector from a record: raw little-endian float32 bytes (msgpack) or a list (JSON)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return np.frombuffer(value, dtype="<f4")
    return np.asarray(value, dtype=np.float32)


# A face this many pixels wide still makes a sharp 150-pixel chip (dlib pads it by a quarter).
SHARP_FACE = 200


def embed_faces(data: bytes, faces: list[dict], model: str, flip: bool = False) -> np.ndarray:
    """The faces' vectors, from one decode of the image: big photos of big faces decode smaller."""
    smallest = min(min(f["box"][2] - f["box"][0], f["box"][3] - f["box"][1]) for f in faces)
    pixels, scale = load_rgb(data, scale=min(1.0, SHARP_FACE / max(1, smallest)))
    if scale != 1.0:
        faces = [models.scale_face(f, scale) for f in faces]
    embedder = models.get_embedder(model)
    return embedder.embed(pixels, faces, align=all(f.get("aligned", True) for f in faces), flip=flip)


def _work(task) -> tuple[np.ndarray, str, str, int] | InputError:
    if isinstance(task, InputError):
        return task
    source, faces, model, flip = task
    try:
        embedder = models.get_embedder(model)
        version = embedder.version + ("+flip" if flip else "")
        return embed_faces(read_source(source), faces, model, flip), version, embedder.normalization, embedder.dim
    except InputError as exc:
        return exc
    except Exception as exc:  # one image's failure must not end the run
        return InputError("embed-failed", f"{type(exc).__name__}: {exc}")


class FaceEmbedding:
    """Feed it records; it emits them with an embedding after each face, in input order."""

    def __init__(self, emitter: Emitter, options: EmbedOptions, dataset: Dataset | None = None,
                 workers: int = 1, force: bool = False):
        models.check_embedder(options.model)
        self.emitter = emitter
        self.options = options
        self.dataset = dataset
        self.workers = workers
        self.force = force
        self.done: dict[str, dict] = {}
        if dataset:
            for record in dataset.log(EMBEDDINGS).records():
                if record.get("model") == options.model:
                    self.done[record["face"]] = record

    def run(self, items: Iterable[dict | str | BadInput]) -> None:
        for (group, todo), result in ordered_map(self._groups(self._adopting(items)), _work, self.workers, self._task):
            vectors = iter(result[0]) if isinstance(result, tuple) else None
            for record in group:
                if not any(record is face for face in todo):
                    self._pass_or_reuse(record)
                elif isinstance(result, InputError):
                    self.emitter.emit(record)
                    self.emitter.fail(record["id"], STAGE, result.reason, result.kind)
                else:
                    self._record(record, next(vectors), *result[1:])

    def _adopting(self, items: Iterable[dict | str | BadInput]) -> Iterator[dict | str | BadInput]:
        """A face followed by its embedding of this model (another host's rx-embed, say) is kept
        as it came, stored with the dataset, not computed again; the face then passes on with it."""
        held = None
        for item in items:
            if held is not None:
                face, held = held, None
                try:
                    adopted = self._adopt(face, item)  # before the face goes on, so it is not embedded again
                except InputError as exc:
                    self.emitter.fail(face["id"], STAGE, exc.reason, exc.kind)
                    adopted = True  # refused and not passed on: the face is embedded here instead
                yield face
                if adopted:
                    continue
            if isinstance(item, dict) and item.get("type") == "face" and not self.force:
                held = item
                continue
            yield item
        if held is not None:
            yield held

    def _adopt(self, face: dict, item: object) -> bool:
        if not (isinstance(item, dict) and item.get("type") == "embedding" and item.get("face") == face.get("id")
                and item.get("model") == self.options.model and bool(item.get("flip")) == self.options.flip):
            return False
        vector = as_vector(item["vector"])
        dim = models.embedding_dim(self.options.model)
        if dim is not None and len(vector) != dim:
            raise InputError("malformed-input", f"its {self.options.model} embedding holds {len(vector)} numbers, "
                             f"not {dim}: refused")
        if face["id"] not in self.done:
            embedding = {**item, "vector": vector.astype(np.float32)}
            embedding.pop("dataset", None)
            if self.dataset:
                self.dataset.log(EMBEDDINGS).append(embedding)
            self.done[face["id"]] = embedding
        return True

    def _groups(self, items: Iterable[dict | str | BadInput]) -> Iterator[tuple[list[dict], list[dict]]]:
        """Runs of consecutive faces of one image, and every other record alone, each with the
        faces in it that need an embedding."""
        for run in face_runs(items, self.emitter, STAGE, "rx-embed"):
            yield run, (self._todo(run) if run[0].get("type") == "face" else [])

    def _todo(self, faces: list[dict]) -> list[dict]:
        todo, seen = [], set()
        for face in faces:
            if (self.force or face.get("id") not in self.done) and face.get("id") not in seen:
                todo.append(face)
                seen.add(face.get("id"))
        return todo

    def _task(self, item: tuple[list[dict], list[dict]]):
        todo = item[1]
        if not todo:
            return None
        try:
            faces = [{k: f[k] for k in ("box", "landmarks", "aligned") if k in f} for f in todo]
            return image_source(todo[0], self.dataset), faces, self.options.model, self.options.flip
        except (InputError, KeyError) as exc:
            return exc if isinstance(exc, InputError) else InputError("malformed-input", f"face record lacks {exc}")

    def _pass_or_reuse(self, record: dict) -> None:
        self.emitter.emit(record)
        stored = self.done.get(record.get("id")) if record.get("type") == "face" else None
        if stored:
            self.emitter.emit({**stored, "vector": as_vector(stored["vector"])})

    def _record(self, face: dict, vector: np.ndarray, version: str, normalization: str, dim: int) -> None:
        embedding = {"type": "embedding", "face": face["id"], "image": face["image"], "model": self.options.model,
                     "model_version": version, "dim": dim, "normalization": normalization,
                     "vector": vector.astype(np.float32), "ts": timestamp(), **({"flip": True} if self.options.flip else {})}
        if self.dataset:
            self.dataset.log(EMBEDDINGS).append(embedding)
        self.done[face["id"]] = embedding
        self.emitter.emit(face)
        self.emitter.emit(embedding)
