"""rx-import's core: validate image files, store their bytes once, record where they came from."""

from __future__ import annotations

import logging
import os
import stat
from typing import Iterable

from . import images
from .errors import InputError
from .imageinfo import DEFAULT_MAX_PIXELS, inspect, sniff
from .inputs import walk_files
from .records import image_record, timestamp
from .store.dataset import Dataset, is_dataset
from .store.objects import content_id
from .stream import BadInput, Emitter, as_bytes

log = logging.getLogger("recops")
STAGE = "import"


def read_image_file(path: str) -> bytes:
    """The bytes of a JPEG or PNG file; raises InputError naming what is wrong with the path."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError("dangling-symlink", f"dangling symlink (points to {os.readlink(path)})") from None
        raise InputError("missing", "no such file") from None
    except OSError as exc:
        raise InputError("unreadable", f"cannot stat: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError("is-a-directory", "is a directory (give folders as arguments to walk them)")
    if not stat.S_ISREG(info.st_mode):
        raise InputError("not-a-file", "not a regular file (a FIFO, socket or device)")
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
            # Refuse a video or archive by its first bytes, before reading gigabytes of it.
            if head and sniff(head) is None:
                return head
            return head + handle.read()
    except OSError as exc:
        raise InputError("unreadable", f"cannot read: {exc.strerror or exc}") from None


class Importer:
    """Imports into `dataset`, or, with none, only checks and describes images (a pure filter)."""

    def __init__(
        self,
        dataset: Dataset | None,
        emitter: Emitter,
        consent: bool | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        inline: bool = False,
    ):
        self.dataset = dataset
        self.emitter = emitter
        self.consent = consent
        self.max_pixels = max_pixels
        self.inline = inline
        self.catalog = images.ImageCatalog(dataset.log(images.LOG).records() if dataset else ())
        self.new = 0
        self.known = 0

    def add_arguments(self, paths: Iterable[str]) -> None:
        """Paths given on the command line: folders are walked, datasets inside them skipped."""
        for path in paths:
            if os.path.isdir(path):
                for found in walk_files(path, prune=is_dataset):
                    self.add_path(found)
            else:
                self.add_path(path)

    def add_items(self, items: Iterable[dict | str | BadInput]) -> None:
        """Items read from stdin: paths (a folder here is an error), records, malformed input."""
        for item in items:
            if isinstance(item, str):
                self.add_path(item)
            elif isinstance(item, BadInput):
                self.emitter.bad_input(item)
            elif item.get("type") == "image" and ("data" in item or item.get("paths")):
                self.add_record(item)
            else:
                self.emitter.emit(item)

    def add_path(self, path: str) -> None:
        try:
            data = read_image_file(path)
            self._add(data, [os.path.abspath(path)], self.consent)
        except InputError as exc:
            self.emitter.fail(path, STAGE, exc.reason, exc.kind)

    def add_record(self, record: dict) -> None:
        """An image record from upstream: its inline bytes, else the first of its paths."""
        paths = list(record.get("paths") or [])
        label = record.get("id") or (paths[0] if paths else "image record")
        consent = self.consent if self.consent is not None else record.get("consent")
        try:
            data = as_bytes(record["data"]) if "data" in record else read_image_file(paths[0])
            self._add(data, paths, consent)
        except InputError as exc:
            self.emitter.fail(label, STAGE, exc.reason, exc.kind)
        except (ValueError, TypeError) as exc:
            self.emitter.fail(label, STAGE, f"invalid inline image data: {exc}", "malformed-input")

    def _add(self, data: bytes, paths: list[str], consent: bool | None) -> None:
        id = content_id(data)
        current = self.catalog.get(id)
        if current is None:
            info = inspect(data, self.max_pixels)
            if self.dataset:
                self.dataset.objects.put(id, data)
            record = image_record(id, len(data), info.media_type, info.width, info.height, paths,
                                  bool(consent), info.orientation)
            self._store(record)
            self.new += 1
        else:
            new_paths = [p for p in paths if p not in current["paths"]]
            restates = consent is not None and consent != current["consent"]
            if new_paths or restates:
                record = {k: v for k, v in current.items() if k not in ("paths", "consent", "ts")}
                record.update(paths=new_paths, ts=timestamp())
                if restates:
                    record["consent"] = consent
                self._store(record)
            self.known += 1
        self._emit(self.catalog.get(id), data)

    def _store(self, record: dict) -> None:
        self.catalog.add(record)
        if self.dataset:
            self.dataset.log(images.LOG).append(record)

    def _emit(self, view: dict, data: bytes) -> None:
        if self.dataset:
            view["dataset"] = self.dataset.root
        if self.inline:
            view["data"] = data
        self.emitter.emit(view)
