"""Files the tools write for the user outside the dataset: records of recognitions, CSVs of
proposals, lists of imported objects, crops of clusters, copies of refused photos, backups and exports.

They hold faces, names and ids, which are biometric data: each file is created 0600 and each
folder 0700, whatever the umask (as reports are, and the dataset itself). A file that exists
already keeps its mode: it is the user's, and may be a pipe or a terminal.
"""

from __future__ import annotations

import contextlib
import os
from typing import IO, Iterator

from .errors import UsageError
from .store.atomic import TEMP_PREFIX, fsync_dir

_FLAGS = {"w": os.O_TRUNC, "a": os.O_APPEND}


def open_private(path: str, mode: str = "w", label: str = "-o", **kwargs) -> IO:
    """`open(path, mode)` for "w", "a", "wb" or "ab", a new file created 0600; a path that
    cannot be written is the user's mistake (UsageError, with the option's `label`)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | _FLAGS[mode[0]], 0o600)
    except OSError as exc:
        raise UsageError(f"{label} {path}: {exc.strerror or exc}") from None
    return os.fdopen(fd, mode, **kwargs)


def private_folders(path: str) -> None:
    """`os.makedirs(path, exist_ok=True)`, every folder it creates 0700 (makedirs gives its mode
    to the last folder only)."""
    missing = []
    folder = os.path.abspath(path)
    while not os.path.isdir(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)


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
