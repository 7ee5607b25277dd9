"""What each record type must hold before a tool acts on it.

A record read from a stream may come from anywhere: another version, a script, a hand edit. One
with a known type and a field that is missing or of the wrong kind becomes an error record where
it is read, so no tool trips over it later and the run goes on. Unknown types, and fields beyond
these, pass as they are.
"""

from __future__ import annotations

import numbers
from typing import Callable

Check = Callable[[object], bool]


def _text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _box(value: object) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 4 and all(_number(v) for v in value)
            and value[2] > value[0] and value[3] > value[1])


def _boxes(value: object) -> bool:
    return isinstance(value, list) and all(_box(box) for box in value)


def _vector(value: object) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value) > 0 and len(value) % 4 == 0
    if hasattr(value, "ndim") and hasattr(value, "dtype"):  # a numpy vector, from the core in-process
        return value.ndim == 1 and value.size > 0 and value.dtype.kind in "fiu"
    # Every record of a JSON stream passes here: plain floats, the common case, are checked by
    # type alone, which costs a tenth of the general test.
    return isinstance(value, (list, tuple)) and len(value) > 0 and (
        all(type(v) is float for v in value) or all(_number(v) for v in value))


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(_text(v) for v in value)


# type -> {field: (check, what it must be)}; a field named here must be present.
REQUIRED: dict[str, dict[str, tuple[Check, str]]] = {
    "image": {"id": (_text, "an id")},
    "face": {"id": (_text, "an id"), "image": (_text, "an image id"),
             "box": (_box, "four numbers, left, top, right, bottom")},
    "embedding": {"face": (_text, "a face id"), "image": (_text, "an image id"), "model": (_text, "a model name"),
                  "vector": (_vector, "a list of numbers (or float32 bytes)")},
    "detection": {"image": (_text, "an image id")},
    "match": {"query": (_text, "a face id"), "candidate": (_text, "a face id")},
    "proposal": {"face": (_text, "a face id"), "identity": (_text, "an identity id")},
    "cluster": {"faces": (_texts, "a list of face ids")},
    "identity": {"id": (_text, "an id")},
    "link": {"face": (_text, "a face id"), "identity": (_text, "an identity id")},
    "attribute": {"face": (_text, "a face id")},
}
# Fields that may be absent, but when present must be right.
OPTIONAL: dict[str, dict[str, tuple[Check, str]]] = {
    "verification": {"boxes": (_boxes, "a list of boxes of four numbers")},
    "image": {"paths": (_texts, "a list of paths")},
}


def problem(record: dict) -> str | None:
    """Why a record cannot be used as its type says, or None."""
    kind = record.get("type")
    for field, (check, what) in REQUIRED.get(kind, {}).items():
        if field not in record:
            return f"malformed {kind} record: no {field}"
        if not check(record[field]):
            return f"malformed {kind} record: {field} must be {what}"
    for field, (check, what) in OPTIONAL.get(kind, {}).items():
        if field in record and not check(record[field]):
            return f"malformed {kind} record: {field} must be {what}"
    return None


def label(record: dict) -> str:
    """A short name for the record in an error: its id, else its face or image, else its type."""
    for field in ("id", "face", "query", "image"):
        if isinstance(record.get(field), str) and record[field]:
            return record[field]
    return str(record.get("type"))
