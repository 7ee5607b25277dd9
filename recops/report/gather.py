"""What a report is made of: the records of a stream, or those a dataset keeps, sorted by type.

A report reads everything before it renders (a face's matches follow it, a cluster names faces
seen long before), so this is the one place that holds a whole stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .. import images, shapes
from ..attributes import Attributes
from ..clustering import history
from ..deletions import Deletions
from ..errors import UsageError
from ..faces import FaceCatalog
from ..folding import newer
from ..matches import Matches
from ..review import ReviewOptions, match_faces
from ..stages.base import records, refuse_paths
from ..store.dataset import Dataset
from ..stream import Emitter
from .attributes import fold_attributes

STAGE = "report"
KINDS = ("recognize", "match-faces", "cluster", "verify")


@dataclass
class Gathered:
    images: dict[str, dict] = field(default_factory=dict)
    faces: dict[str, dict] = field(default_factory=dict)
    detected: set[str] = field(default_factory=set)
    """Images a detection record speaks of: their faces are all known (perhaps none)."""
    matches: list[dict] = field(default_factory=list)
    proposals: list[dict] = field(default_factory=list)
    verifications: list[dict] = field(default_factory=list)
    clusters: list[dict] = field(default_factory=list)
    identities: dict[str, dict] = field(default_factory=dict)
    attributes: dict[str, dict] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    """Image ids in the order the stream first named them."""
    dataset: str | None = None
    """The dataset the records name (their `dataset` field), if any."""

    def __post_init__(self) -> None:
        self._seen: set[str] = set(self.order)

    def add(self, record: dict) -> None:
        kind = record.get("type")
        if record.get("dataset") and not self.dataset:
            self.dataset = record["dataset"]
        if kind == "image" and record.get("id"):
            held = self.images.setdefault(record["id"], {**record, "paths": list(record.get("paths") or [])})
            held["paths"] += [p for p in record.get("paths") or [] if p not in held["paths"]]
            self._saw(record["id"])
        elif kind == "face" and record.get("id"):
            self.faces[record["id"]] = record
            self._saw(record.get("image"))
        elif kind == "detection":
            self.detected.add(record.get("image"))
            self._saw(record.get("image"))
        elif kind == "match":
            self.matches.append(record)
            self._saw(record.get("query_image"))
        elif kind == "proposal":
            self.proposals.append(record)
        elif kind == "verification":
            self.verifications.append(record)
        elif kind == "cluster":
            self.clusters.append(record)
        elif kind == "identity" and record.get("id"):
            if newer(record, self.identities.get(record["id"])):
                self.identities[record["id"]] = record
        elif kind == "error":
            self.errors.append(record)
        if kind in ("attribute", "face", "match") and (record.get("attributes") or kind == "attribute"):
            fold_attributes([record], self.attributes)

    def _saw(self, image: str | None) -> None:
        if image and image not in self._seen:
            self._seen.add(image)
            self.order.append(image)

    def kind(self) -> str:
        """What the records call for: a verification, clusters, proposals, else recognitions."""
        if self.verifications:
            return "verify"
        if self.clusters:
            return "cluster"
        if self.proposals:
            return "match-faces"
        return "recognize"


def gather(items: Iterable, out: Emitter) -> Gathered:
    """Every record of a stream; upstream errors pass on (and count), anything else that is not
    a record is an error of its own."""
    gathered = Gathered()
    for record in records(items, out, refuse_paths(out, STAGE, "rx-report", "records (rx-import a path first)")):
        # Records may come from Python too, not only through the stream's door.
        if (why := shapes.problem(record)) is not None:
            out.fail(shapes.label(record), STAGE, why, "malformed-input")
            continue
        if record.get("type") == "error":
            out.emit(record)
        gathered.add(record)
    return gathered


def from_dataset(dataset: Dataset, kind: str) -> Gathered:
    """What a dataset keeps for a report of `kind`:

    recognize: the recognitions it kept (query photos, and photos of its own recognised since)
    and every photo with stored matches (rx-match --save), their live faces and the latest match
    of each pair; match-faces: the proposals rx-review would make now; cluster: the current
    clustering rx-cluster keeps."""
    if kind == "verify":
        raise UsageError("a verify report renders rx-verify's records: rx-verify A B | rx-report -o FILE")
    deletions = Deletions.of(dataset)
    gathered = Gathered(dataset=dataset.root)
    if kind == "match-faces":
        gathered.proposals = match_faces(dataset, ReviewOptions())
    elif kind == "cluster":
        faces = FaceCatalog.of(dataset)
        clustering = history.current(dataset, lambda f: deletions.hides(f, (faces.get(f) or {}).get("image")))
        gathered.clusters = history.labelled(list(clustering.clusters.values())) if clustering else []
    else:
        _recognitions(dataset, deletions, gathered)
    attributes = Attributes.of(dataset)
    for face in attributes.faces():
        gathered.attributes.setdefault(face, {}).update(attributes.of_face(face))
    return gathered


def _recognitions(dataset: Dataset, deletions: Deletions, gathered: Gathered) -> None:
    stored = Matches.of(dataset)
    latest = [
        m
        for m in stored.latest.values()
        if not deletions.hides(m["query"], m.get("query_image"))
        and not deletions.hides(m["candidate"], m.get("candidate_image"))
    ]
    catalog = images.ImageCatalog.of(dataset)
    wanted = {m.get("query_image") for m in latest} | set(stored.recognised)
    for image in sorted(catalog, key=lambda i: (i.get("ts", ""), i["id"])):
        if (image.get("query") or image["id"] in wanted) and not deletions.hides(image=image["id"]):
            gathered.add(image | {"dataset": dataset.root})
    kept = set(gathered.images)
    for face in sorted(FaceCatalog.of(dataset), key=lambda f: (f.get("index", 0), f["id"])):
        if face.get("image") in kept and not deletions.hides(face["id"], face.get("image")):
            gathered.add(face | {"dataset": dataset.root})
    gathered.detected |= kept
    by_query: dict[str, list[dict]] = {}
    for match in latest:
        if match["query"] in gathered.faces:
            by_query.setdefault(match["query"], []).append(match)
    for matches in by_query.values():
        for rank, match in enumerate(sorted(matches, key=lambda m: (m["distance"], m["candidate"])), 1):
            gathered.matches.append({**match, "rank": rank})
