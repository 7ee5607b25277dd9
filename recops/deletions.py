"""Deleting faces, images and whole datasets.

Faces and images are deleted by tombstones in an append-only log:

    deletions log: {"type": "deletion", "target": "face" | "image", "id": ..., "ts": ...}

A tombstone is final and every view honours it: listings, identities and their face counts,
matching and proposals. Ids come from content (an image's bytes; a face's image, detector and
box), so importing the same bytes again or detecting the same faces again yields the same ids,
and they stay hidden: a cron job that re-imports a folder does not bring back what a person
deleted. A deleted image hides its faces, and a deleted face its links. The bytes stay on disk
until rx-gc reclaims them.

A dataset is deleted whole: its directory goes, under the exclusive lock.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from .errors import DatasetError, InputError
from .faces import Detections, FaceCatalog, Replaced
from .ids import resolve
from .images import ImageCatalog
from .logs import DELETIONS
from .records import timestamp, warning_record
from .state import state_of
from .store import config
from .store.atomic import is_temp
from .store.dataset import Dataset, is_dataset
from .store.lock import DatasetLock
from .store.tree import Tree

logger = logging.getLogger("recops")
TARGETS = ("face", "image")
STAGE = "delete"


@dataclass
class Deletions:
    """What the views hide: deleted faces and images, and faces a later detection of their image
    replaced (faces.Replaced, read when first asked about a face)."""

    faces: set[str] = field(default_factory=set)
    images: set[str] = field(default_factory=set)
    tombstones: dict[tuple[str, str], dict] = field(default_factory=dict)
    detections: Callable[[], Detections] = field(default=Detections, repr=False, compare=False)
    """The detections view that tells which faces were replaced (read when first asked)."""

    @classmethod
    def fold(cls, records: Iterable[dict]) -> "Deletions":
        view = cls()
        for record in records:
            view.add(record)
        return view

    @classmethod
    def of(cls, dataset: Dataset) -> "Deletions":
        def build() -> Deletions:
            view = cls.fold(dataset.log(DELETIONS).records())
            view.detections = lambda: Detections.of(dataset)
            return view

        return state_of(dataset).view(DELETIONS, build, folds=(DELETIONS,), add=cls.add)

    @property
    def replaced(self) -> Replaced:
        return self.detections().replaced

    def add(self, record: dict) -> None:
        if record.get("type") == "deletion" and record.get("target") in TARGETS and "id" in record:
            (self.faces if record["target"] == "face" else self.images).add(record["id"])
            self.tombstones.setdefault((record["target"], record["id"]), record)

    def deleted(self, face: str | None = None, image: str | None = None) -> bool:
        return face in self.faces or image in self.images

    def hides(self, face: str | None = None, image: str | None = None) -> bool:
        return self.deleted(face, image) or (face is not None and face in self.replaced.faces)

    def current(self, face: str) -> str | None:
        """The face that stands for `face` now (itself, or the face of its box in a later detection
        of its image), or None when there is none or it was deleted."""
        now = self.replaced.current(face)
        return None if now is None or now in self.faces else now

    def screen(self, records: Iterable[dict], emitter, stage: str) -> Iterator[dict]:
        """The records of a stream but the faces (and embeddings) of deleted faces and images;
        each deleted image is told once, as a warning."""
        told: set[str] = set()
        for record in records:
            kind = record.get("type")
            if kind == "image" and record.get("id") in self.images:
                if record["id"] not in told:
                    told.add(record["id"])
                    logger.warning("%s: image %s was deleted; it stays deleted", _label(record), record["id"])
                    emitter.emit(warning_record(record["id"], stage, "deleted image: it stays deleted", "deleted"))
                continue
            if kind in ("face", "embedding") and self.deleted(
                record.get("id") if kind == "face" else record.get("face"), record.get("image")
            ):
                continue
            yield record


def _label(record: dict) -> str:
    return (record.get("paths") or [record.get("id", "?")])[0]


def deletion_record(target: str, id: str) -> dict:
    return {"type": "deletion", "target": target, "id": id, "ts": timestamp()}


class Deleter:
    """Deletes faces and images of one dataset by id; the kind of an id is looked up."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    @property
    def deletions(self) -> Deletions:
        return Deletions.of(self.dataset)

    @property
    def images(self) -> ImageCatalog:
        return ImageCatalog.of(self.dataset)

    @property
    def faces(self) -> FaceCatalog:
        return FaceCatalog.of(self.dataset)

    def delete(self, id: str, target: str | None = None) -> dict:
        """The tombstone of a face or an image (the one already there when it was deleted before),
        by its id or a unique start of it."""
        if id not in self.images and id not in self.faces:
            if target is None:
                pool = [image["id"] for image in self.images] + list(self.faces.ids())
            else:
                pool = [image["id"] for image in self.images] if target == "image" else self.faces.ids()
            id = resolve(id, pool, target or "face or image", self.dataset.root)
        if target is None:
            target = "image" if id in self.images else "face"
        known = self.images if target == "image" else self.faces
        if target not in TARGETS or id not in known:
            raise InputError("unknown-id", f"no {target} {id} in {self.dataset.root}")
        if (target, id) in self.deletions.tombstones:
            return self.deletions.tombstones[target, id]
        record = deletion_record(target, id)
        state_of(self.dataset).append(DELETIONS, record)
        return record


DATASET_ENTRIES = {config.CONFIG_NAME, "lock", "objects", "records", "cache"}


def remove_dataset(root: str) -> str:
    """Remove a dataset directory, once no other recops process uses it; returns its path.

    Refuses a folder that is not a dataset, or one holding anything recops did not put there (a
    person's notes are not deleted along with it). The directory is first renamed to a hidden
    name beside it, so a crash part-way leaves no half dataset that looks whole."""
    root = os.path.abspath(root)
    if not is_dataset(root):
        raise DatasetError(f"{root}: not a recops dataset (no {config.CONFIG_NAME}); nothing deleted")
    foreign = sorted(n for n in os.listdir(root) if n not in DATASET_ENTRIES and not is_temp(n))
    if foreign:
        raise DatasetError(f"{root}: holds files recops did not write ({', '.join(foreign)}); move them out first")
    tree = Tree(root)
    lock = DatasetLock(tree).acquire(exclusive=True, wait=False)
    try:
        doomed = os.path.join(os.path.dirname(root), f".{os.path.basename(root)}.deleting-{os.urandom(4).hex()}")
        os.rename(root, doomed)
        shutil.rmtree(doomed)
    finally:
        lock.release()
        tree.close()
    return root
