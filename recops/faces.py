"""The faces of a dataset: the latest record of each face id, as rx-detect stored them, and which
of them a later detection of their image replaced.

An image's faces are those of its latest detection (by timestamp, then content, as every view
folds): a detection under other settings (--no-align, another --min-size or --max-side) replaces
the faces of the one before rather than adding to them. Face ids hash the alignment, so the same
box found again without alignment is another face: the detection record that replaces one says
so (`replaces`: replaced face -> the face of the same box), and links and rejections of the
replaced face hold for the face that took its place. Replaced faces stay stored: detecting with
the first settings again makes them current again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Collection, Iterable, Iterator

from .folding import newer, order
from .ids import resolve
from .logs import DETECTIONS, FACES
from .pixels import Picture
from .state import state_of

if TYPE_CHECKING:
    from .store.dataset import Dataset


class FaceCatalog:
    """Every stored face by id, deleted and replaced ones included (a Deletions view tells those apart)."""

    def __init__(self, records: Iterable[dict] = ()):
        self._by_id: dict[str, dict] = {}
        for record in records:
            self.add(record)

    @classmethod
    def of(cls, dataset: "Dataset") -> "FaceCatalog":
        return state_of(dataset).view(FACES, lambda: cls(dataset.log(FACES).records()), folds=(FACES,), add=cls.add)

    def add(self, record: dict) -> None:
        if record.get("type") == "face" and newer(record, self._by_id.get(record["id"])):
            self._by_id[record["id"]] = record

    def get(self, id: str) -> dict | None:
        return self._by_id.get(id)

    def find(self, id: str, where: str = "") -> dict:
        """A face by its id or a unique start of it; InputError ("unknown-face", "ambiguous-id")."""
        return self._by_id[resolve(id, self._by_id, "face", where, "unknown-face")]

    def ids(self) -> Collection[str]:
        return self._by_id.keys()

    def __contains__(self, id: str) -> bool:
        return id in self._by_id

    def __iter__(self) -> Iterator[dict]:
        return iter(self._by_id.values())


class Detections:
    """The detection records of a dataset: the latest of each (image, detector, alignment), what
    a re-run reuses; the latest of each image, whose faces are the image's; and which faces were
    replaced."""

    def __init__(self, records: Iterable[dict] = ()):
        self.records: list[dict] = []
        self.done: dict[tuple, dict] = {}
        self.latest: dict[str, dict] = {}
        self._replaced: Replaced | None = None
        for record in records:
            self.add(record)

    @classmethod
    def of(cls, dataset: "Dataset") -> "Detections":
        return state_of(dataset).view(
            DETECTIONS, lambda: cls(dataset.log(DETECTIONS).records()), folds=(DETECTIONS,), add=cls.add
        )

    def add(self, record: dict) -> None:
        if record.get("type") != "detection":
            return
        self.records.append(record)
        key = (record["image"], record.get("detector"), record.get("aligned"))
        if newer(record, self.done.get(key)):
            self.done[key] = record
        if newer(record, self.latest.get(record["image"])):
            self.latest[record["image"]] = record
        self._replaced = None

    @property
    def replaced(self) -> "Replaced":
        if self._replaced is None:
            self._replaced = Replaced(self.records)
        return self._replaced


class Replaced:
    """The faces a later detection of their image replaced, and the face that took each one's place."""

    def __init__(self, detections: Iterable[dict] = ()):
        latest: dict[str, dict] = {}
        listed: dict[str, set[str]] = {}
        successors: list[dict] = []
        for record in detections:
            if record.get("type") != "detection" or not isinstance(record.get("faces"), list):
                continue
            image = record.get("image")
            listed.setdefault(image, set()).update(record["faces"])
            if newer(record, latest.get(image)):
                latest[image] = record
            if isinstance(record.get("replaces"), dict):
                successors.append(record)
        self.faces = {face for image, faces in listed.items() for face in faces - set(latest[image]["faces"])}
        self.successor: dict[str, str] = {}
        for record in sorted(successors, key=order):
            # a face takes the place of another only in the detection that lists it
            self.successor.update(
                (old, new)
                for old, new in record["replaces"].items()
                if isinstance(old, str) and isinstance(new, str) and new in record["faces"]
            )

    def current(self, face: str) -> str | None:
        """The face that stands for `face` now: itself, the face of its box in the image's latest
        detection, or None when that detection has no such face."""
        seen = set()
        while face in self.faces and face not in seen:
            seen.add(face)
            face = self.successor.get(face)
        return None if face in self.faces else face


def replacements(previous: list[dict], found: list[dict]) -> dict[str, str]:
    """replaced face id -> the id of the face of the same box, for the faces of an image's
    previous detection that a new detection does not list."""
    by_box = {_place(face): face["id"] for face in found}
    kept = {face["id"] for face in found}
    return {
        face["id"]: by_box[place] for face in previous if face["id"] not in kept and (place := _place(face)) in by_box
    }


def _place(face: dict) -> tuple:
    """Where a face is: its picture of the image and its box."""
    return Picture.of(face), tuple(int(v) for v in face["box"])
