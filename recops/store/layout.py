"""Every name a dataset directory may hold, and what each entry found there is.

    recops.json          config (the one file replaced in place, atomically)
    lock                 flock target; holds no data
    objects/ab/cdef...   image bytes named by xxh3-128, read-only
    records/<log>/...    append-only segments of records (images, faces, embeddings, ...)
    cache/               derived data (indexes, thumbnails, which paths were hashed); safe to delete
    .git, .gitattributes a git-annex repository around the dataset: not recops's, left alone

Anything else is foreign. Names starting with a dot below the top are what interrupted writes
leave: recops's own `.tmp-*` and rsync's `.NAME.XXXXXX`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from .atomic import is_temp
from .config import CONFIG_NAME, MAX_CONFIG
from .lock import LOCK_NAME
from .objects import FAN_RE, ID_RE, MAX_OBJECT
from .objects import FOLDER as OBJECTS
from .segments import FOLDER as RECORDS
from .segments import MAX_SEGMENT, SEGMENT_RE
from .tree import Entry, ForeignEntry, Tree, describe, oversized

CACHE = "cache"
LOG_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
ANNEX = (".git", ".gitattributes", ".gitignore")
_FOLDERS = (OBJECTS, RECORDS, CACHE)


@dataclass(frozen=True)
class Finding:
    """An entry that is not what the layout expects; `problem` when recops must not go near it."""

    rel: str
    kind: str
    reason: str
    problem: bool
    path: str = ""


def _odd(tree: Tree, rel: str, entry: Entry) -> Finding | None:
    """Links and special files are problems anywhere; hidden files are leftovers."""
    if not (entry.is_file or entry.is_folder):
        return _finding(tree, rel, *describe(entry.mode), problem=True)
    if entry.hidden and entry.is_file:
        if is_temp(entry.name):
            return _finding(tree, rel, "temp-file", "leftover of an interrupted write (rx-gc removes it)", False)
        return _finding(
            tree,
            rel,
            "sync-leftover",
            "leftover of an interrupted copy (rsync's temporary file; rx-gc removes it)",
            False,
        )
    return None


def _finding(tree: Tree, rel: str, kind: str, reason: str, problem: bool) -> Finding:
    return Finding(rel, kind, reason, problem, tree.path(rel))


def _foreign(tree: Tree, rel: str, what: str) -> Finding:
    return _finding(tree, rel, "foreign-file", f"{what} recops did not write (not read; left alone)", False)


def _too_big(tree: Tree, rel: str, entry: Entry, limit: int) -> Finding | None:
    if entry.is_file and entry.size > limit:
        exc = oversized(tree.path(rel), entry.size, limit)
        return _finding(tree, rel, exc.kind, exc.reason + "; not read", True)
    return None


def top_problems(tree: Tree) -> list[Finding]:
    """Links and special files among the entries every tool goes through (the top, and the folders
    of objects, records and cache): cheap enough to check at every open."""
    found = []
    for folder in ("",) + _FOLDERS:
        try:
            entries = tree.entries(folder)
        except ForeignEntry:
            continue  # the entry itself is among the findings of the top
        for entry in entries:
            rel = f"{folder}/{entry.name}" if folder else entry.name
            if folder == "" and entry.name in ANNEX:
                continue
            finding = _odd(tree, rel, entry)
            if finding is not None and finding.problem:
                found.append(finding)
            elif folder == "" and entry.name in _FOLDERS and not entry.is_folder:
                found.append(_finding(tree, rel, "not-a-folder", "a file where recops keeps a folder", True))
    return found


def scan(tree: Tree) -> Iterator[Finding]:
    """Every entry of the dataset that is not as recops writes it (rx-fsck's structural check)."""
    for entry in tree.entries(""):
        name = entry.name
        if name in ANNEX:
            continue
        finding = _odd(tree, name, entry)
        if finding is not None:
            yield finding
        elif name == CONFIG_NAME:
            yield from filter(None, [_too_big(tree, name, entry, MAX_CONFIG)])
        elif name in _FOLDERS and entry.is_folder:
            yield from _scan_folder(tree, name)
        elif name in _FOLDERS:
            yield _finding(tree, name, "not-a-folder", "a file where recops keeps a folder", True)
        elif name != LOCK_NAME or not entry.is_file:
            yield _foreign(tree, name, "a folder" if entry.is_folder else "a file")


def _scan_folder(tree: Tree, top: str) -> Iterator[Finding]:
    """objects/ and records/ hold two levels of known names; cache/ any derived files."""
    for entry in tree.entries(top):
        rel = f"{top}/{entry.name}"
        finding = _odd(tree, rel, entry)
        if finding is not None:
            yield finding
        elif not entry.is_folder:
            if top != CACHE:
                yield _foreign(tree, rel, "a file")
        elif top == OBJECTS and not FAN_RE.match(entry.name):
            yield _foreign(tree, rel, "a folder")
        elif top == RECORDS and not LOG_RE.match(entry.name):
            yield _foreign(tree, rel, "a folder")
        else:
            yield from _scan_leaves(tree, top, rel)


def _scan_leaves(tree: Tree, top: str, folder: str) -> Iterator[Finding]:
    try:
        entries = tree.entries(folder)
    except ForeignEntry as exc:  # swapped for a link since the listing above
        yield _finding(tree, folder, exc.kind, exc.reason, True)
        return
    name = folder.rpartition("/")[2]
    for entry in entries:
        rel = f"{folder}/{entry.name}"
        finding = _odd(tree, rel, entry)
        if finding is not None:
            yield finding
        elif entry.is_folder:
            if top == CACHE:
                yield from _scan_leaves(tree, top, rel)
            else:
                yield _foreign(tree, rel, "a folder")
        elif top == OBJECTS:
            if not ID_RE.match(name + entry.name):
                yield _foreign(tree, rel, "a file")
            elif big := _too_big(tree, rel, entry, MAX_OBJECT):
                yield big
        elif top == RECORDS:
            if not SEGMENT_RE.match(entry.name):
                yield _foreign(tree, rel, "a file")
            elif big := _too_big(tree, rel, entry, MAX_SEGMENT):
                yield big
