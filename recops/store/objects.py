"""Image bytes stored once, named by their xxh3-128 and fanned out by the first two hex digits."""

from __future__ import annotations

import os
import re
from typing import Iterator

import xxhash

from .atomic import is_temp, write_atomic

ID_RE = re.compile(r"^[0-9a-f]{32}$")


def content_id(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def file_id(path: str, chunk: int = 1 << 20) -> str:
    """Hash a file without holding all of it in memory."""
    hasher = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            hasher.update(block)
    return hasher.hexdigest()


class ObjectStore:
    def __init__(self, root: str):
        self.root = root

    def path(self, id: str) -> str:
        return os.path.join(self.root, id[:2], id[2:])

    def has(self, id: str) -> bool:
        return os.path.exists(self.path(id))

    def put(self, id: str, data: bytes) -> bool:
        """Store `data` under its id; False when it was already there (nothing written)."""
        path = self.path(id)
        try:
            if os.stat(path).st_size == len(data):
                return False
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, data, mode=0o400)
        return True

    def read(self, id: str) -> bytes:
        with open(self.path(id), "rb") as handle:
            return handle.read()

    def ids(self) -> Iterator[str]:
        """Every stored id, in order; temp files and foreign names are not ids."""
        if not os.path.isdir(self.root):
            return
        for fan in sorted(os.listdir(self.root)):
            directory = os.path.join(self.root, fan)
            if len(fan) != 2 or not os.path.isdir(directory):
                continue
            for rest in sorted(os.listdir(directory)):
                if not is_temp(rest) and ID_RE.match(fan + rest):
                    yield fan + rest

    def strays(self) -> Iterator[str]:
        """Paths under objects/ that are not objects: temp files of interrupted writes, foreign files."""
        if not os.path.isdir(self.root):
            return
        for directory, subdirs, files in os.walk(self.root):
            subdirs.sort()
            for name in sorted(files):
                rel = os.path.relpath(os.path.join(directory, name), self.root)
                fan, _, rest = rel.partition(os.sep)
                if is_temp(name) or not ID_RE.match(fan + rest) or os.sep in rest:
                    yield os.path.join(directory, name)
