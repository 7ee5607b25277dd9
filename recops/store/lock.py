"""The dataset lock: every operation holds it shared; only those that remove files hold it exclusive.

Appending never conflicts (new files with new names), so imports run side by side; rx-gc and
deletions must not pull a segment from under a reader, so they wait for everyone else.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat

from ..errors import DatasetError, LockedError
from .tree import ForeignEntry, Tree, describe

LOCK_NAME = "lock"


class DatasetLock:
    def __init__(self, tree: Tree, name: str = LOCK_NAME):
        self.tree = tree
        self.rel = name
        self.path = tree.path(name)
        self._fd: int | None = None

    def _open(self) -> int:
        """The lock file, created when missing; a link or special file under its name is refused
        (a `lock` link would otherwise create its target, a FIFO would block)."""
        parent, _, name = self.rel.rpartition("/")
        try:
            folder = self.tree.folder(parent, create=True)
            info = self.tree.lstat(self.rel)
            if info is not None and not stat.S_ISREG(info.st_mode):
                raise ForeignEntry(self.path, *describe(info.st_mode))
            fd = os.open(
                name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600, dir_fd=folder
            )
        except ForeignEntry as exc:
            raise DatasetError(f"{exc} (rx-fsck lists every such entry)") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise DatasetError(f"{self.path}: {describe(stat.S_IFLNK)[1]}") from None
            raise DatasetError(f"{self.path}: cannot open the lock: {exc.strerror or exc}") from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped in after the check
            os.close(fd)
            raise DatasetError(f"{self.path}: {describe(mode)[1]}")
        return fd

    def acquire(self, exclusive: bool = False, wait: bool = True) -> "DatasetLock":
        fd = self._open()
        flags = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            os.close(fd)
            raise LockedError(f"{self.path}: dataset is in use by another recops process (try --wait)") from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
