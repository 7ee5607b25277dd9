"""The dataset lock: every operation holds it shared; only those that remove files hold it exclusive.

Appending never conflicts (new files with new names), so imports run side by side; rx-gc and
deletions must not pull a segment from under a reader, so they wait for everyone else.
"""

from __future__ import annotations

import fcntl
import os

from ..errors import LockedError

LOCK_NAME = "lock"


class DatasetLock:
    def __init__(self, root: str):
        self.path = os.path.join(root, LOCK_NAME)
        self._fd: int | None = None

    def acquire(self, exclusive: bool = False, wait: bool = True) -> "DatasetLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
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
