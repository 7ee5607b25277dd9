"""A video file as rx-import takes it: hashed, probed and stored in blocks, never held whole."""

from __future__ import annotations

import os

from ..errors import InputError
from ..store.objects import MAX_OBJECT, ObjectStore, hash_fd
from .info import VideoInfo, probe


class VideoFile:
    """An open video file; use it as a context manager. `id` is the hash of its bytes."""

    def __init__(self, path: str):
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise InputError("unreadable", f"cannot read: {exc.strerror or exc}") from None
        try:
            self.size = os.fstat(self.fd).st_size
            if self.size > MAX_OBJECT:
                raise InputError(
                    "too-large", f"{self.size:,} bytes, more than the {MAX_OBJECT >> 30} GiB a dataset object may hold"
                )
            self.id = hash_fd(self.fd)
        except BaseException:
            os.close(self.fd)
            raise

    def describe(self, max_pixels: int | None = None) -> VideoInfo:
        with os.fdopen(os.dup(self.fd), "rb") as handle:
            return probe(handle, max_pixels)

    def store(self, objects: ObjectStore) -> bool:
        return objects.put_file(self.id, self.fd, self.size)

    def read(self) -> bytes:
        """The whole file (for a record that carries its bytes)."""
        blocks = []
        offset = 0
        while block := os.pread(self.fd, 1 << 24, offset):  # one pread returns at most 2 GiB
            blocks.append(block)
            offset += len(block)
        return b"".join(blocks)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> "VideoFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
