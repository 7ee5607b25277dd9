"""Crash-safe file creation: temp file in the target's directory, fsync, rename, fsync the directory."""

from __future__ import annotations

import errno
import os
from typing import Iterable

TEMP_PREFIX = ".tmp-"


def is_temp(name: str) -> bool:
    """Leftovers of an interrupted write: readers skip them, rx-gc removes them."""
    return name.startswith(TEMP_PREFIX)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes, mode: int = 0o400, sync_dir: bool = True) -> None:
    """Create `path` holding `data`, or leave no trace but a temp file; replaces an existing file.

    Readers see the old file or the new one, never a torn one. `mode` is applied before the
    rename, so an object is read-only the moment it has its name.
    """
    directory = os.path.dirname(path) or "."
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        write_at(fd, os.path.basename(path), data, mode, sync_dir, path)
    finally:
        os.close(fd)


def write_at(
    folder: int,
    name: str,
    data: bytes | Iterable[bytes],
    mode: int = 0o400,
    sync_dir: bool = True,
    shown: str | None = None,
) -> None:
    """write_atomic within an open folder: the temp file and the rename never leave it. `data` may
    come in blocks (a file too large to hold); one that raises leaves no file."""
    temp = TEMP_PREFIX + os.urandom(8).hex()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
    try:
        for block in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
            view = memoryview(block)
            while view:
                view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(temp, dir_fd=folder)
        raise
    os.close(fd)
    try:
        os.rename(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except IsADirectoryError:
        os.unlink(temp, dir_fd=folder)
        raise IsADirectoryError(errno.EISDIR, "a folder holds the name of the file to write", shown or name) from None
    if sync_dir:
        os.fsync(folder)
