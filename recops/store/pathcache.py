"""Which content id a file had when last seen, so an unchanged file is not read again (git's index).

A file counts as unchanged while its size, modification and change times, inode and device are
the same. A file changed within two seconds of being hashed is not remembered, so a write that
lands in the same timestamp tick as the hash is never mistaken for no change. This is derived
data: deleting it costs one full re-hash, nothing else.
"""

from __future__ import annotations

import os
import time

import msgpack

from .objects import is_id
from .tree import GiB, Tree

NAME = "cache/paths.msgpack"
_RACY_NS = 2_000_000_000


def _key(info: os.stat_result) -> tuple:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


class PathCache:
    def __init__(self, tree: Tree):
        self.tree = tree
        self._entries: dict[str, tuple] = {}
        self._changed = False
        try:
            loaded = msgpack.unpackb(tree.read(NAME, GiB), raw=False, use_list=False, unicode_errors="surrogateescape")
            if isinstance(loaded, dict):
                self._entries = loaded
        except (OSError, ValueError, msgpack.UnpackException):
            pass  # missing, damaged or not a plain file: start empty, the next save replaces it

    def lookup(self, path: str, info: os.stat_result) -> str | None:
        entry = self._entries.get(path)
        if isinstance(entry, tuple) and len(entry) == 6 and entry[:5] == _key(info) and is_id(entry[5]):
            return entry[5]
        return None

    def remember(self, path: str, info: os.stat_result, id: str) -> None:
        if time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) < _RACY_NS:
            return
        self._entries[path] = (*_key(info), id)
        self._changed = True

    def save(self) -> None:
        if self._changed:
            data = msgpack.packb(self._entries, unicode_errors="surrogateescape")
            self.tree.write(NAME, data, mode=0o600, sync_dir=False)
            self._changed = False
