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
from ..logs import EMBEDDINGS
from ..pixels import face_pictures
from ..records import timestamp
from ..sources import image_source, read_source
from ..state import state_of
from ..store.dataset import Dataset
from ..stream import Emitter
from ..vectors import Embeddings, as_vector
from .base import Passing, Stage, face_runs, followed, worker_faces

logger = logging.getLogger("recops")
STAGE = "embed"


@dataclass(frozen=True)
class EmbedOptions:
    model: str
    flip: bool = False
    """Average each face's vector with its mirror image's: steadier, twice the work."""


# A face this many pixels wide still makes a sharp 150-pixel chip (dlib pads it by a quarter).
SHARP_FACE = 200


def embed_faces(data: bytes, faces: list[dict], model: str, flip: bool = False) -> np.ndarray:
    """The faces' vectors, from one decode of each picture they are on: big photos of big faces
    decode smaller."""
    embedder = models.get_embedder(model)
    align = all(f.get("aligned", True) for f in faces)
    rows: list = [None] * len(faces)
    for indices, pixels, on in face_pictures(data, faces, sharp=SHARP_FACE):
        for index, row in zip(indices, embedder.embed(pixels, on, align=align, flip=flip)):
            rows[index] = row
    return np.stack(rows)


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


class FaceEmbedding(Stage):
    """Feed it records; it emits them with an embedding after each face, in input order."""

    stage = STAGE
    tool = "rx-embed"
    handles = ("face",)
    work = staticmethod(_work)

    def __init__(
        self,
        emitter: Emitter,
        options: EmbedOptions,
        dataset: Dataset | None = None,
        workers: int = 1,
        force: bool = False,
    ):
        models.check_embedder(options.model)
        super().__init__(emitter)
        self.options = options
        self.dataset = dataset
        self.workers = workers
        self.force = force
        self._own = Embeddings(options.model) if dataset is None else None
        self._inline: dict[str, object] = {}

    @property
    def done(self) -> Embeddings:
        """The embeddings made before: the dataset's (state.py), or this filter's own of this run."""
        return self._own if self._own is not None else Embeddings.of(self.dataset, self.options.model)

    def units(self, records: Iterable[dict]) -> Iterator:
        """The faces of one image together, each run with the faces in it that need an embedding."""
        for run in face_runs(self._adopting(self._holding(records))):
            yield run if isinstance(run, Passing) else (run, self._todo(run), self._inline.get(run[0].get("image")))

    def _holding(self, records: Iterable[dict]) -> Iterator[dict]:
        """Keeps the bytes of the last image records that carried them (rx-import --inline), for
        the faces after them: on another host, a face names a dataset that is not there, and its
        pixels are those of the image record before it. A run of faces is complete only when the
        next record comes, so the two last are kept."""
        for record in records:
            if record.get("type") == "image" and record.get("data") is not None and isinstance(record.get("id"), str):
                self._inline[record["id"]] = record["data"]
                while len(self._inline) > 2:
                    self._inline.pop(next(iter(self._inline)))
            yield record

    def _adopting(self, records: Iterable[dict]) -> Iterator[dict]:
        """A face followed by its embedding of this model (another host's rx-embed, say) is kept
        as it came, stored with the dataset, not computed again; the face then passes on with it."""
        if self.force:
            yield from records
            return
        for record, embedding in followed(records, "face", self._belongs):
            if embedding is not None:
                try:
                    self._adopt(record, embedding)  # before the face goes on, so it is not embedded again
                except InputError as exc:  # refused and not passed on: the face is embedded here instead
                    self.emitter.fail(record["id"], STAGE, exc.reason, exc.kind)
            yield record

    def _belongs(self, face: dict, item: dict) -> bool:
        return (
            item.get("type") == "embedding"
            and item.get("face") == face.get("id")
            and item.get("model") == self.options.model
            and bool(item.get("flip")) == self.options.flip
        )

    def finish(self, unit: tuple[list[dict], list[dict], object], result) -> None:
        group, todo, _ = unit
        vectors = iter(result[0]) if isinstance(result, tuple) else None
        for record in group:
            if not any(record is face for face in todo):
                self._pass_or_reuse(record)
            elif isinstance(result, InputError):
                self.emitter.emit(record)
                self.emitter.fail(record["id"], STAGE, result.reason, result.kind)
            else:
                self._record(record, next(vectors), *result[1:])

    def _adopt(self, face: dict, item: dict) -> None:
        vector = as_vector(item["vector"])
        dim = models.embedding_dim(self.options.model)
        if dim is not None and len(vector) != dim:
            raise InputError(
                "malformed-input", f"its {self.options.model} embedding holds {len(vector)} numbers, not {dim}: refused"
            )
        if face["id"] not in self.done:
            embedding = {**item, "vector": vector.astype(np.float32)}
            embedding.pop("dataset", None)
            self._store(embedding)

    def _store(self, embedding: dict) -> None:
        if self.dataset:
            state_of(self.dataset).append(EMBEDDINGS, embedding)
        else:
            self.done.add(embedding)

    def _todo(self, faces: list[dict]) -> list[dict]:
        todo, seen = [], set()
        for face in faces:
            if (self.force or face.get("id") not in self.done) and face.get("id") not in seen:
                todo.append(face)
                seen.add(face.get("id"))
        return todo

    def task(self, unit: tuple[list[dict], list[dict], object]):
        _, todo, held = unit
        if not todo:
            return None
        try:
            faces = worker_faces(todo)
            first = todo[0] if held is None or todo[0].get("data") is not None else {**todo[0], "data": held}
            return image_source(first, self.dataset), faces, self.options.model, self.options.flip
        except (InputError, KeyError) as exc:
            return exc if isinstance(exc, InputError) else InputError("malformed-input", f"face record lacks {exc}")

    def _pass_or_reuse(self, record: dict) -> None:
        self.emitter.emit(record)
        stored = self.done.get(record.get("id"))
        if stored:
            self.emitter.emit({**stored, "vector": as_vector(stored["vector"])})

    def _record(self, face: dict, vector: np.ndarray, version: str, normalization: str, dim: int) -> None:
        embedding = {
            "type": "embedding",
            "face": face["id"],
            "image": face["image"],
            "model": self.options.model,
            "model_version": version,
            "dim": dim,
            "normalization": normalization,
            "vector": vector.astype(np.float32),
            "ts": timestamp(),
            **({"flip": True} if self.options.flip else {}),
        }
        self._store(embedding)
        self.emitter.emit(face)
        self.emitter.emit(embedding)
