"""A dataset as the web interface shows it: every view folded from the records at one moment.

A snapshot is read whole from the dataset directory (no other database) and never changed; the
site replaces it when the records change. Deleted faces and images are left out of it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Iterator

from .. import images
from ..attributes import Attributes
from ..clustering import history
from ..deletions import Deletions
from ..faces import FaceCatalog
from ..identities import IdentityView
from ..logs import IMAGES
from ..matches import Matches
from ..report.context import UNKNOWN_COLOR, safe_color
from ..store.dataset import Dataset
from ..store.segments import FOLDER as RECORDS
from ..store.segments import RecordLog, SegmentDamaged
from ..store.tree import ForeignEntry, Tree

logger = logging.getLogger("recops")


class SegmentCache:
    """The decoded records of each record file read so far. A record file never changes once
    written (its name holds the hash of its bytes), so a snapshot read after a change decodes
    only the files that are new; files gone (rx-gc) are forgotten."""

    def __init__(self):
        self._records: dict[str, list[dict]] = {}

    def records(self, record_log: RecordLog, copies: bool = False) -> Iterator[dict]:
        """A log's records as RecordLog.records gives them; with `copies`, each a copy, for a
        view that merges records in place (ImageCatalog)."""
        for segment in record_log.segments():
            held = self._records.get(segment.path)
            if held is None:
                try:
                    held = self._records[segment.path] = record_log.admitted(segment)
                except SegmentDamaged as exc:
                    logger.warning("skipping damaged record file %s (run rx-fsck)", exc)
                    continue
            yield from (dict(r) for r in held) if copies else held
        yield from record_log.unflushed()

    def forget_missing(self) -> None:
        self._records = {path: held for path, held in self._records.items() if os.path.exists(path)}


class _CachedDataset:
    """A dataset whose logs read through a SegmentCache: what the core's views are given."""

    def __init__(self, dataset: Dataset, cache: SegmentCache):
        self._dataset = dataset
        self._cache = cache

    def __getattr__(self, name: str):
        return getattr(self._dataset, name)

    def log(self, name: str) -> "_CachedLog":
        return _CachedLog(self._dataset.log(name), self._cache, copies=name == IMAGES)


class _CachedLog:
    def __init__(self, record_log: RecordLog, cache: SegmentCache, copies: bool):
        self._log, self._cache, self._copies = record_log, cache, copies

    def __getattr__(self, name: str):
        return getattr(self._log, name)

    def records(self) -> Iterator[dict]:
        return self._cache.records(self._log, self._copies)


def signature(root: str) -> tuple:
    """What the record files of a dataset are now: changes when any log gains or loses a file."""
    tree = Tree(root)
    try:
        found = []
        for log_entry in tree.entries(RECORDS):
            if log_entry.is_folder:
                names = tuple(e.name for e in tree.entries(f"{RECORDS}/{log_entry.name}"))
                found.append((log_entry.name, hash(names)))
        return tuple(found)
    except (FileNotFoundError, ForeignEntry):
        return ()
    finally:
        tree.close()


def attribute_labels(attributes: dict | None) -> dict[str, str]:
    """A face's attributes as the labels the faces page filters by: age by decade, the others by
    their dominant class."""
    labels: dict[str, str] = {}
    if not attributes:
        return labels
    age = attributes.get("age")
    if isinstance(age, (int, float)) and not isinstance(age, bool):
        decade = int(age) // 10 * 10
        labels["age"] = f"{decade}-{decade + 9}"
    for name in ("gender", "emotion", "race"):
        value = attributes.get(f"dominant_{name}")
        if not isinstance(value, str):
            held = attributes.get(name)
            value = held.get("label") if isinstance(held, dict) else held if isinstance(held, str) else None
        if isinstance(value, str) and value:
            labels[name] = value
    return labels


@dataclass
class Snapshot:
    root: str
    config: object
    signature: tuple
    images: dict[str, dict] = field(default_factory=dict)
    """Live images by id, oldest first."""
    faces: dict[str, dict] = field(default_factory=dict)
    """Live faces by id."""
    faces_of: dict[str, list[dict]] = field(default_factory=dict)
    """An image's live faces, left to right."""
    view: IdentityView = field(default_factory=IdentityView)
    deletions: Deletions = field(default_factory=Deletions)
    clusters: list[dict] = field(default_factory=list)
    """The current clustering, labelled (0 = the largest)."""
    cluster_of: dict[str, str] = field(default_factory=dict)
    cluster_by_id: dict[str, dict] = field(default_factory=dict)
    attributes: dict[str, dict] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each analysed face's attribute labels (attribute_labels)."""
    rejected_of: dict[str, list[str]] = field(default_factory=dict)
    """The identities a person said each face is not."""
    matches_of: dict[str, list[dict]] = field(default_factory=dict)
    """Stored matches (rx-match --save, recognitions) by query face, the latest of each pair, nearest first."""
    recognitions: dict[str, str] = field(default_factory=dict)
    """The photos recognised (queries, and photos of the gallery recognised since), with when, newest first."""

    @classmethod
    def read(cls, dataset: Dataset, seen: tuple | None = None, cache: SegmentCache | None = None) -> "Snapshot":
        """The views of `dataset` now; with a `cache`, only record files it has not seen are decoded."""
        snap = cls(dataset.root, dataset.config, seen if seen is not None else signature(dataset.root))
        if cache is not None:
            dataset = _CachedDataset(dataset, cache)
        snap.deletions = Deletions.of(dataset)
        hides = snap.deletions.hides
        catalog = images.ImageCatalog.of(dataset)
        for image in sorted(catalog, key=lambda i: (i.get("ts", ""), i["id"])):
            if not hides(image=image["id"]):
                snap.images[image["id"]] = image
        for face in FaceCatalog.of(dataset):
            if face.get("image") in snap.images and not hides(face["id"], face.get("image")):
                snap.faces[face["id"]] = face
                snap.faces_of.setdefault(face["image"], []).append(face)
        for faces in snap.faces_of.values():
            faces.sort(key=lambda f: ((f.get("box") or [0])[0], f["id"]))
        snap.view = IdentityView.of(dataset)
        for face, identity in sorted(snap.view.rejected):
            snap.rejected_of.setdefault(face, []).append(identity)
        clustering = history.current(dataset, lambda f: f not in snap.faces)
        if clustering:
            snap.clusters = history.labelled(list(clustering.clusters.values()))
            snap.cluster_by_id = {c["id"]: c for c in snap.clusters}
            snap.cluster_of = {face: c["id"] for c in snap.clusters for face in c["faces"]}
        stated = Attributes.of(dataset)
        snap.attributes = {face: stated.of_face(face) for face in stated.faces()}
        snap.labels = {face: attribute_labels(a) for face, a in snap.attributes.items() if face in snap.faces}
        snap._matches(dataset)
        snap._recognitions(dataset)
        return snap

    def _matches(self, dataset: Dataset) -> None:
        for match in Matches.of(dataset).latest.values():
            if match["query"] in self.faces and match["candidate"] in self.faces:
                self.matches_of.setdefault(match["query"], []).append(match)
        for matches in self.matches_of.values():
            matches.sort(key=lambda m: (m.get("distance", 0.0), m["candidate"]))

    def _recognitions(self, dataset: Dataset) -> None:
        when = {id: image.get("ts", "") for id, image in self.images.items() if image.get("query")}
        for image, ts in Matches.of(dataset).recognised.items():
            if image in self.images:
                when[image] = max(when.get(image, ""), ts)
        self.recognitions = dict(sorted(when.items(), key=lambda item: (item[1], item[0]), reverse=True))

    # -- what pages ask

    def identity(self, id: str | None) -> dict | None:
        """A live identity as pages show it: its colour made safe for a style attribute."""
        record = self.view.identities.get(id) if id else None
        if record is None:
            return None
        return {**record, "color": safe_color(record.get("color"))}

    def identity_of(self, face: str) -> dict | None:
        return self.identity(self.view.face_identity.get(face))

    def color_of(self, face: str) -> str:
        identity = self.identity_of(face)
        return identity["color"] if identity else UNKNOWN_COLOR

    def identities_by_name(self) -> list[dict]:
        return sorted((self.identity(id) for id in self.view.identities), key=lambda i: (i["name"].lower(), i["id"]))

    def faces_of_identity(self, identity: str) -> list[dict]:
        return [self.faces[f] for f, i in self.view.face_identity.items() if i == identity and f in self.faces]

    def cluster(self, id_or_label: str) -> dict | None:
        """A cluster by id, or by its label in the current clustering."""
        if id_or_label in self.cluster_by_id:
            return self.cluster_by_id[id_or_label]
        if id_or_label.isdigit() and int(id_or_label) < len(self.clusters):
            return self.clusters[int(id_or_label)]
        return None

    def image_name(self, image: str) -> str:
        paths = (self.images.get(image) or {}).get("paths") or []
        return os.path.basename(paths[0]) if paths else image[:12]
