"""Ids as git takes them: a whole id, or the start of one that no other id shares.

Tables on a terminal show the first 12 characters of an id. Every command that takes an image,
face, identity, cluster or dataset id as an argument (or as a line of stdin) takes those, or any
unique start of at least MIN_PREFIX hex digits. An id inside a record is whole (32 hex digits,
checked where records are read), and a whole id is the start of no other id: a record is never
taken for another object.
"""

from __future__ import annotations

import os
import re
from typing import Collection, Iterable

from .errors import DatasetError, InputError
from .store.dataset import Dataset, find_datasets, home, is_dataset, locate

MIN_PREFIX = 4
"""git's floor: shorter starts match too much to mean anything."""
WHOLE = 32
"""Hex digits of a whole id (xxh3-128, or 16 random bytes)."""
SHOWN = 5
"""Candidates an ambiguous prefix names."""
_HEX = re.compile(r"[0-9a-f]+")


def is_prefix(text: str) -> bool:
    """Whether `text` could be the start of an id: MIN_PREFIX hex digits or more, fewer than a whole id."""
    return MIN_PREFIX <= len(text) < WHOLE and bool(_HEX.fullmatch(text.lower()))


def is_whole(text: str) -> bool:
    return len(text) == WHOLE and bool(_HEX.fullmatch(text.lower()))


def starting(prefix: str, ids: Iterable[str]) -> list[str]:
    """The ids of `ids` that start with `prefix` (any case), in order, once each."""
    prefix = prefix.lower()
    return sorted({id for id in ids if id.startswith(prefix)})


def ambiguous(wanted: str, found: list[str], what: str) -> InputError:
    shown = ", ".join(found[:SHOWN]) + (f" and {len(found) - SHOWN} more" if len(found) > SHOWN else "")
    return InputError("ambiguous-id", f"{what} id {wanted} is ambiguous: it starts {shown}; give more of it")


def resolve(
    wanted: str, ids: Collection[str], what: str = "object", where: str = "", unknown: str = "unknown-id"
) -> str:
    """`wanted` when it is one of `ids`, else the one id that starts with it; InputError
    (of kind `unknown`, or "ambiguous-id") otherwise."""
    if wanted in ids:
        return wanted
    found = starting(wanted, ids) if is_prefix(wanted) else []
    if len(found) == 1:
        return found[0]
    if found:
        raise ambiguous(wanted, found, what)
    raise InputError(unknown, f"no {what} {wanted}" + (f" in {where}" if where else ""))


def dataset_path(wanted: str) -> str:
    """A dataset as the porcelain's -d takes it: a directory, a name under $RECOPS_HOME, or the
    id (or a unique start of it) that `recops dataset-list` prints of a dataset there. A name or
    path that is a dataset wins over an id; copies of one dataset share its id, so an id that two
    copies hold is ambiguous."""
    located = locate(wanted)
    if is_dataset(located) or not (is_prefix(wanted) or is_whole(wanted)) or not os.path.isdir(home()):
        return located
    by_id: dict[str, list[str]] = {}
    for root in find_datasets(home()):
        try:
            with Dataset.open(root) as dataset:
                by_id.setdefault(dataset.config.id, []).append(root)
        except DatasetError:
            continue  # dataset-list reports it; it has no id to match
    found = [root for id in starting(wanted, by_id) for root in by_id[id]]
    if len(found) > 1:
        raise DatasetError(f"dataset id {wanted} is ambiguous: {', '.join(found[:SHOWN])}; give more of it, or a path")
    return found[0] if found else located
