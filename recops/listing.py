"""What rx-ls lists: the current view of a dataset's images, faces and identities."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from . import images
from .identities import IdentityView
from .store.dataset import Dataset

KINDS = ("datasets", "images", "faces", "identities")


def latest_by_id(records: Iterable[dict], type: str) -> Iterator[dict]:
    """The latest record (by timestamp, then content) of each id of one type; a record with
    `deleted: true` is a tombstone and hides its id."""
    latest: dict[str, dict] = {}
    for record in records:
        if record.get("type") != type or "id" not in record:
            continue
        held = latest.get(record["id"])
        if held is None or (record.get("ts", ""), repr(sorted(record.items()))) > (held.get("ts", ""), repr(sorted(held.items()))):
            latest[record["id"]] = record
    return (r for r in latest.values() if not r.get("deleted"))


def list_kind(dataset: Dataset, kind: str) -> Iterator[dict]:
    if kind == "images":
        for image in images.ImageCatalog(dataset.log(images.LOG).records()):
            yield image | {"dataset": dataset.root}
    elif kind == "faces":
        yield from latest_by_id(dataset.log("faces").records(), "face")
    elif kind == "identities":
        view = IdentityView.of(dataset)
        counts = Counter(view.face_identity.values())
        for id, identity in view.identities.items():
            yield identity | {"faces": counts[id]}
    else:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
