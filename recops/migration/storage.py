"""The original's storage folder (STORAGE_URI), read and never written.

A path in the database is outside input: it must be relative, of plain names (no `..`, no empty
part, no NUL), and it is opened folder by folder from the storage root without following a link
(store/tree.py), as a regular file of at most an object's size.
"""

from __future__ import annotations

import os

from ..errors import InputError, UsageError
from ..store.objects import MAX_OBJECT
from ..store.tree import ForeignEntry, Tree


def checked_path(path: object) -> str:
    """`path` when it names a file inside the storage folder; InputError ("unsafe-path") otherwise."""
    if not isinstance(path, str) or not path:
        raise InputError("unsafe-path", "its path is empty")
    if "\0" in path:
        raise InputError("unsafe-path", "its path holds a NUL byte")
    if path.startswith("/"):
        raise InputError("unsafe-path", f"its path {path!r} is absolute: only paths inside the storage folder are read")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise InputError("unsafe-path", f"its path {path!r} has an empty, '.' or '..' part: it could lead elsewhere")
    return path


class Storage:
    def __init__(self, root: str):
        if not os.path.isdir(root):
            raise UsageError(f"{root}: no such storage folder (give the original's STORAGE_URI or its folder)")
        self.root = os.path.abspath(root)
        self.root_real = os.path.realpath(root)
        self._tree = Tree(self.root)

    def full_path(self, path: str) -> str:
        return self._tree.path(path)

    def read(self, path: object) -> bytes:
        """The bytes of the file the database names; InputError for a path or file that is not to be read."""
        rel = checked_path(path)
        try:
            return self._tree.read(rel, MAX_OBJECT)
        except ForeignEntry as exc:
            reason = {
                "symlink": "a symbolic link: migrate follows no link in the storage folder",
                "special-file": "not a regular file: migrate reads regular files only",
            }.get(exc.kind, exc.reason)
            raise InputError(exc.kind, f"{self.full_path(rel)}: {reason}") from None
        except FileNotFoundError:
            raise InputError("missing", f"{self.full_path(rel)}: no such file in the storage folder") from None
        except OSError as exc:
            raise InputError("unreadable", f"{self.full_path(rel)}: cannot read: {exc.strerror or exc}") from None

    def close(self) -> None:
        self._tree.close()
