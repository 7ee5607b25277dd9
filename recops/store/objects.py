"""Image bytes stored once, named by their xxh3-128 and fanned out by the first two hex digits."""

from __future__ import annotations

import os
import re
import stat
import time
from typing import Iterator

import xxhash

from ..errors import InputError
from .tree import ForeignEntry, GiB, Tree

ID_RE = re.compile(r"^[0-9a-f]{32}$")
FAN_RE = re.compile(r"^[0-9a-f]{2}$")
FOLDER = "objects"
MAX_OBJECT = 4 * GiB
"""No photo comes near it, a video of a few hours does; a file named like an object and larger is
refused, not read."""


def is_id(value: object) -> bool:
    return isinstance(value, str) and ID_RE.match(value) is not None


def content_id(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


class TooSlow(Exception):
    """A file took longer to read than its time limit allows (a stalled disk or mount)."""


def hash_fd(fd: int, chunk: int = 1 << 20, seconds: float | None = None) -> str:
    """xxh3-128 of an open file, read in chunks; stops with TooSlow past `seconds`."""
    hasher = xxhash.xxh3_128()
    deadline = None if seconds is None else time.monotonic() + seconds
    with os.fdopen(fd, "rb", closefd=False) as handle:
        while block := handle.read(chunk):
            hasher.update(block)
            if deadline is not None and time.monotonic() > deadline:
                raise TooSlow(f"still reading after {seconds:g} s")
    return hasher.hexdigest()


def file_id(path: str, chunk: int = 1 << 20) -> str:
    """Hash a file (one the user named) without holding all of it in memory."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return hash_fd(fd, chunk)
    finally:
        os.close(fd)


def _blocks(fd: int, id: str, chunk: int) -> Iterator[bytes]:
    hasher = xxhash.xxh3_128()
    offset = 0
    while block := os.pread(fd, chunk, offset):
        hasher.update(block)
        offset += len(block)
        yield block
    if hasher.hexdigest() != id:
        raise InputError("changed", "the file changed while it was read: import it again")


class ObjectStore:
    def __init__(self, tree: Tree):
        self.tree = tree

    @staticmethod
    def rel(id: str) -> str:
        if not is_id(id):  # an id is never a path: "../x" cannot name a file here
            raise ValueError(f"not an object id: {id!r}")
        return f"{FOLDER}/{id[:2]}/{id[2:]}"

    def path(self, id: str) -> str:
        """Where the object lies, for messages and for the user's own tools (rx-ls --paths)."""
        return self.tree.path(self.rel(id))

    def has(self, id: str) -> bool:
        info = self.tree.lstat(self.rel(id))
        return info is not None and stat.S_ISREG(info.st_mode)

    def put(self, id: str, data: bytes) -> bool:
        """Store `data` under its id; False when it was already there (nothing written). A link or
        a damaged file under the id's name is replaced by the real bytes, never written through."""
        info = self.tree.lstat(self.rel(id))
        if info is not None and stat.S_ISREG(info.st_mode) and info.st_size == len(data):
            return False
        self.tree.write(self.rel(id), data, mode=0o400)
        return True

    def put_file(self, id: str, fd: int, size: int, chunk: int = 1 << 20) -> bool:
        """put() for a file too large to hold (a video): copied from `fd` in blocks and hashed on the
        way; bytes that no longer hash to `id` (the file changed since) are not stored."""
        info = self.tree.lstat(self.rel(id))
        if info is not None and stat.S_ISREG(info.st_mode) and info.st_size == size:
            return False
        self.tree.write(self.rel(id), _blocks(fd, id, chunk), mode=0o400)
        return True

    def read(self, id: str) -> bytes:
        return self.tree.read(self.rel(id), MAX_OBJECT)

    def open(self, id: str) -> int:
        """A descriptor of the object's file; the caller closes it."""
        return self.tree.open(self.rel(id), MAX_OBJECT)

    def remove(self, id: str) -> int:
        """Unlink the object; returns the bytes freed."""
        info = self.tree.lstat(self.rel(id))
        self.tree.remove(self.rel(id))
        return info.st_size if info is not None and stat.S_ISREG(info.st_mode) else 0

    def ids(self) -> Iterator[str]:
        """Every stored id, in order: regular files with an object's name in a real fan folder
        (rx-fsck reports everything else)."""
        for fan in self.tree.entries(FOLDER):
            if not (fan.is_folder and FAN_RE.match(fan.name)):
                continue
            try:
                entries = self.tree.entries(f"{FOLDER}/{fan.name}")
            except ForeignEntry:
                continue
            for entry in entries:
                if entry.is_file and ID_RE.match(fan.name + entry.name):
                    yield fan.name + entry.name
