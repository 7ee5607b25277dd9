"""Append-only record logs: each flush writes one new immutable segment file.

A segment is a run of msgpack records, named `<UTC time>-<xxh3-128 of its bytes>.msgpack`, so
two copies of a dataset merge by copying files: equal names mean equal bytes. The time prefix
orders segments for humans and for "what is new since"; the content decides what a record means.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Iterator

import msgpack
import xxhash

from .atomic import is_temp, write_atomic

SEGMENT_RE = re.compile(r"^(\d{8}T\d{12}Z)-([0-9a-f]{32})\.msgpack$")

log = logging.getLogger("recops")


class SegmentDamaged(Exception):
    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Segment:
    path: str

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def read_bytes(self) -> bytes:
        with open(self.path, "rb") as handle:
            return handle.read()

    def records(self) -> list[dict]:
        """The segment's records, after checking its bytes against its name."""
        match = SEGMENT_RE.match(self.name)
        if not match:
            raise SegmentDamaged(self.path, "not a segment name")
        data = self.read_bytes()
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


def _unpack_all(data: bytes) -> Iterator[object]:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, unicode_errors="surrogateescape")
    unpacker.feed(data)
    yield from unpacker


def encode_segment(records: list[dict]) -> bytes:
    from ..stream import msgpack_default

    pack = msgpack.Packer(default=msgpack_default, unicode_errors="surrogateescape").pack
    return b"".join(pack(record) for record in records)


def segment_name(data: bytes, when: float | None = None) -> str:
    moment = _dt.datetime.fromtimestamp(time.time() if when is None else when, _dt.timezone.utc)
    return f"{moment:%Y%m%dT%H%M%S%f}Z-{xxhash.xxh3_128_hexdigest(data)}.msgpack"


class RecordLog:
    """One named log (`records/<name>/`): read every segment, append through a buffer."""

    def __init__(self, directory: str, flush_every: int = 1000, flush_seconds: float = 5.0):
        self.directory = directory
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self._pending: list[dict] = []
        self._since = time.monotonic()

    def segments(self) -> list[Segment]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return [Segment(os.path.join(self.directory, n)) for n in sorted(names) if not is_temp(n)]

    def records(self) -> Iterator[dict]:
        """Every record, oldest segment first, then those this process has not flushed yet;
        a damaged segment is skipped with a warning."""
        for segment in self.segments():
            try:
                yield from segment.records()
            except SegmentDamaged as exc:
                log.warning("skipping damaged record file %s (run rx-fsck)", exc)
        yield from self.unflushed()

    def unflushed(self) -> list[dict]:
        """Records this process appended and has not written yet."""
        return list(self._pending)

    def append(self, record: dict) -> None:
        self._pending.append(record)
        if len(self._pending) >= self.flush_every or time.monotonic() - self._since >= self.flush_seconds:
            self.flush()

    def flush(self) -> str | None:
        """Write what is pending as one new segment; returns its path."""
        self._since = time.monotonic()
        if not self._pending:
            return None
        data = encode_segment(self._pending)
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        path = os.path.join(self.directory, segment_name(data))
        write_atomic(path, data, mode=0o400)
        self._pending.clear()
        return path
