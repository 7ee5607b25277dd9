"""Identities and the links of faces to them, as a view over append-only records.

    identities log: identity records, each a whole statement of one identity (id, name,
                    description, colour); a rename writes a new whole record with the same id,
                    and `deleted: true` is a tombstone
    links log:      link records: face, its image, identity, op = link | unlink | reject, and
                    source = manual | enrol | review (who decided)

Every replica folds the same records in the same order (timestamp, then content), so two copies
merged by copying files end in the same state. An identity is what its latest record says, so a
rename on one machine and a deletion on another end with whichever came later. A face has at
most one identity: the last link wins; unlink and reject undo a link to that identity, and a
rejection ("this face is not this person") also keeps later matching and proposals from
pairing them again. Links of deleted faces and images, and of deleted identities, are hidden.

Two faces of one photo are two people: an import or a review never links them to one identity
(IdentityEditor refuses), and when copies that each did so merge, the fold keeps the later
link only. A person may still link them by hand (a mirror, a poster in the background).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from .deletions import Deletions
from .errors import InputError
from .faces import FaceCatalog
from .folding import order
from .records import timestamp
from .store.dataset import Dataset

log = logging.getLogger("recops")
IDENTITIES = "identities"
LINKS = "links"
OPS = ("link", "unlink", "reject")
SOURCES = ("manual", "enrol", "review")
AUTOMATIC = ("enrol", "review")
"""Link sources held to the rule that two faces of one photo are never one identity."""
DEFAULT_COLOR = "#00ff01"
"""The original recops's default identity colour."""


@dataclass
class IdentityView:
    identities: dict[str, dict] = field(default_factory=dict)
    """Live identities by id (deleted ones are left out)."""
    face_identity: dict[str, str] = field(default_factory=dict)
    rejected: set[tuple[str, str]] = field(default_factory=set)
    decided: set[tuple[str, str]] = field(default_factory=set)
    """(face, identity) pairs any link record named: an import that finds one unlinked leaves it so."""
    link_of: dict[str, dict] = field(default_factory=dict)
    """The link record that holds each linked face."""

    @classmethod
    def fold(cls, identity_records: Iterable[dict], link_records: Iterable[dict],
             deletions: Deletions | None = None) -> "IdentityView":
        view = cls()
        latest: dict[str, dict] = {}
        for record in identity_records:
            if record.get("type") == "identity" and "id" in record:
                held = latest.get(record["id"])
                if held is None or order(record) > order(held):
                    latest[record["id"]] = record
        view.identities = {id: r for id, r in latest.items() if not r.get("deleted")}
        for record in sorted((r for r in link_records if r.get("type") == "link" and r.get("op") in OPS), key=order):
            view.apply_link(record)
        hidden = deletions or Deletions()
        for face, record in list(view.link_of.items()):
            if record["identity"] not in view.identities or hidden.hides(face, record.get("image")):
                view._drop(face)
        view._keep_one_automatic_link_per_photo()
        return view

    @classmethod
    def of(cls, dataset: Dataset, deletions: Deletions | None = None) -> "IdentityView":
        return cls.fold(dataset.log(IDENTITIES).records(), dataset.log(LINKS).records(),
                        deletions if deletions is not None else Deletions.of(dataset))

    def apply_link(self, record: dict) -> None:
        """Fold in one link record, later than every record folded before."""
        face, identity, op = record["face"], record["identity"], record["op"]
        self.decided.add((face, identity))
        if op == "link":
            self.face_identity[face] = identity
            self.link_of[face] = record
            self.rejected.discard((face, identity))
        else:
            if self.face_identity.get(face) == identity:
                self._drop(face)
            if op == "reject":
                self.rejected.add((face, identity))

    def _drop(self, face: str) -> None:
        self.face_identity.pop(face, None)
        self.link_of.pop(face, None)

    def _keep_one_automatic_link_per_photo(self) -> None:
        # Copies merged after each linked another face of one photo to one identity: the later
        # automatic link stays, unless a person linked one of them by hand.
        by_photo: dict[tuple, list[dict]] = {}
        for record in self.link_of.values():
            if record.get("image"):
                by_photo.setdefault((record["image"], record["identity"]), []).append(record)
        for records in by_photo.values():
            automatic = sorted((r for r in records if r.get("source") in AUTOMATIC), key=order)
            keep = 0 if len(automatic) < len(records) else 1
            for record in automatic[: len(automatic) - keep]:
                self._drop(record["face"])

    def identity_of(self, face: str) -> dict | None:
        id = self.face_identity.get(face)
        return self.identities.get(id) if id else None

    def face_counts(self) -> Counter:
        return Counter(self.face_identity.values())

    def find(self, name_or_id: str) -> dict | None:
        """An identity by id, else by name (the latest-created one when names repeat)."""
        if name_or_id in self.identities:
            return self.identities[name_or_id]
        named = [r for r in self.identities.values() if r.get("name") == name_or_id]
        return max(named, key=lambda r: (r.get("created", ""), order(r))) if named else None


class IdentityEditor:
    """The identity operations on one dataset: each checks what it names, appends one record
    and updates the view, so a run of operations sees its own effects."""

    def __init__(self, dataset: Dataset, deletions: Deletions | None = None):
        self.dataset = dataset
        self.deletions = deletions if deletions is not None else Deletions.of(dataset)
        self.view = IdentityView.of(dataset, self.deletions)
        self._faces: FaceCatalog | None = None
        self._by_photo: dict[tuple[str, str], set[str]] | None = None

    def require(self, name_or_id: str) -> dict:
        found = self.view.find(name_or_id)
        if found is None:
            raise InputError("unknown-identity", f"no identity {name_or_id!r} in {self.dataset.root}")
        return found

    def create(self, name: str, description: str = "", color: str = DEFAULT_COLOR) -> dict:
        if not name.strip():
            raise InputError("invalid-name", "an identity needs a name")
        now = timestamp()
        record = {"type": "identity", "id": os.urandom(16).hex(), "name": name, "description": description,
                  "color": color, "created": now, "ts": now}
        return self._store_identity(record)

    def update(self, name_or_id: str, name: str | None = None, description: str | None = None,
               color: str | None = None) -> dict:
        """Rename, redescribe or recolour: a new whole record under the same id."""
        current = self.require(name_or_id)
        if name is not None and not name.strip():
            raise InputError("invalid-name", "an identity needs a name")
        changes = {k: v for k, v in (("name", name), ("description", description), ("color", color)) if v is not None}
        return self._store_identity({**current, **changes, "ts": timestamp()})

    def delete(self, name_or_id: str) -> dict:
        """A tombstone; the identity's links are hidden with it."""
        record = self._store_identity({**self.require(name_or_id), "deleted": True, "ts": timestamp()})
        for face in [f for f, i in self.view.face_identity.items() if i == record["id"]]:
            self.view._drop(face)
        self._by_photo = None
        return record

    def _store_identity(self, record: dict) -> dict:
        self.dataset.log(IDENTITIES).append(record)
        if record.get("deleted"):
            self.view.identities.pop(record["id"], None)
        else:
            self.view.identities[record["id"]] = record
        return record

    def face(self, face: str | dict) -> dict:
        """A live face of this dataset: a record from a stream that stored it here, or an id."""
        if isinstance(face, dict):
            if face.get("dataset") != self.dataset.root:
                raise InputError("not-stored", f"face {face.get('id')} is not stored in {self.dataset.root} "
                                               "(give rx-detect the dataset)")
            record = face
        else:
            if self._faces is None:
                self._faces = FaceCatalog(self.dataset)
            record = self._faces.get(face)
            if record is None:
                raise InputError("unknown-face", f"no face {face} in {self.dataset.root}")
        if self.deletions.hides(record["id"], record.get("image")):
            raise InputError("deleted", f"face {record['id']} was deleted")
        return record

    def link(self, face: str | dict, identity: str, op: str = "link", source: str = "manual") -> dict:
        """Link, unlink or reject a face and an identity; returns the link record.

        Linking a face already linked to the identity writes nothing and returns the link
        that holds it. An automatic source (an import, a review) is refused what a person
        undid (the pair was unlinked or rejected), a face linked elsewhere, and a second face
        of a photo for one identity."""
        if op not in OPS or source not in SOURCES:
            raise ValueError(f"op must be one of {OPS} and source one of {SOURCES}")
        target = self.require(identity)["id"]
        record = self.face(face)
        face_id, image = record["id"], record.get("image")
        current = self.view.face_identity.get(face_id)
        if op == "link":
            if current == target:
                return self.view.link_of[face_id]
            others = self.linked_in_photo(image, target)
            if source in AUTOMATIC:
                if (face_id, target) in self.view.decided:
                    was = "rejected" if (face_id, target) in self.view.rejected else "unlinked"
                    raise InputError(was, f"face {face_id} was {was} from identity {target} by a person; "
                                          "link it by hand to override")
                if current is not None:
                    raise InputError("linked-elsewhere", f"face {face_id} is linked to identity {current} already")
                if others:
                    raise InputError("same-photo", f"face {others[0]} of the same photo is linked to identity "
                                                   f"{target}: two faces of one photo are two people")
            elif others:
                log.warning("face %s shares its photo with face %s, linked to identity %s too",
                            face_id, others[0], target)
        link = {"type": "link", "face": face_id, "image": image, "identity": target, "op": op, "source": source,
                "ts": timestamp()}
        self.dataset.log(LINKS).append(link)
        self._forget_photo_link(self.view.link_of.get(face_id))
        self.view.apply_link(link)
        self._remember_photo_link(self.view.link_of.get(face_id))
        return link

    def linked_in_photo(self, image: str | None, identity: str) -> set[str]:
        if image is None:
            return set()
        if self._by_photo is None:
            self._by_photo = {}
            for record in self.view.link_of.values():
                self._remember_photo_link(record)
        return self._by_photo.get((image, identity), set())

    def _remember_photo_link(self, record: dict | None) -> None:
        if record is not None and self._by_photo is not None and record.get("image"):
            self._by_photo.setdefault((record["image"], record["identity"]), set()).add(record["face"])

    def _forget_photo_link(self, record: dict | None) -> None:
        if record is not None and self._by_photo is not None:
            self._by_photo.get((record.get("image"), record["identity"]), set()).discard(record["face"])
