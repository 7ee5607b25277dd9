"""rx-identity's and rx-delete's streams: one operation on each face or image a stream names.

Ids come as arguments or lines (whole, or a unique start of one: ids.py); records of the handled
types pass on, each followed by the record the operation wrote; every other record passes on
untouched.
"""

from __future__ import annotations

from typing import Callable, Iterable

from ..deletions import Deleter
from ..errors import InputError, UsageError
from ..identities import IdentityEditor
from ..stream import Emitter
from .base import Stage


class Edit(Stage):
    """One operation on each id (a line of the stream) and on each record of the handled types,
    which passes on followed by the record the operation wrote."""

    def __init__(self, emitter: Emitter, handles: tuple[str, ...], stage: str, apply: Callable[[str | dict], dict]):
        super().__init__(emitter)
        self.handles = handles
        self.stage = stage
        self.apply = apply

    def path(self, line: str) -> Iterable[dict]:
        self._apply(line.strip())
        return ()

    def finish(self, record: dict, result: None) -> None:
        self.emitter.emit(record)
        self._apply(record)

    def _apply(self, item: str | dict) -> None:
        try:
            self.emitter.emit(self.apply(item))
        except InputError as exc:
            self.emitter.fail(_id(item), self.stage, exc.reason, exc.kind)


def link_each(editor: IdentityEditor, identity: str, op: str, items: Iterable, out: Emitter) -> None:
    """Link (or unlink, or reject) each face to one identity."""
    try:
        found = editor.require(identity)
    except InputError as exc:
        raise UsageError(exc.reason) from None
    Edit(out, ("face",), op, lambda face: editor.link(_id(face), found["id"], op)).run(items)


def delete_each(deleter: Deleter, items: Iterable, out: Emitter) -> None:
    """Delete each face or image (an id's kind is looked up)."""
    Edit(
        out,
        ("face", "image"),
        "delete",
        lambda item: deleter.delete(_id(item), item["type"] if isinstance(item, dict) else None),
    ).run(items)


def _id(item: str | dict) -> str:
    return item if isinstance(item, str) else str(item.get("id"))
