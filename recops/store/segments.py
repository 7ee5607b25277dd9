"""Append-only record logs: each flush writes one new immutable segment file.

A segment is a run of msgpack records, named `<UTC time>-<xxh3-128 of its bytes>.msgpack`, so
two copies of a dataset merge by copying files: equal names mean equal bytes. The time prefix
orders segments for humans and for "what is new since"; the content decides what a record means.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
import time
from dataclasses import dataclass
from typing import Iterable, Iterator

import msgpack
import xxhash

from .tree import ForeignEntry, GiB, Tree

SEGMENT_RE = re.compile(r"^(\d{8}T\d{12}Z)-([0-9a-f]{32})\.msgpack$")

FOLDER = "records"
ADMITTED = "cache/admitted"
"""cache/admitted/<log>/<segment name>: empty files naming the segments whose every record passed
the door on this machine (derived data: deleting it costs one more check of each segment)."""
MAX_SEGMENT = 1 * GiB
"""A segment is read whole; rx-gc writes none larger than a fraction of this."""

logger = logging.getLogger("recops")


class SegmentDamaged(Exception):
    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Segment:
    tree: Tree
    rel: str

    @property
    def name(self) -> str:
        return self.rel.rpartition("/")[2]

    @property
    def path(self) -> str:
        return self.tree.path(self.rel)

    def read_bytes(self) -> bytes:
        return self.tree.read(self.rel, MAX_SEGMENT)

    def remove(self) -> None:
        self.tree.remove(self.rel)

    def size(self) -> int:
        info = self.tree.lstat(self.rel)
        return info.st_size if info else 0

    def records(self) -> list[dict]:
        """The segment's records, after checking its bytes against its name."""
        match = SEGMENT_RE.match(self.name)
        if not match:
            raise SegmentDamaged(self.path, "not a segment name")
        try:
            data = self.read_bytes()
        except ForeignEntry as exc:
            raise SegmentDamaged(self.path, exc.reason) from None
        if xxhash.xxh3_128_hexdigest(data) != match.group(2):
            raise SegmentDamaged(self.path, "content does not match the hash in its name (torn or altered)")
        try:
            records = list(_unpack_all(data))
        except (ValueError, msgpack.UnpackException) as exc:
            raise SegmentDamaged(self.path, f"undecodable msgpack: {exc}") from None
        for number, record in enumerate(records, 1):
            if not isinstance(record, dict) or not isinstance(record.get("type"), str):
                raise SegmentDamaged(self.path, f"object {number} is not a record")
        return records

    def admitted(self) -> tuple[list[dict], bool]:
        """The records that pass the door (shapes.problem), and whether all did; the others are
        skipped with a warning. A segment is intact when its bytes match its name, but a synced
        copy may have been written by anyone."""
        from .. import shapes

        records = self.records()
        refused = [(r, why) for r in records if (why := shapes.problem(r)) is not None]
        if not refused:
            return records, True
        logger.warning(
            "skipping %d invalid record(s) of %s, the first: %s (run rx-fsck)", len(refused), self.path, refused[0][1]
        )
        skipped = {id(r) for r, _ in refused}
        return [r for r in records if id(r) not in skipped], False


def _unpack_all(data: bytes) -> Iterator[object]:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, unicode_errors="surrogateescape")
    unpacker.feed(data)
    yield from unpacker


def _packer():
    from ..stream import msgpack_default

    return msgpack.Packer(default=msgpack_default, unicode_errors="surrogateescape").pack


def encode_segment(records: list[dict]) -> bytes:
    pack = _packer()
    return b"".join(pack(record) for record in records)


def encode_segments(records: Iterable[dict], size: int) -> Iterator[bytes]:
    """The records as the bytes of segments of about `size` bytes each (every reader reads a
    segment whole, so none may grow without bound)."""
    pack = _packer()
    pending: list[bytes] = []
    held = 0
    for record in records:
        pending.append(pack(record))
        held += len(pending[-1])
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


def segment_name(data: bytes, when: float | None = None) -> str:
    moment = _dt.datetime.fromtimestamp(time.time() if when is None else when, _dt.timezone.utc)
    return f"{moment:%Y%m%dT%H%M%S%f}Z-{xxhash.xxh3_128_hexdigest(data)}.msgpack"


class RecordLog:
    """One named log (`records/<name>/`): read every segment, append through a buffer."""

    def __init__(self, tree: Tree, name: str, flush_every: int = 1000, flush_seconds: float = 5.0):
        self.tree = tree
        self.name = name
        self.rel = f"{FOLDER}/{name}"
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self._pending: list[dict] = []
        self._since = time.monotonic()
        self._known: set[str] | None = None
        self.appended = 0
        """Records this process appended: a view folded at one count knows when it is behind."""

    @property
    def directory(self) -> str:
        return self.tree.path(self.rel)

    def segments(self) -> list[Segment]:
        """The log's segment files; anything else in its folder (leftovers of interrupted writes
        or syncs, links, foreign files) is not read here, and rx-fsck reports it."""
        try:
            entries = self.tree.entries(self.rel)
        except ForeignEntry as exc:
            logger.warning("not reading %s (run rx-fsck)", exc)
            return []
        return [Segment(self.tree, f"{self.rel}/{e.name}") for e in entries if e.is_file and SEGMENT_RE.match(e.name)]

    def records(self) -> Iterator[dict]:
        """Every record, oldest segment first, then those this process has not flushed yet;
        a damaged segment is skipped with a warning."""
        for segment in self.segments():
            try:
                yield from self.admitted(segment)
            except SegmentDamaged as exc:
                logger.warning("skipping damaged record file %s (run rx-fsck)", exc)
        yield from self.unflushed()

    def admitted(self, segment: Segment) -> list[dict]:
        """A segment's records that pass the door. A segment is checked record by record once per
        machine: its name holds the hash of its bytes, so a name that passed once passes again
        (ADMITTED keeps those names; segments this machine wrote start there)."""
        if segment.name in self._admitted():
            return segment.records()
        records, whole = segment.admitted()
        if whole:
            self._admit(segment.name)
        return records

    def _admitted(self) -> set[str]:
        if self._known is None:
            try:
                self._known = {e.name for e in self.tree.entries(f"{ADMITTED}/{self.name}") if e.is_file}
            except ForeignEntry:
                self._known = set()
        return self._known

    def _admit(self, name: str) -> None:
        self._admitted().add(name)
        try:  # a cache: a name not remembered costs one more check, nothing else
            self.tree.write(f"{ADMITTED}/{self.name}/{name}", b"", mode=0o600, sync_dir=False)
        except OSError as exc:
            logger.debug("not remembering %s: %s", name, exc)

    def forget_gone(self) -> None:
        """Forget the admitted names of segments that are gone (rx-gc compacted them)."""
        present = {s.name for s in self.segments()}
        try:
            entries = self.tree.entries(f"{ADMITTED}/{self.name}")
        except ForeignEntry:
            return
        for entry in entries:
            if entry.name not in present:
                self.tree.remove(f"{ADMITTED}/{self.name}/{entry.name}")
        self._known = None

    def unflushed(self) -> list[dict]:
        """Records this process appended and has not written yet."""
        return list(self._pending)

    def append(self, record: dict) -> None:
        self._pending.append(record)
        self.appended += 1
        if len(self._pending) >= self.flush_every or time.monotonic() - self._since >= self.flush_seconds:
            self.flush()

    def flush(self) -> str | None:
        """Write what is pending as one new segment; returns its path."""
        self._since = time.monotonic()
        if not self._pending:
            return None
        data = encode_segment(self._pending)
        rel = self.write(data)
        self._pending.clear()
        return self.tree.path(rel)

    def write(self, data: bytes) -> str:
        """Store encoded records as one new segment (rx-gc's compaction too); returns its rel."""
        name = segment_name(data)
        self.tree.write(f"{self.rel}/{name}", data, mode=0o400)
        self._admit(name)  # records of this process: checked where they came in, or made here
        return f"{self.rel}/{name}"
