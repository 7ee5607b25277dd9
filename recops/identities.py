"""Identities and the links of faces to them, as a view over append-only records.

    identities log: identity records, each a whole statement of one identity (id, name,
                    description, colour); `deleted: true` is a tombstone
    links log:      link records: face, identity, op = link | unlink | reject

Every replica folds the same records in the same order (timestamp, then content), so two copies
merged by copying files end in the same state. A face has at most one identity: the last link
wins; unlink and reject undo a link to that identity, and a rejection ("this face is not this
person") also keeps later matching and clustering from proposing the pair again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

IDENTITIES = "identities"
LINKS = "links"
OPS = ("link", "unlink", "reject")


def _order(record: dict) -> tuple:
    return (record.get("ts", ""), repr(sorted(record.items(), key=lambda kv: kv[0])))


@dataclass
class IdentityView:
    identities: dict[str, dict] = field(default_factory=dict)
    face_identity: dict[str, str] = field(default_factory=dict)
    rejected: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def fold(cls, identity_records: Iterable[dict], link_records: Iterable[dict]) -> "IdentityView":
        view = cls()
        latest: dict[str, dict] = {}
        for record in identity_records:
            if record.get("type") == "identity" and "id" in record:
                held = latest.get(record["id"])
                if held is None or _order(record) > _order(held):
                    latest[record["id"]] = record
        view.identities = {id: r for id, r in latest.items() if not r.get("deleted")}
        for record in sorted((r for r in link_records if r.get("type") == "link" and r.get("op") in OPS), key=_order):
            face, identity, op = record["face"], record["identity"], record["op"]
            if op == "link":
                view.face_identity[face] = identity
                view.rejected.discard((face, identity))
            else:
                if view.face_identity.get(face) == identity:
                    del view.face_identity[face]
                if op == "reject":
                    view.rejected.add((face, identity))
        view.face_identity = {f: i for f, i in view.face_identity.items() if i in view.identities}
        return view

    @classmethod
    def of(cls, dataset) -> "IdentityView":
        return cls.fold(dataset.log(IDENTITIES).records(), dataset.log(LINKS).records())

    def identity_of(self, face: str) -> dict | None:
        id = self.face_identity.get(face)
        return self.identities.get(id) if id else None

    def find(self, name_or_id: str) -> dict | None:
        """An identity by id, else by name (the latest-created one when names repeat)."""
        if name_or_id in self.identities:
            return self.identities[name_or_id]
        named = [r for r in self.identities.values() if r.get("name") == name_or_id]
        return max(named, key=_order) if named else None
