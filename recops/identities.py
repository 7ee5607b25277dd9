"""Identities and the links of faces to them, as a view over append-only records.

    identities log: identity records, each a whole statement of one identity (id, name,
                    description, colour); a rename writes a new whole record with the same id,
                    and `deleted: true` is a tombstone
    links log:      link records: face, its image, identity, op = link | unlink | reject, and
                    source = manual | enrol | review | xmp (who decided; xmp: a face region
                    tagged in another tool, accepted in review)

Every replica folds the same records in the same order (timestamp, then content), so two copies
merged by copying files end in the same state. An identity is what its latest record says, so a
rename on one machine and a deletion on another end with whichever came later. A face has at
most one identity: the last link wins; unlink and reject undo a link to that identity, and a
rejection ("this face is not this person") also keeps later matching and proposals from
pairing them again. Links of deleted faces and images, and of deleted identities, are hidden;
those of a face that a detection under other settings replaced hold for the face of its box
(faces.py).

Two faces of one photo are two people: an automatic link (an import's, a review's) holds only
while no other face of its photo has the identity. IdentityEditor refuses one that would break
the rule; when copies that each linked a photo-mate merge, the earlier link holds; and a person
linking a photo-mate by hand overrides it. A person may link both by hand (a mirror, a poster).

An identity is named by its id, by its name, or by a unique start of its id (ids.py): an exact
name wins over a start of an id, so a person called "Abba" or "cafe" is found by name. Creating
an identity is one process at a time (a lock of its own, cache/identities.lock, not the lock
every tool holds shared): it re-reads the identities, so two enrolments under one new name at
once make one identity of that name. Copies on two machines can still each make one; rx-identity
merge makes them one.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import xxhash

from .deletions import Deletions
from .errors import InputError
from .faces import FaceCatalog
from .folding import latest_by_id, newer, order
from .ids import ambiguous, is_prefix, starting
from .logs import DELETIONS, DETECTIONS, IDENTITIES, LINKS
from .records import timestamp
from .state import state_of
from .store.dataset import Dataset
from .store.lock import DatasetLock

logger = logging.getLogger("recops")
OPS = ("link", "unlink", "reject")
SOURCES = ("manual", "enrol", "review", "xmp")
AUTOMATIC = ("enrol", "review", "xmp")
"""Link sources held to the rule that two faces of one photo are never one identity."""
DEFAULT_COLOR = "#00ff01"
"""The original recops's default identity colour."""
PALETTE = ("#00ff01", "#00e5ff", "#ffd400", "#ff7a00", "#ff2d2d", "#3d7bff", "#b4ff00", "#00c2a8", "#9d6bff", "#f5f5f5")
"""Colours that stand out on photos and from the magenta of faces nobody knows."""
CREATING_LOCK = "cache/identities.lock"


def color_for(name: str, used: Iterable[str] = ()) -> str:
    """An identity's colour when nobody chose one: a colour of the palette that no identity
    has (`used`: their colours) while one is left, else one of the least used; the name's hash
    picks among those, so copies of a dataset that create the same identities agree."""
    counts = Counter(color.lower() for color in used if isinstance(color, str))
    fewest = min(counts[color] for color in PALETTE)
    free = [color for color in PALETTE if counts[color] == fewest]
    return free[xxhash.xxh3_64_intdigest(name.encode()) % len(free)]


def live_identities(records: Iterable[dict]) -> dict[str, dict]:
    """The latest record of each identity, deleted ones left out."""
    return {record["id"]: record for record in latest_by_id(records, "identity")}


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
    by_photo: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """(image, identity) -> the linked faces of that image."""

    deletions: Deletions = field(default_factory=Deletions, repr=False, compare=False)
    """What hides links as they fold in: deleted images, and faces a later detection replaced."""

    @classmethod
    def fold(
        cls, identity_records: Iterable[dict], link_records: Iterable[dict], deletions: Deletions | None = None
    ) -> "IdentityView":
        view = cls(deletions=deletions or Deletions())
        view.identities = live_identities(identity_records)
        for record in sorted((r for r in link_records if r.get("type") == "link"), key=order):
            view.add(record)
        return view

    @classmethod
    def of(cls, dataset: Dataset) -> "IdentityView":
        """The dataset's identities and links now (state.py)."""
        return state_of(dataset).view(
            "identity-view",
            lambda: cls.fold(dataset.log(IDENTITIES).records(), dataset.log(LINKS).records(), Deletions.of(dataset)),
            folds=(IDENTITIES, LINKS),
            reads=(DELETIONS, DETECTIONS),
            add=cls.add,
        )

    def add(self, record: dict) -> None:
        """Fold in one identity or link record, later than every record folded before."""
        if record.get("type") == "identity":
            if record.get("deleted"):
                self.identities.pop(record["id"], None)
                for face in [f for f, i in self.face_identity.items() if i == record["id"]]:
                    self.drop(face)
            elif newer(record, self.identities.get(record["id"])):
                self.identities[record["id"]] = record
        elif record.get("type") == "link" and record.get("op") in OPS:
            if record["identity"] not in self.identities or self.deletions.deleted(image=record.get("image")):
                return
            # a face a later detection replaced passes its links to the face of its box
            face = self.deletions.current(record["face"])
            if face is not None:
                self.apply_link(record if face == record["face"] else {**record, "face": face})

    def apply_link(self, record: dict) -> None:
        """Fold in one link record, later than every record folded before.

        An automatic link holds only while no other face of its photo has the identity: it has
        no effect when one has (copies that each linked a photo-mate merge so), and a person's
        link of a photo-mate overrides it."""
        face, identity, op = record["face"], record["identity"], record["op"]
        self.decided.add((face, identity))
        if op != "link":
            if self.face_identity.get(face) == identity:
                self.drop(face)
            if op == "reject":
                self.rejected.add((face, identity))
            return
        self.rejected.discard((face, identity))
        mates = self.by_photo.get((record.get("image"), identity), set()) - {face}
        if mates and record.get("source") in AUTOMATIC:
            return
        for mate in list(mates):
            if self.link_of[mate].get("source") in AUTOMATIC:
                self.drop(mate)
        self.drop(face)
        self.face_identity[face] = identity
        self.link_of[face] = record
        if record.get("image"):
            self.by_photo.setdefault((record["image"], identity), set()).add(face)

    def drop(self, face: str) -> None:
        """Forget a face's link (it was undone, or its identity deleted)."""
        record = self.link_of.pop(face, None)
        self.face_identity.pop(face, None)
        if record is not None:
            self.by_photo.get((record.get("image"), record["identity"]), set()).discard(face)

    def identity_of(self, face: str) -> dict | None:
        id = self.face_identity.get(face)
        return self.identities.get(id) if id else None

    def face_counts(self) -> Counter:
        return Counter(self.face_identity.values())

    def find(self, name_or_id: str, prefix: bool = True) -> dict | None:
        """An identity by id, else by name (the latest-created one when names repeat), else (with
        `prefix`) by a unique start of its id; None when none is; InputError when a start of an
        id is ambiguous."""
        if name_or_id in self.identities:
            return self.identities[name_or_id]
        named = [r for r in self.identities.values() if r.get("name") == name_or_id]
        if named:
            return max(named, key=lambda r: (r.get("created", ""), order(r)))
        found = starting(name_or_id, self.identities) if prefix and is_prefix(name_or_id) else []
        if len(found) > 1:
            raise ambiguous(name_or_id, found, "identity")
        return self.identities[found[0]] if found else None


class IdentityEditor:
    """The identity operations on one dataset: each checks what it names, appends one record
    and updates the view, so a run of operations sees its own effects."""

    def __init__(self, dataset: Dataset, shards: Sequence[Dataset] = ()):
        """`shards`: datasets whose faces this one's identities may hold too (shards.py)."""
        self.dataset = dataset
        self.shards = list(shards)
        self._segments: set[str] | None = None
        """The identity segments this editor's view holds, as of its last creation."""

    @property
    def view(self) -> IdentityView:
        return IdentityView.of(self.dataset)

    @property
    def deletions(self) -> Deletions:
        return Deletions.of(self.dataset)

    def require(self, name_or_id: str) -> dict:
        found = self.view.find(name_or_id)
        if found is None:
            raise InputError("unknown-identity", f"no identity {name_or_id!r} in {self.dataset.root}")
        return found

    def create(self, name: str, description: str = "", color: str | None = None, reuse_name: bool = False) -> dict:
        """A new identity; with `reuse_name`, the identity of that name when there is one (as the
        old identity-create did)."""
        if not name.strip():
            raise InputError("invalid-name", "an identity needs a name")
        with self._creating():
            if reuse_name and (named := self.view.find(name, prefix=False)) is not None and named.get("name") == name:
                logger.warning("an identity named %r exists already: %s", name, named["id"])
                return named
            return self._new(name, description, color)

    def find_or_create(self, name_or_id: str, prefix: bool = True) -> tuple[dict, bool]:
        """The identity of this id or name (see find), created named `name_or_id` when there is
        none: (identity, whether it was created). Two processes asking at once for one new name
        get one identity."""
        found = self.view.find(name_or_id, prefix)
        if found is not None:
            return found, False
        if not name_or_id.strip():
            raise InputError("invalid-name", "an identity needs a name")
        with self._creating():
            found = self.view.find(name_or_id, prefix)
            return (found, False) if found is not None else (self._new(name_or_id), True)

    @contextlib.contextmanager
    def _creating(self):
        """One creator at a time: take the lock, see what others created meanwhile, and have the
        new record on disk before the next creator looks."""
        lock = DatasetLock(self.dataset.tree, CREATING_LOCK).acquire(exclusive=True)
        try:
            records = self.dataset.log(IDENTITIES)
            on_disk = {segment.name for segment in records.segments()}
            if self._segments is None or not on_disk <= self._segments:  # another process wrote some
                self.view.identities = live_identities(records.records())
            yield
            written = records.flush()
            self._segments = on_disk | ({os.path.basename(written)} if written else set())
        finally:
            lock.release()

    def _new(self, name: str, description: str = "", color: str | None = None) -> dict:
        now = timestamp()
        color = color or color_for(name, (r.get("color") for r in self.view.identities.values()))
        return self._store_identity(
            {
                "type": "identity",
                "id": os.urandom(16).hex(),
                "name": name,
                "description": description,
                "color": color,
                "created": now,
                "ts": now,
            }
        )

    def update(
        self, name_or_id: str, name: str | None = None, description: str | None = None, color: str | None = None
    ) -> dict:
        """Rename, redescribe or recolour: a new whole record under the same id."""
        current = self.require(name_or_id)
        if name is not None and not name.strip():
            raise InputError("invalid-name", "an identity needs a name")
        changes = {k: v for k, v in (("name", name), ("description", description), ("color", color)) if v is not None}
        return self._store_identity({**current, **changes, "ts": timestamp()})

    def delete(self, name_or_id: str) -> dict:
        """A tombstone; the identity's links are hidden with it."""
        return self._store_identity({**self.require(name_or_id), "deleted": True, "ts": timestamp()})

    def merge(self, source: str, target: str) -> tuple[list[dict], list[str]]:
        """Every face of `source` linked to `target` (as a person's link), then `source` deleted:
        the records written, and the faces left to nobody because a person rejected them for
        `target`. Two copies that each created an identity of one name become one so."""
        merged, kept = self.require(source), self.require(target)
        if merged["id"] == kept["id"]:
            raise InputError("same-identity", "an identity cannot be merged into itself")
        records, refused = [], []
        for face in sorted(f for f, i in self.view.face_identity.items() if i == merged["id"]):
            if (face, kept["id"]) in self.view.rejected:
                refused.append(face)
            else:
                records.append(self.link(face, kept["id"]))
        records.append(self.delete(merged["id"]))
        return records, refused

    def _store_identity(self, record: dict) -> dict:
        state_of(self.dataset).append(IDENTITIES, record)
        return record

    def face(self, face: str | dict) -> tuple[dict, Dataset]:
        """A live face of this dataset or of a shard, and the dataset that holds it: a record
        from a stream that stored it there, or an id (or a unique start of one)."""
        holders = [self.dataset, *self.shards]
        if isinstance(face, dict):
            where = next((d for d in holders if face.get("dataset") == d.root), None)
            if where is None:
                raise InputError(
                    "not-stored",
                    f"face {face.get('id')} is not stored in {self.dataset.root} (give rx-detect the dataset)",
                )
            record = face
        else:
            where = next((d for d in self.shards if face in FaceCatalog.of(d)), self.dataset)
            record = FaceCatalog.of(where).find(face, where.root)
        deletions = Deletions.of(where)
        if deletions.deleted(record["id"], record.get("image")):
            raise InputError("deleted", f"face {record['id']} was deleted")
        if not isinstance(face, dict) and deletions.current(record["id"]) != record["id"]:
            raise InputError(
                "replaced",
                f"face {record['id']} was replaced by a later detection of its image "
                "(rx-ls faces lists the current ones)",
            )
        return record, where

    def link(self, face: str | dict, identity: str, op: str = "link", source: str = "manual") -> dict:
        """Link, unlink or reject a face and an identity; returns the link record.

        Linking a face already linked to the identity writes nothing and returns the link
        that holds it. An automatic source (an import, a review) is refused what a person
        undid (the pair was unlinked or rejected), a face linked elsewhere, and a second face
        of a photo for one identity."""
        if op not in OPS or source not in SOURCES:
            raise ValueError(f"op must be one of {OPS} and source one of {SOURCES}")
        target = self.require(identity)["id"]
        record, where = self.face(face)
        face_id, image = record["id"], record.get("image")
        current = self.view.face_identity.get(face_id)
        if op == "link":
            if current == target:
                return self.view.link_of[face_id]
            others = self.view.by_photo.get((image, target), set())
            if source in AUTOMATIC:
                if (face_id, target) in self.view.decided:
                    was = "rejected" if (face_id, target) in self.view.rejected else "unlinked"
                    raise InputError(
                        was, f"face {face_id} was {was} from identity {target} by a person; link it by hand to override"
                    )
                if current is not None:
                    raise InputError("linked-elsewhere", f"face {face_id} is linked to identity {current} already")
                if others:
                    raise InputError(
                        "same-photo",
                        f"face {min(others)} of the same photo is linked to identity "
                        f"{target}: two faces of one photo are two people",
                    )
            elif others:
                logger.warning(
                    "face %s shares its photo with face %s, linked to identity %s %s",
                    face_id,
                    min(others),
                    target,
                    "by hand too" if self._manual(others) else "automatically: that link gives way",
                )
        link = {
            "type": "link",
            "face": face_id,
            "image": image,
            "identity": target,
            "op": op,
            "source": source,
            **({"face_dataset": where.config.id} if where is not self.dataset else {}),
            "ts": timestamp(),
        }
        state_of(self.dataset).append(LINKS, link)
        return link

    def _manual(self, faces: set[str]) -> bool:
        return all(self.view.link_of[f].get("source") not in AUTOMATIC for f in faces)
