"""Record streams: JSON lines or msgpack out, either (or plain paths) in.

A stream carries maps with a `type`. On input the format is told by the first byte: `{` starts
JSON lines, a msgpack map marker starts msgpack, anything else is a list of paths, one per line
(or NUL-separated with `-0`). In JSON-lines input, a line that does not start with `{` is a path,
so record streams and path lists can be concatenated.
"""

from __future__ import annotations

import array
import base64
import itertools
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import IO, Any, Callable, Iterator

import msgpack

from . import shapes
from .records import error_record

FORMATS = ("json", "msgpack")
MAX_RECORD = 256 << 20
"""The largest record read from a stream (an image carried inline, base64 in JSON, included)."""

logger = logging.getLogger("recops")


@dataclass(frozen=True)
class BadInput:
    """A piece of input that is neither a record nor a path (a malformed line)."""

    input: str
    reason: str


def _is_msgpack_map(byte: int) -> bool:
    return 0x80 <= byte <= 0x8F or byte in (0xDE, 0xDF)


def read_items(stream: IO[bytes], null: bool = False) -> Iterator[dict | str | BadInput]:
    """Yield records (dicts), paths (str) and BadInput from a binary stream."""
    if null:
        yield from _read_null_paths(stream)
        return
    head = stream.peek(1)[:1] if hasattr(stream, "peek") else b""
    if head and _is_msgpack_map(head[0]):
        yield from _read_msgpack(stream)
    else:
        yield from _read_lines(stream)


def peek(items: Iterator) -> tuple[object | None, Iterator]:
    """The first item and an iterator that still yields it."""
    items = iter(items)
    for first in items:
        return first, itertools.chain([first], items)
    return None, iter(())


def _read_null_paths(stream: IO[bytes]) -> Iterator[str]:
    pending = b""
    while chunk := _read_some(stream):
        pending += chunk
        *done, pending = pending.split(b"\0")
        for raw in done:
            if raw:
                yield os.fsdecode(raw)
    if pending:
        yield os.fsdecode(pending)


def _read_lines(stream: IO[bytes]) -> Iterator[dict | str | BadInput]:
    number = 0
    while raw := stream.readline(MAX_RECORD + 1):
        number += 1
        if len(raw) > MAX_RECORD and not raw.endswith(b"\n"):
            _skip_line(stream)
            yield BadInput(_snippet(raw), f"input line {number} is longer than {MAX_RECORD >> 20} MiB")
            continue
        line = raw.rstrip(b"\n")
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            continue
        if line[:1] != b"{":
            yield os.fsdecode(line)
            continue
        try:
            record = _loads(line.decode("utf-8"))
        except RecursionError:
            yield BadInput(_snippet(line), f"input line {number} is nested too deep to be a record")
            continue
        except ValueError as exc:
            yield BadInput(_snippet(line), f"malformed JSON record on input line {number}: {exc}")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("type"), str):
            yield BadInput(_snippet(line), f"input line {number} is not a record (a map with a 'type')")
            continue
        # JSON holds plain values only; a line with few brackets cannot nest deep either.
        yield _checked(record, plain=line.count(b"[") + line.count(b"{") > shapes.MAX_DEPTH)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a record may hold")


_loads = json.JSONDecoder(parse_constant=_refuse_constant).decode


def _skip_line(stream: IO[bytes]) -> None:
    while chunk := stream.readline(1 << 20):
        if chunk.endswith(b"\n"):
            return


def _read_msgpack(stream: IO[bytes]) -> Iterator[dict | BadInput]:
    source = _Read1(stream)
    unpacker = msgpack.Unpacker(
        source, raw=False, unicode_errors="surrogateescape", strict_map_key=False, max_buffer_size=MAX_RECORD
    )
    number = 0
    try:
        for record in unpacker:
            number += 1
            if not isinstance(record, dict) or not isinstance(record.get("type"), str):
                yield BadInput(
                    f"msgpack object {number}", f"msgpack object {number} is not a record (a map with a 'type')"
                )
                continue
            yield _checked(record)
    except (ValueError, msgpack.UnpackException) as exc:
        # msgpack cannot resynchronise after garbage: report it and end the input here.
        yield BadInput(f"msgpack object {number + 1}", f"malformed msgpack after object {number}: {exc}")
        return
    if source.total > unpacker.tell():
        # A cut connection (an ssh link of a parallel run that dropped) ends mid-record.
        yield BadInput(
            f"msgpack object {number + 1}",
            f"the msgpack stream ends in the middle of object "
            f"{number + 1} ({source.total - unpacker.tell()} bytes of it): input cut short",
        )


def _checked(record: dict, plain: bool = True) -> dict | BadInput:
    why = shapes.problem(record, plain)
    return record if why is None else BadInput(shapes.label(record), why)


def _read_some(stream: IO[bytes], size: int = 65536) -> bytes:
    # read() on a pipe waits for `size` bytes; read1() returns what has arrived, so records stream.
    return stream.read1(size) if hasattr(stream, "read1") else stream.read(size)


class _Read1:
    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.total = 0

    def read(self, size: int = 65536) -> bytes:
        data = _read_some(self.stream, size)
        self.total += len(data)
        return data


def _snippet(line: bytes, limit: int = 80) -> str:
    text = line.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "..."


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot encode {type(value).__name__} in a record")


def msgpack_default(value: Any) -> Any:
    if hasattr(value, "astype") and hasattr(value, "tobytes"):
        return value.astype("<f4").tobytes()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__} in a record")


_encode_json = json.JSONEncoder(separators=(",", ":"), default=_json_default).encode
_pack = msgpack.Packer(default=msgpack_default, unicode_errors="surrogateescape").pack


def encode_record(record: dict, fmt: str) -> bytes:
    vector = record.get("vector")
    if fmt == "msgpack":
        if isinstance(vector, list):  # read as JSON: msgpack carries vectors as float32 bytes
            record = {**record, "vector": _float32_bytes(vector)}
        return _pack(record)
    if isinstance(vector, (bytes, bytearray, memoryview)):  # read as msgpack: JSON carries a float list
        record = {**record, "vector": _float32_list(vector)}
    return _encode_json(record).encode() + b"\n"


def _float32_bytes(values: list) -> bytes:
    # The array module rather than numpy, which would add its import time to every tool's start.
    packed = array.array("f", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def _float32_list(data: bytes | bytearray | memoryview) -> list[float]:
    unpacked = array.array("f")
    unpacked.frombytes(bytes(data))
    if sys.byteorder == "big":
        unpacked.byteswap()
    return unpacked.tolist()


def as_bytes(value: bytes | str) -> bytes:
    """Bytes carried in a record: raw in msgpack, base64 text in JSON."""
    return base64.b64decode(value) if isinstance(value, str) else bytes(value)


class RecordWriter:
    """Buffers encoded records and flushes by size or age, and always on close."""

    def __init__(self, stream: IO[bytes], fmt: str = "json", max_delay: float = 0.25):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        self.stream = stream
        self.fmt = fmt
        self.max_delay = max_delay
        self._buffer: list[bytes] = []
        self._size = 0
        self._last_flush = time.monotonic()

    def write(self, record: dict) -> None:
        data = encode_record(record, self.fmt)
        self._buffer.append(data)
        self._size += len(data)
        if self._size >= 65536 or time.monotonic() - self._last_flush >= self.max_delay:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self.stream.write(b"".join(self._buffer))
            self._buffer.clear()
            self._size = 0
        self.stream.flush()
        self._last_flush = time.monotonic()


class Emitter:
    """Where a core function sends its records, and how failures are counted.

    A failure is an error record on stdout plus one line on stderr. Error records passed through
    from upstream count too (without a second stderr line), so the last tool of a pipeline exits
    non-zero when any stage failed. `write` is a RecordWriter's write, or `list.append` in Python.
    """

    def __init__(self, write: Callable[[dict], None]):
        self.write = write
        self.failures = 0
        self.written = 0

    def emit(self, record: dict) -> None:
        if record.get("type") == "error":
            self.failures += 1
        self.write(record)
        self.written += 1

    def fail(self, input: str, stage: str, reason: str, kind: str = "failed", **extra: Any) -> None:
        logger.error("%s: %s", input, reason)
        self.emit(error_record(input, stage, reason, kind, **extra))

    def bad_input(self, bad: BadInput) -> None:
        self.fail(bad.input, "input", bad.reason, "malformed-input")
