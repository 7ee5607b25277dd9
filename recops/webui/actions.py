"""The changes a person makes in the web interface, each through the core's own operations, so
each is an append-only record that syncs and merges like any other.

    identities   create, rename / recolour / redescribe, delete, merge (every face of one
                 identity linked to the other by hand, then the first deleted)
    faces        link, unlink, reject ("not this identity"), delete; proposals confirmed (a
                 review's link, held to the review rules) or rejected
    images       delete (the image and its faces)

Each returns an Outcome: what to tell the person, and where to go next.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..deletions import Deleter
from ..errors import InputError
from ..identities import IdentityEditor
from ..store.dataset import Dataset
from .guard import COLOR_RE, is_id


@dataclass
class Outcome:
    message: str
    ok: bool = True
    go: str | None = None
    """An address to go to instead of the page the form came from (the new identity's page)."""
    records: list[dict] = field(default_factory=list)


def _color(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not COLOR_RE.fullmatch(value.strip()):
        raise InputError("invalid-color", f"{value!r} is not a colour like #ff8800")
    return value.strip()


def _ids(values: list[str], what: str) -> list[str]:
    ids = [v.strip() for v in values if v.strip()]
    if not ids:
        raise InputError("nothing-chosen", f"choose a {what} first")
    bad = [v for v in ids if not is_id(v)]
    if bad:
        raise InputError("invalid-id", f"{bad[0]!r} is not a {what} id")
    return ids


def attempt(operation) -> Outcome:
    """Run an operation; a refusal of the core (InputError) becomes a message, not a failure."""
    try:
        return operation()
    except InputError as exc:
        return Outcome(exc.reason, ok=False)


def create_identity(dataset: Dataset, key: str, name: str, color: str = "", description: str = "") -> Outcome:
    editor = IdentityEditor(dataset)
    record = editor.create(name.strip(), description.strip(), _color(color))
    return Outcome(f"created identity {record['name']}", go=f"/d/{key}/identities/{record['id']}", records=[record])


def update_identity(dataset: Dataset, id: str, name: str | None, color: str | None, description: str | None) -> Outcome:
    editor = IdentityEditor(dataset)
    current = editor.require(id)
    record = editor.update(
        id,
        name=name.strip() if name is not None else None,
        color=_color(color),
        description=description.strip() if description is not None else None,
    )
    if record["name"] != current["name"]:
        return Outcome(f"renamed {current['name']} to {record['name']}", records=[record])
    return Outcome(f"updated {record['name']}", records=[record])


def delete_identity(dataset: Dataset, key: str, id: str) -> Outcome:
    editor = IdentityEditor(dataset)
    record = editor.delete(id)
    return Outcome(
        f"deleted identity {record['name']}; its faces are linked to nobody now",
        go=f"/d/{key}/identities",
        records=[record],
    )


def merge_identities(dataset: Dataset, key: str, source: str, target: str) -> Outcome:
    """Every face of `source` linked to `target` by hand, then `source` deleted. A face a person
    rejected for `target` is not linked to it (it is left to nobody) and the message says so."""
    editor = IdentityEditor(dataset)
    merged, kept = editor.require(source), editor.require(target)
    records, refused = editor.merge(merged["id"], kept["id"])
    message = f"merged {merged['name']} into {kept['name']}: {len(records) - 1} face(s) moved"
    if refused:
        message += f"; {len(refused)} left to nobody, as a person rejected them for {kept['name']}"
    return Outcome(message, go=f"/d/{key}/identities/{kept['id']}", records=records)


def link_faces(dataset: Dataset, faces: list[str], op: str, identity: str = "", new_name: str = "") -> Outcome:
    """Link (to an identity, or to a new one named `new_name`), unlink (from each face's
    identity) or reject (each face for `identity`) the chosen faces."""
    faces = _ids(faces, "face")
    editor = IdentityEditor(dataset)
    records = []
    if op == "link" and new_name.strip():
        target, created = editor.find_or_create(new_name.strip(), prefix=False)
        if created:
            records.append(target)
    elif op in ("link", "reject"):
        if not identity:
            raise InputError("nothing-chosen", "choose an identity first")
        target = editor.require(identity)
    else:
        target = None
    done, failed = 0, []
    for face in faces:
        try:
            if op == "unlink":
                current = editor.view.face_identity.get(face)
                if current is None:
                    editor.face(face)
                    raise InputError("not-linked", f"face {face[:12]} is linked to nobody")
                records.append(editor.link(face, current, "unlink"))
            else:
                records.append(editor.link(face, target["id"], op))
            done += 1
        except InputError as exc:
            failed.append(exc.reason)
    verb = {"link": "linked", "unlink": "unlinked", "reject": "rejected"}[op]
    message = f"{verb} {done} face{'' if done == 1 else 's'}"
    if target is not None:
        message += f" {'to' if op == 'link' else 'for'} {target['name']}"
    if failed:
        message += f"; {len(failed)} not: {failed[0]}"
    return Outcome(message, ok=not failed, records=records)


def review_proposal(dataset: Dataset, face: str, identity: str, confirm: bool) -> Outcome:
    """Confirm a proposal (a review's link: refused for a face a person unlinked, a face linked
    elsewhere, a second face of a photo) or reject it (never proposed again)."""
    face, identity = _ids([face], "face")[0], _ids([identity], "identity")[0]
    editor = IdentityEditor(dataset)
    name = editor.require(identity)["name"]
    if confirm:
        record = editor.link(face, identity, source="review")
        return Outcome(f"linked face {face[:12]} to {name}", records=[record])
    record = editor.link(face, identity, "reject")
    return Outcome(f"face {face[:12]} is not {name}: it will not be proposed again", records=[record])


def delete(dataset: Dataset, key: str, ids: list[str], target: str) -> Outcome:
    """Tombstones for faces or images; the bytes stay until rx-gc."""
    ids = _ids(ids, target)
    deleter = Deleter(dataset)
    records = [deleter.delete(id, target) for id in ids]
    go = f"/d/{key}/images" if target == "image" else None
    return Outcome(
        f"deleted {len(records)} {target}{'' if len(records) == 1 else 's'} (rx-gc reclaims the space)",
        go=go,
        records=records,
    )
