"""How a dataset touches its own files: through real folders only, never a link, never a special file.

A synced or restored copy may hold anything under a name recops uses: a symbolic link to another
dataset's objects, a FIFO, a device, a sparse file of a terabyte. Every open here walks down from
the dataset's root one folder at a time with O_NOFOLLOW, so a link anywhere on the way is refused
rather than followed (a check of the path first would leave a window for a swap); a file is used
only when it is a regular file within the size limit of its kind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from dataclasses import dataclass
from typing import Iterable, Iterator

from .atomic import TEMP_PREFIX, fsync_dir, write_at

_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer for ever.
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

MiB = 1 << 20
GiB = 1 << 30


class ForeignEntry(OSError):
    """An entry of the dataset that recops will not use: a link, a special file, an oversized file,
    a file where a folder belongs. `kind` is a stable slug for error records."""

    def __init__(self, path: str, kind: str, reason: str):
        super().__init__(errno.EPERM, reason, path)
        self.path = path
        self.kind = kind
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

    def __reduce__(self):
        return type(self), (self.path, self.kind, self.reason)


def describe(mode: int) -> tuple[str, str]:
    """(kind, reason) for an entry that is neither a regular file nor a folder."""
    if stat.S_ISLNK(mode):
        return "symlink", "a symbolic link: recops follows no link inside a dataset (rm removes only the link)"
    what = (
        "a FIFO"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a special file"
    )
    return "special-file", f"{what}: recops opens no special file inside a dataset"


def oversized(path: str, size: int, limit: int) -> ForeignEntry:
    return ForeignEntry(path, "oversized", f"{size} bytes, more than the {_human(limit)} such a file may hold")


def _human(size: int) -> str:
    return f"{size / GiB:g} GiB" if size >= GiB else f"{size / MiB:g} MiB"


@dataclass(frozen=True)
class Entry:
    """One name in a folder, as lstat sees it (a link is a link, not what it points to)."""

    name: str
    mode: int
    size: int
    mtime: float

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_folder(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def hidden(self) -> bool:
        """Our own temp files and other programs' (rsync's `.name.XXXXXX`) start with a dot."""
        return self.name.startswith(".")


class Tree:
    """A dataset directory, touched only through real folders and regular files.

    `rel` paths are relative to the root with `/` between parts, spelled by recops itself (never
    taken from input). Folder handles are kept open while the tree is, so a folder is checked once
    and cannot be swapped for a link afterwards.
    """

    def __init__(self, root: str):
        self.root = root
        self._folders: dict[str, int] = {}
        self._guard = threading.RLock()

    def path(self, rel: str) -> str:
        """The entry's path, for messages (and for tools that are handed a path by the user)."""
        return os.path.join(self.root, *rel.split("/")) if rel else self.root

    def folder(self, rel: str, create: bool = False) -> int:
        """A handle on a folder of the tree (created 0700 when asked); refuses a link on the way."""
        held = self._folders.get(rel)
        if held is not None:
            return held
        with self._guard:
            held = self._folders.get(rel)
            if held is None:
                if rel:
                    parent, _, name = rel.rpartition("/")
                    held = self._open_folder(self.folder(parent, create), name, rel, create)
                else:
                    held = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                self._folders[rel] = held
            return held

    def _open_folder(self, parent: int, name: str, rel: str, create: bool) -> int:
        _check_part(name, rel)
        try:
            return os.open(name, _FOLDER, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise FileNotFoundError(errno.ENOENT, "no such folder", self.path(rel)) from None
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o700, dir_fd=parent)
            return self._open_folder(parent, name, rel, False)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
                if stat.S_ISREG(mode):
                    raise ForeignEntry(self.path(rel), "not-a-folder", "a file where recops keeps a folder") from None
                raise ForeignEntry(self.path(rel), *describe(mode)) from None
            raise

    def _split(self, rel: str) -> tuple[int, str]:
        parent, _, name = rel.rpartition("/")
        _check_part(name, rel)
        return self.folder(parent), name

    def lstat(self, rel: str) -> os.stat_result | None:
        """The entry itself (a link is not followed); None when it is not there."""
        try:
            folder, name = self._split(rel)
            return os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def open(self, rel: str, limit: int) -> int:
        """A descriptor of a regular file of at most `limit` bytes; the caller closes it."""
        folder, name = self._split(rel)
        try:
            fd = os.open(name, _FILE, dir_fd=folder)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise ForeignEntry(self.path(rel), *describe(stat.S_IFLNK)) from None
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise ForeignEntry(self.path(rel), "not-a-file", "a folder where recops keeps a file")
            if not stat.S_ISREG(info.st_mode):
                raise ForeignEntry(self.path(rel), *describe(info.st_mode))
            if info.st_size > limit:
                raise oversized(self.path(rel), info.st_size, limit)
            os.set_blocking(fd, True)
            return fd
        except BaseException:
            os.close(fd)
            raise

    @contextlib.contextmanager
    def opened(self, rel: str, limit: int) -> Iterator[int]:
        fd = self.open(rel, limit)
        try:
            yield fd
        finally:
            os.close(fd)

    def read(self, rel: str, limit: int) -> bytes:
        with self.opened(rel, limit) as fd, os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:  # grew after the check
            raise oversized(self.path(rel), len(data), limit)
        return data

    def write(self, rel: str, data: bytes | Iterable[bytes], mode: int = 0o400, sync_dir: bool = True) -> None:
        """Create or replace a file atomically (see atomic.write_at), its folders made as needed."""
        parent, _, name = rel.rpartition("/")
        _check_part(name, rel)
        write_at(self.folder(parent, create=True), name, data, mode, sync_dir, self.path(rel))

    def remove(self, rel: str) -> None:
        """Unlink the entry itself: a link goes, never what it points to."""
        folder, name = self._split(rel)
        os.unlink(name, dir_fd=folder)

    def rename(self, rel: str, new_name: str) -> None:
        """Rename within the entry's own folder."""
        folder, name = self._split(rel)
        os.rename(name, new_name, src_dir_fd=folder, dst_dir_fd=folder)

    def sync(self, rel: str) -> None:
        os.fsync(self.folder(rel))

    def entries(self, rel: str) -> list[Entry]:
        """The folder's entries in name order; an absent folder has none."""
        try:
            folder = self.folder(rel)
        except FileNotFoundError:
            return []
        found = []
        # A listing of its own: the kept handle's read position is shared by every thread.
        own = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=folder)
        try:
            with os.scandir(own) as scan:
                for item in scan:
                    try:
                        info = item.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    found.append(Entry(item.name, info.st_mode, info.st_size, info.st_mtime))
        finally:
            os.close(own)
        return sorted(found, key=lambda e: e.name)

    def fd_path(self, fd: int) -> str:
        """A path that names exactly this open file or folder, for a library that wants a path
        (Annoy maps its index by name): Linux's /proc/self/fd, which cannot be swapped."""
        return f"/proc/self/fd/{fd}"

    def close(self) -> None:
        with self._guard:
            for fd in self._folders.values():
                os.close(fd)
            self._folders.clear()


def _check_part(name: str, rel: str) -> None:
    if name in ("", ".", "..") or "\0" in name:
        raise ValueError(f"not a name inside a dataset: {rel!r}")


def temp_name() -> str:
    return TEMP_PREFIX + os.urandom(8).hex()


__all__ = ["Entry", "ForeignEntry", "GiB", "MiB", "Tree", "describe", "fsync_dir", "oversized", "temp_name"]
