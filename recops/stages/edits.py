"""rx-identity's and rx-delete's streams: one operation on each face or image a stream names.

Ids come as arguments or lines (whole, or a unique start of one: ids.py); records of the handled types pass on, each followed by the
record the operation wrote; every other record passes on untouched.
"""

from __future__ import annotations

from typing import Callable, Iterable

from ..deletions import Deleter
from ..errors import InputError, UsageError
from ..identities import IdentityEditor
from ..stream import BadInput, Emitter


def each(items: Iterable[dict | str | BadInput], out: Emitter, types: tuple[str, ...], stage: str,
         apply: Callable[[str | dict], dict]) -> None:
    for item in items:
        if isinstance(item, BadInput):
            out.bad_input(item)
            continue
        if isinstance(item, dict):
            out.emit(item)
            if item.get("type") not in types:
                continue
        item = item.strip() if isinstance(item, str) else item
        try:
            out.emit(apply(item))
        except InputError as exc:
            out.fail(_id(item), stage, exc.reason, exc.kind)


def link_each(editor: IdentityEditor, identity: str, op: str, items: Iterable, out: Emitter) -> None:
    """Link (or unlink, or reject) each face to one identity."""
    try:
        found = editor.require(identity)
    except InputError as exc:
        raise UsageError(exc.reason) from None
    each(items, out, ("face",), op, lambda face: editor.link(_id(face), found["id"], op))


def delete_each(deleter: Deleter, items: Iterable, out: Emitter) -> None:
    """Delete each face or image (an id's kind is looked up)."""
    each(items, out, ("face", "image"), "delete",
         lambda item: deleter.delete(_id(item), item["type"] if isinstance(item, dict) else None))


def _id(item: str | dict) -> str:
    return item if isinstance(item, str) else str(item.get("id"))
