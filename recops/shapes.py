"""The door: what a record must hold before any tool acts on it.

A record may come from anywhere: a stream on stdin, a segment that arrived with a synced copy, a
script, a hand edit, another version. Every record read from a stream or from a dataset's record
files passes `problem` first. One with a known type whose fields are missing or wrong (an id
that is not an id, a vector of NaN, a box of text, a structure nested a thousand deep, a msgpack
extension value) is refused where it is read, with a reason, so no tool trips over it later and
the run goes on. Unknown types pass, checked only for plain values (fields beyond these may be
new: the record stream is a stable contract that grows).
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Callable

Check = Callable[[object], bool]

MAX_DEPTH = 32
"""Records nest a few levels (a face's landmarks); anything deeper is not a record of ours."""
MAX_DIM = 1 << 16
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_PLAIN = (str, int, float, bool, type(None), bytes)
_TAKEN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d)?")


def _text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def is_id(value: object) -> bool:
    """Every id recops makes (images, faces, identities, clusters) is 32 lowercase hex digits."""
    return type(value) is str and len(value) == 32 and _HEX_ID.fullmatch(value) is not None


def _id_or_none(value: object) -> bool:
    return value is None or is_id(value)


def _number(value: object) -> bool:
    if type(value) is float:
        return math.isfinite(value)
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _counts(value: object) -> bool:
    return isinstance(value, list) and all(_count(v) for v in value)


def _distance(value: object) -> bool:
    return _number(value) and value >= 0


def _flag(value: object) -> bool:
    return isinstance(value, bool)


def _box(value: object) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 4
        and all(_number(v) for v in value)
        and value[2] > value[0]
        and value[3] > value[1]
    )


def _boxes(value: object) -> bool:
    return isinstance(value, list) and all(_box(box) for box in value)


def _point(value: object) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(_number(v) for v in value)


def _landmarks(value: object) -> bool:
    """{name: [x, y]}, dlib's five as {"dlib5": [[x, y], ...]}."""
    return isinstance(value, dict) and all(
        _point(v) or (isinstance(v, list) and all(_point(p) for p in v)) for v in value.values()
    )


def _finite_float32(data: bytes) -> bool:
    # A float32 is NaN or infinite only when its exponent bits are all ones, which puts 0x7f or
    # 0xff in its high byte: real vectors never have one, so two C-speed scans settle it.
    high = data[3::4]
    if b"\x7f" not in high and b"\xff" not in high:
        return True
    import array
    import sys

    values = array.array("f")
    values.frombytes(data)
    if sys.byteorder == "big":
        values.byteswap()
    return all(math.isfinite(v) for v in values)


def _vector(value: object) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return 0 < len(data) <= 4 * MAX_DIM and len(data) % 4 == 0 and _finite_float32(data)
    if hasattr(value, "ndim") and hasattr(value, "dtype"):  # a numpy vector, from the core in-process
        import numpy as np

        return (
            value.ndim == 1
            and 0 < value.size <= MAX_DIM
            and value.dtype.kind in "fiu"
            and bool(np.isfinite(value).all())
        )
    if not (isinstance(value, (list, tuple)) and 0 < len(value) <= MAX_DIM):
        return False
    # Every record of a JSON stream passes here: plain floats, the common case, are checked by
    # type alone and summed once (a NaN or an infinity makes the sum so; no real vector
    # overflows a double).
    if not all(type(v) is float for v in value) and not all(_number(v) for v in value):
        return False
    return math.isfinite(sum(value))


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(_text(v) for v in value)


def _ids(value: object) -> bool:
    return isinstance(value, list) and all(is_id(v) for v in value)


def _id_map(value: object) -> bool:
    return isinstance(value, dict) and all(is_id(k) and is_id(v) for k, v in value.items())


def _measures(value: object) -> bool:
    return isinstance(value, dict) and all(v is None or _number(v) for v in value.values())


def _curves(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(c, dict)
        and _number(c.get("end"))
        and all(isinstance(c.get(k), list) and all(_count(n) for n in c[k]) for k in ("genuine", "impostor"))
        for c in value.values()
    )


def _span(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_distance(v) for v in value) and value[0] <= value[1]


def _times(value: object) -> bool:
    return isinstance(value, list) and all(_distance(v) for v in value)


def _gaps(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(g, dict) and _span([g.get("start"), g.get("end")]) and _text(g.get("reason")) for g in value
    )


def _rate(value: object) -> bool:
    return _number(value) and 0 <= value <= 1


def _scores(value: object) -> bool:
    return isinstance(value, dict) and all(_number(v) for v in value.values())


def _taken(value: object) -> bool:
    """ISO 8601 local time to the second, with its UTC offset when known ("2019-05-04T13:22:10+02:00")."""
    import datetime

    if not (isinstance(value, str) and _TAKEN.fullmatch(value)):
        return False
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _within(limit: float) -> Check:
    return lambda value: _number(value) and -limit <= value <= limit


def _regions(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(r, dict) and _text(r.get("name")) and _box(r.get("box")) for r in value
    )


def _one_of(*choices: str) -> Check:
    return lambda value: value in choices


ID = (is_id, "an id (32 hex digits)")
ID_OR_NONE = (_id_or_none, "an id (32 hex digits) or null")
TEXT = (_text, "text")
NUMBER = (_number, "a finite number")
DISTANCE = (_distance, "a finite number, 0 or more")
COUNT = (_count, "a whole number, 0 or more")
COUNT_OR_NONE = (lambda v: v is None or _count(v), "a whole number, 0 or more, or null")
FLAG = (_flag, "true or false")
NAME_OR_NONE = (lambda v: v is None or isinstance(v, str), "text or null")

# type -> {field: (check, what it must be)}; a field named here must be present.
REQUIRED: dict[str, dict[str, tuple[Check, str]]] = {
    "image": {"id": ID},
    "face": {"id": ID, "image": ID, "box": (_box, "four finite numbers, left, top, right, bottom")},
    "embedding": {
        "face": ID,
        "image": ID,
        "model": TEXT,
        "vector": (_vector, "a list of finite numbers (or float32 bytes)"),
    },
    "detection": {"image": ID},
    "match": {"query": ID, "candidate": ID},
    "proposal": {"face": ID},
    "cluster": {"faces": (_ids, "a list of face ids")},
    "identity": {"id": ID},
    "link": {"face": ID, "identity": ID},
    "attribute": {"face": ID},
    "deletion": {"target": (_one_of("face", "image"), "face or image"), "id": ID},
    "recognition": {"image": ID},
    "searched": {"query": ID, "datasets": (_ids, "a list of dataset ids"), "gallery": COUNT},
    "calibration": {"id": ID, "name": TEXT, "curves": (_curves, "counts of pairs per metric")},
}
RATES = {
    "fmr": (_rate, "a rate from 0 to 1"),
    "expected_false": (_distance, "a finite number, 0 or more"),
    "calibration": TEXT,
}
# Fields that may be absent, but when present must be right.
OPTIONAL: dict[str, dict[str, tuple[Check, str]]] = {
    "image": {
        "paths": (_texts, "a list of paths"),
        "path": TEXT,
        "size": COUNT,
        "width": COUNT,
        "height": COUNT,
        "orientation": (lambda v: v in range(1, 9), "an EXIF orientation, 1 to 8"),
        "pages": COUNT,
        "media_type": TEXT,
        "consent": FLAG,
        "query": FLAG,
        "dataset": TEXT,
        "ts": TEXT,
        "taken": (_taken, "a local time, YYYY-MM-DDTHH:MM:SS, and its UTC offset (+HH:MM) when known"),
        "latitude": (_within(90), "degrees from -90 (south) to 90 (north)"),
        "longitude": (_within(180), "degrees from -180 (west) to 180 (east)"),
        "altitude": NUMBER,
        "camera_make": TEXT,
        "camera_model": TEXT,
        "regions": (_regions, "a list of face regions: name (text) and box (four numbers)"),
        "regions_source": (_one_of("sidecar", "embedded"), "sidecar or embedded"),
        "duration": DISTANCE,
        "fps": DISTANCE,
        "codec": TEXT,
    },
    "face": {
        "landmarks": (_landmarks, "named points [x, y]"),
        "confidence": NUMBER,
        "detector": TEXT,
        "aligned": FLAG,
        "index": COUNT,
        "dataset": TEXT,
        "path": TEXT,
        "ts": TEXT,
        "time": DISTANCE,
        "track": COUNT,
        "span": (_span, "two times in seconds, the first and last sighting of its track"),
        "page": COUNT,
        "quality": (_measures, "a map of measures (numbers or null)"),
    },
    "embedding": {"dim": COUNT, "flip": FLAG, "model_version": TEXT, "normalization": TEXT, "ts": TEXT},
    "detection": {
        "faces": (_ids, "a list of face ids"),
        "count": COUNT,
        "detector": TEXT,
        "aligned": FLAG,
        "replaces": (_id_map, "a map of face ids to face ids"),
        "smallest": COUNT,
        "fps": DISTANCE,
        "samples": COUNT,
        "tracks": COUNT,
        "cuts": (_times, "a list of times in seconds"),
        "gaps": (_gaps, "a list of {start, end, reason}: stretches that do not decode"),
    },
    "match": {
        "query_image": ID,
        "candidate_image": ID,
        "identity": ID_OR_NONE,
        "identity_name": NAME_OR_NONE,
        "distance": DISTANCE,
        "threshold": DISTANCE,
        "rank": COUNT,
        "metric": TEXT,
        "model": TEXT,
        "candidate_dataset": ID,
        "gallery": COUNT,
        **RATES,
    },
    "searched": {"query_image": ID, "matches": COUNT, "threshold": DISTANCE},
    "proposal": {
        "identity": ID,
        "source": TEXT,
        "overlap": (_rate, "a share from 0 to 1"),
        "image": ID,
        "candidate": ID,
        "candidate_image": ID,
        "face_dataset": ID,
        "candidate_dataset": ID,
        "identity_name": NAME_OR_NONE,
        "distance": DISTANCE,
        "threshold": DISTANCE,
        **RATES,
    },
    "cluster": {
        "id": ID,
        "identity": ID_OR_NONE,
        "identity_name": NAME_OR_NONE,
        "label": COUNT_OR_NONE,
        "size": COUNT,
        "threshold": DISTANCE,
    },
    "identity": {
        "name": (lambda v: isinstance(v, str), "text"),
        "description": NAME_OR_NONE,
        "color": NAME_OR_NONE,
        "deleted": FLAG,
        "created": TEXT,
        "ts": TEXT,
    },
    "link": {
        "image": ID,
        "op": (_one_of("link", "unlink", "reject"), "link, unlink or reject"),
        "face_dataset": ID,
        "ts": TEXT,
    },
    "attribute": {
        "image": ID,
        "age": NUMBER,
        "gender": (_scores, "scores"),
        "emotion": (_scores, "scores"),
        "race": (_scores, "scores"),
        "dominant_gender": TEXT,
        "dominant_emotion": TEXT,
        "dominant_race": TEXT,
    },
    "verification": {
        "boxes": (_boxes, "a list of boxes of four numbers"),
        "distance": DISTANCE,
        "threshold": DISTANCE,
        "verified": FLAG,
        "compared": TEXT,
        "faces_found": (_counts, "a list of counts"),
        "fmr": RATES["fmr"],
        "calibration": TEXT,
    },
}


def _embedding_problem(record: dict) -> str | None:
    dim = record.get("dim")
    if dim is not None and _count(dim):
        vector = record["vector"]
        length = len(vector) // 4 if isinstance(vector, (bytes, bytearray, memoryview)) else len(vector)
        if length != dim:
            return f"malformed embedding record: dim says {dim}, the vector holds {length} numbers"
    return None


def _proposal_problem(record: dict) -> str | None:
    # A face region's name may be no identity yet: applying the proposal makes it.
    if "identity" in record or (record.get("source") == "xmp" and _text(record.get("identity_name"))):
        return None
    return "malformed proposal record: no identity (nor, from a face region, an identity_name)"


_WHOLE = {"embedding": _embedding_problem, "proposal": _proposal_problem}


def not_plain(value: object, depth: int = 0) -> str | None:
    """Why a decoded value is not made of plain data a record may hold (maps with text keys,
    lists, text, bytes, numbers, booleans, null, at most MAX_DEPTH deep), or None."""
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} deep"
        for key, item in value.items():
            if type(key) is not str:
                return "a map key that is not text"
            if not isinstance(item, _PLAIN) and (why := not_plain(item, depth + 1)):
                return why
        return None
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} deep"
        for item in value:
            if not isinstance(item, _PLAIN) and (why := not_plain(item, depth + 1)):
                return why
        return None
    if isinstance(value, _PLAIN) or hasattr(value, "dtype"):  # numpy values come only from the core in-process
        return None
    return f"a value of a kind records do not hold ({type(value).__name__})"


def problem(record: dict, plain: bool = True) -> str | None:
    """Why a record cannot be used as its type says, or None. `plain=False` skips the walk over
    every value (for JSON, whose values are plain by construction and whose depth the reader
    bounds)."""
    kind = record.get("type")
    if plain and (why := not_plain(record)):
        return f"malformed {kind} record: {why}"
    for field, (check, what) in REQUIRED.get(kind, {}).items():
        if field not in record:
            return f"malformed {kind} record: no {field}"
        if not check(record[field]):
            return f"malformed {kind} record: {field} must be {what}"
    for field, (check, what) in OPTIONAL.get(kind, {}).items():
        if field in record and not check(record[field]):
            return f"malformed {kind} record: {field} must be {what}"
    if kind in REQUIRED and "ts" in record and type(record["ts"]) is not str:
        return f"malformed {kind} record: ts must be a time stamp (text)"  # every fold compares them
    whole = _WHOLE.get(kind)
    return whole(record) if whole else None


def label(record: dict) -> str:
    """A short name for the record in an error: its id, else its face or image, else its type."""
    for field in ("id", "face", "query", "image"):
        value = record.get(field)
        if isinstance(value, str) and value:
            return value if len(value) <= 80 else value[:80] + "..."
    return str(record.get("type"))[:80]
