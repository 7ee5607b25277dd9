"""Crash-safe file creation: temp file in the target's directory, fsync, rename, fsync the directory."""

from __future__ import annotations

import contextlib
import errno
import os
from typing import Iterator

from ..errors import UsageError

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


def write_at(folder: int, name: str, data: bytes, mode: int = 0o400, sync_dir: bool = True,
             shown: str | None = None) -> None:
    """write_atomic within an open folder: the temp file and the rename never leave it."""
    temp = TEMP_PREFIX + os.urandom(8).hex()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
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


@contextlib.contextmanager
def atomic_output(path: str, mode: int = 0o600) -> Iterator[str]:
    """A temp file's path to fill (a zip a library writes, say); on success it is synced and
    renamed to `path`, on failure removed. A folder that cannot take the file is the caller's
    mistake, told before any work."""
    directory = os.path.dirname(path) or "."
    temp = os.path.join(directory, TEMP_PREFIX + os.urandom(8).hex())
    try:
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise UsageError(f"{path}: cannot write there: {exc.strerror or exc}") from None
    try:
        yield temp
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    fsync_dir(directory)
