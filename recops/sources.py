"""Where a record's image bytes are: the dataset's object, inline data, or an original path."""

from __future__ import annotations

import os

from .errors import InputError
from .store.dataset import Dataset
from .stream import as_bytes


def image_source(record: dict, dataset: Dataset | None = None) -> tuple[str, object]:
    """A picklable handle on the image bytes of an image, face or embedding record."""
    image_id = record.get("image") if record.get("type") != "image" else record.get("id")
    root = record.get("dataset") or (dataset.root if dataset else None)
    if root and image_id:
        path = os.path.join(root, "objects", image_id[:2], image_id[2:])
        if os.path.exists(path):
            return "file", path
    if record.get("data") is not None:
        return "bytes", as_bytes(record["data"])
    for path in record.get("paths") or ([record["path"]] if record.get("path") else []):
        if os.path.exists(path):
            return "file", path
    raise InputError("no-pixels", f"image {image_id or '?'} is neither in a dataset nor inline nor at a readable path")


def read_source(source: tuple[str, object]) -> bytes:
    kind, value = source
    if kind == "bytes":
        return value
    try:
        with open(value, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InputError("unreadable", f"cannot read {value}: {exc.strerror or exc}") from None
