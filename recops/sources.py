"""Where a record's image bytes are: the dataset's object, inline data, or an original path.

An id from a record names an object only after it is checked as an id (32 hex digits): an id
such as `../../photo` never becomes a path. The object is read through the dataset's Tree, so a
link or special file in a synced copy is refused, not followed.
"""

from __future__ import annotations

import os

from .errors import InputError
from .store.dataset import Dataset, is_dataset
from .store.objects import MAX_OBJECT, ObjectStore, is_id
from .store.tree import ForeignEntry, Tree
from .stream import as_bytes


def image_source(record: dict, dataset: Dataset | None = None) -> tuple[str, object]:
    """A picklable handle on the image bytes of an image, face or embedding record."""
    image_id = record.get("image") if record.get("type") != "image" else record.get("id")
    if image_id is not None and not is_id(image_id):
        raise InputError("invalid-id", f"image id {str(image_id)[:80]!r} is not an image id (32 hex digits)")
    root = dataset.root if dataset else None
    named = record.get("dataset")
    if isinstance(named, str) and named != root and is_dataset(named):
        root = os.path.abspath(named)  # a stream from another dataset (rx-ls -d other | rx-embed -d this)
    if root and image_id and _stored(root, image_id, dataset):
        return "object", (root, image_id)
    if record.get("data") is not None:
        return "bytes", as_bytes(record["data"])
    for path in record.get("paths") or ([record["path"]] if record.get("path") else []):
        if isinstance(path, str) and os.path.exists(path):
            return "file", path
    raise InputError("no-pixels", f"image {image_id or '?'} is neither in a dataset nor inline nor at a readable path")


def _stored(root: str, id: str, dataset: Dataset | None) -> bool:
    tree = dataset.tree if dataset and root == dataset.root else Tree(root)
    try:
        return ObjectStore(tree).has(id)
    except ForeignEntry as exc:
        raise InputError(exc.kind, f"{exc} (run rx-fsck)") from None
    except OSError:
        return False
    finally:
        if tree is not (dataset.tree if dataset else None):
            tree.close()


def read_source(source: tuple[str, object]) -> bytes:
    kind, value = source
    if kind == "bytes":
        return value
    if kind == "object":
        root, id = value
        tree = Tree(root)
        try:
            return ObjectStore(tree).read(id)
        except ForeignEntry as exc:
            raise InputError(exc.kind, f"{exc} (run rx-fsck)") from None
        except OSError as exc:
            raise InputError(
                "unreadable", f"cannot read {tree.path(ObjectStore.rel(id))}: {exc.strerror or exc}"
            ) from None
        finally:
            tree.close()
    try:
        with open(value, "rb") as handle:
            return handle.read(MAX_OBJECT + 1)
    except OSError as exc:
        raise InputError("unreadable", f"cannot read {value}: {exc.strerror or exc}") from None
