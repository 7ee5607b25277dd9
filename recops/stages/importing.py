"""rx-import's core: validate image files, store their bytes once, record where they came from."""

from __future__ import annotations

import logging
import os
import stat
from typing import Iterable

from .. import images, photometa, regions, sidecars, video
from ..errors import InputError
from ..imageinfo import DEFAULT_MAX_PIXELS, HEAD, ImageInfo, inspect, open_image, sniff, unbounded
from ..inputs import walk_files
from ..logs import IMAGES
from ..records import image_record, timestamp, warning_record
from ..state import state_of
from ..store.dataset import Dataset, is_dataset
from ..store.objects import content_id
from ..store.pathcache import PathCache
from ..store.tree import ForeignEntry
from ..stream import BadInput, Emitter, as_bytes
from .base import records

logger = logging.getLogger("recops")
STAGE = "import"


def absolute(path: str) -> str:
    # abspath normalises every path; those from find(1) are mostly normal already, and this
    # loop runs once per file of a re-import that should cost little more than hashing.
    if path[:1] == "/" and "//" not in path and "/." not in path and not path.endswith("/"):
        return path
    return os.path.abspath(path)


def stat_image_file(path: str) -> os.stat_result:
    """The stat of a regular file; raises InputError naming what else the path is."""
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
    return info


def read_image_file(path: str) -> bytes:
    """The bytes of a file, or only its first bytes when they show it is no image recops reads
    (a video or an archive is refused before gigabytes of it are read)."""
    try:
        with open(path, "rb", buffering=0) as handle:
            head = handle.read(HEAD)
            if head and sniff(head) is None:
                return head
            handle.seek(0)  # one read into one buffer: a large photo is held once, not twice
            return handle.readall()
    except OSError as exc:
        raise InputError("unreadable", f"cannot read: {exc.strerror or exc}") from None


def describe(data, max_pixels: int) -> tuple[ImageInfo, dict]:
    """What a file's bytes (or a video.files.VideoFile) hold, and the fields its image record has
    beyond a photo's (a video's duration, fps and codec)."""
    if isinstance(data, (bytes, bytearray)) and not video.sniff(data[: video.containers.HEAD]):
        try:
            return inspect(data, max_pixels), {}
        except InputError as exc:
            if exc.kind != "not-an-image":
                raise
            reason = exc.reason.replace("not an image recops", "not an image or video recops", 1)
            raise InputError(exc.kind, reason.replace("): ", "; MP4, MOV, 3GP, MKV, WebM or AVI video): ", 1)) from None
    info = video.probe(data, max_pixels) if isinstance(data, (bytes, bytearray)) else data.describe(max_pixels)
    return ImageInfo(info.media_type, info.width, info.height), info.fields()


class Importer:
    """Imports into `dataset`, or, with none, only checks and describes images (a pure filter).

    Use it as a context manager: leaving it saves what it learnt about unchanged files.
    """

    def __init__(
        self,
        dataset: Dataset | None,
        emitter: Emitter,
        consent: bool | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        inline: bool = False,
        rehash: bool = False,
        query: bool = False,
    ):
        self.dataset = dataset
        self.emitter = emitter
        self.consent = consent
        self.max_pixels = max_pixels
        self.inline = inline
        self.query = query
        self._own = images.ImageCatalog() if dataset is None else None
        self.paths = PathCache(dataset.tree) if dataset and not rehash else None
        self.sidecars = sidecars.Finder()
        self.new = 0
        self.known = 0

    @property
    def catalog(self) -> images.ImageCatalog:
        """The dataset's images (shared with every view of this process), or this filter's own."""
        return self._own if self._own is not None else images.ImageCatalog.of(self.dataset)

    def __enter__(self) -> "Importer":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.paths:
            self.paths.save()

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
        for record in records(items, self.emitter, self._path):
            if record.get("type") == "image" and ("data" in record or record.get("paths")):
                self.add_record(record)
            else:
                self.emitter.emit(record)

    def _path(self, path: str) -> tuple:
        self.add_path(path)
        return ()

    def add_path(self, path: str) -> None:
        if sidecars.is_sidecar(path):
            logger.info("%s: an XMP sidecar, read with its photo", path)
            return
        full = absolute(path)
        try:
            info = stat_image_file(path)
            sidecar = self._sidecar(full)
            if self.paths:
                id = self.paths.lookup(full, info)
                if id is not None and self._known(id, [full], self.consent, source=full, sidecar=sidecar):
                    return
            id = self._add_file(path, [full], self.consent, source=full, sidecar=sidecar)
            if self.paths:
                self.paths.remember(full, info, id)
        except InputError as exc:
            self.emitter.fail(path, STAGE, exc.reason, exc.kind)

    def add_record(self, record: dict) -> None:
        """An image record from upstream: its inline bytes, else the first of its paths."""
        paths = list(record.get("paths") or [])
        label = record.get("id") or (paths[0] if paths else "image record")
        consent = self.consent if self.consent is not None else record.get("consent")
        try:
            sidecar = None
            if "data" in record:
                data = as_bytes(record["data"])
            elif not paths:
                raise InputError("no-pixels", "an image record from elsewhere needs its bytes (data) or a path")
            else:
                stat_image_file(paths[0])
                sidecar = self._sidecar(paths[0])
                self._add_file(paths[0], paths, consent, source=record.get("path"), sidecar=sidecar)
                return
            self._add(data, paths, consent, source=record.get("path"))
        except InputError as exc:
            self.emitter.fail(label, STAGE, exc.reason, exc.kind)
        except (ValueError, TypeError) as exc:
            self.emitter.fail(label, STAGE, f"invalid inline image data: {exc}", "malformed-input")

    def _known(
        self,
        id: str,
        paths: list[str],
        consent: bool | None,
        data: object = None,
        source: str | None = None,
        sidecar: regions.Found | None = None,
    ) -> bool:
        """Emit the image if the catalog already says all there is to say; else False."""
        if not self.catalog.states(id, paths, consent, self.query) or self._regions_change(id, sidecar):
            return False
        self.known += 1
        self._emit(id, data, source)
        return True

    def _add_file(
        self,
        path: str,
        paths: list[str],
        consent: bool | None,
        source: str | None = None,
        sidecar: regions.Found | None = None,
    ) -> str:
        """A photo is read whole; a video only hashed, probed and copied in blocks."""
        data = read_image_file(path)
        if not video.sniff(data):
            return self._add(data, paths, consent, source, sidecar)
        from ..video.files import VideoFile

        with VideoFile(path) as file:
            return self._add(file, paths, consent, source)

    def _add(
        self,
        data,
        paths: list[str],
        consent: bool | None,
        source: str | None = None,
        sidecar: regions.Found | None = None,
    ) -> str:
        """Store bytes, or a video.files.VideoFile, unless the dataset has them already."""
        whole = isinstance(data, (bytes, bytearray))
        id = content_id(data) if whole else data.id
        if self._known(id, paths, consent, data, source, sidecar):
            return id
        current = self.catalog.get(id)
        if current is None:
            info, more = describe(data, self.max_pixels)
            described = (
                self._described(id, data, info, sidecar, source) if info.media_type not in video.MEDIA_TYPES else {}
            )
            if self.dataset:
                try:
                    self.dataset.objects.put(id, data) if whole else data.store(self.dataset.objects)
                except ForeignEntry as exc:
                    raise InputError(exc.kind, f"cannot store it: {exc} (run rx-fsck)") from None
            self._store(
                image_record(
                    id,
                    len(data) if whole else data.size,
                    info.media_type,
                    info.width,
                    info.height,
                    paths,
                    bool(consent),
                    info.orientation,
                    query=self.query,
                    pages=info.pages,
                    video=more,
                )
                | described
            )
            self.new += 1
        else:
            record = {k: v for k, v in current.items() if k not in ("paths", "consent", "ts", "query")}
            record.update(paths=[p for p in paths if p not in current["paths"]], ts=timestamp())
            if self.query:
                record["query"] = True
            if consent is not None and consent != current["consent"]:
                record["consent"] = consent
            if self._regions_change(id, sidecar):
                record.update(regions=self._boxes(current, sidecar), regions_source="sidecar")
            self._store(record)
            self.known += 1
        self._emit(id, data, source)
        return id

    def _sidecar(self, path: str) -> regions.Found | None:
        """The face regions the photo's XMP sidecar states; None when there is none, or it
        states none, or it cannot be read (a warning: the photo is imported all the same)."""
        try:
            found = self.sidecars.find(path)
        except InputError as exc:
            logger.warning("%s: %s", path, exc.reason)
            self.emitter.emit(warning_record(path, STAGE, exc.reason, exc.kind))
            return None
        return found[1] if found else None

    def _described(self, id: str, data: bytes, info, sidecar: regions.Found | None, source: str | None) -> dict:
        """What a new image's EXIF says (photometa.py), and its face regions: its sidecar's, else
        those of the XMP inside it (a broken one is a warning; the photo is imported)."""
        found, where = sidecar, "sidecar"
        with unbounded(), open_image(data, info.media_type) as image:  # inspect() opened it: it opens
            fields = photometa.describe(image)
            if found is None:
                where = "embedded"
                try:
                    found = regions.embedded(image)
                except InputError as exc:
                    reason = f"the XMP inside the photo: {exc.reason}"
                    logger.warning("%s: %s", source or id, reason)
                    self.emitter.emit(warning_record(source or id, STAGE, reason, exc.kind))
        boxes = found.boxes(info.width, info.height, info.orientation) if found else []
        return fields | ({"regions": boxes, "regions_source": where} if boxes or sidecar else {})

    @staticmethod
    def _boxes(image: dict, found: regions.Found) -> list[dict]:
        return found.boxes(image.get("width") or 0, image.get("height") or 0, image.get("orientation", 1))

    def _regions_change(self, id: str, sidecar: regions.Found | None) -> bool:
        """Whether a sidecar states other regions than the dataset holds for a known image."""
        if sidecar is None:
            return False
        current = self.catalog.get(id)
        return current is not None and current.get("regions") != self._boxes(current, sidecar)

    def _store(self, record: dict) -> None:
        if self.dataset:
            state_of(self.dataset).append(IMAGES, record)
        else:
            self.catalog.add(dict(record))

    def _emit(self, id: str, data: object = None, source: str | None = None) -> None:
        """The image record; `path` names the file this run read it from (paths holds every one seen).
        `data`: the bytes (or the VideoFile) at hand, for --inline."""
        view = self.catalog.get(id, dataset=self.dataset.root) if self.dataset else self.catalog.get(id)
        if source:
            view["path"] = source
        if self.inline:
            if data is None:
                data = self.dataset.objects.read(id)
            view["data"] = data if isinstance(data, (bytes, bytearray)) else data.read()
        self.emitter.emit(view)
