"""rx-export's core: XMP sidecars of a dataset's faces, for digiKam, Lightroom and darktable.

For each photo with faces to write (named ones; unnamed too when asked), one sidecar per original
path, holding MWG face regions (xmp.py, regions.py), named by a convention of sidecars.py:

    into a folder  FOLDER/<the original's path below the deepest folder holding every photo
                   exported>.xmp: photos from one folder land flat in FOLDER, and copying
                   FOLDER's tree over theirs puts each sidecar beside its photo
    beside         the original's own folder, only where the original is still there

A sidecar that exists is never replaced unasked: it is an error record (`sidecar-exists`), unless
`merge`, which keeps everything the sidecar holds but its face regions that a face of recops
covers (intersection over union at least SAME_REGION): those it replaces, the others stay. New
sidecars are created 0600 (they name people); a merged one keeps its mode. Every write is atomic
and follows no link.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from dataclasses import dataclass
from typing import Iterable

from . import regions, xmp
from .deletions import Deletions
from .errors import InputError, UsageError
from .faces import Detections, FaceCatalog
from .identities import IdentityView
from .images import ImageCatalog
from .outputs import private_folders
from .photometa import clean_text
from .records import timestamp, warning_record
from .sidecars import CONVENTIONS, sidecar_name
from .store.dataset import Dataset
from .store.tree import ForeignEntry, Tree
from .stream import BadInput, Emitter

logger = logging.getLogger("recops")
STAGE = "export"
SAME_REGION = 0.5
"""A region of the sidecar that a face of recops overlaps this much is that face's, and gives way."""


@dataclass(frozen=True)
class SidecarOptions:
    folder: str | None = None
    """Write into this folder; None: beside the originals."""
    convention: str = "digikam"
    unnamed: bool = False
    merge: bool = False


def export_sidecars(
    dataset: Dataset, options: SidecarOptions, out: Emitter, chosen: Iterable[str] | None = None
) -> int:
    """Write the sidecars of the images `chosen` (ids; None: every image); returns how many."""
    if options.convention not in CONVENTIONS:
        raise UsageError(f"unknown convention {options.convention!r}; choose from {', '.join(CONVENTIONS)}")
    plans = list(_plans(dataset, options.unnamed, None if chosen is None else set(chosen)))
    writer = _Writer(options, out, [path for plan in plans for path in plan[0]["paths"]])
    try:
        for image, faces in plans:
            width, height = regions.stored_size(image["width"], image["height"], image.get("orientation", 1))
            areas = [(name, _area(box, image)) for name, box in faces]
            for path in image["paths"]:
                writer.write(image["id"], path, areas, width, height)
    finally:
        writer.close()
    logger.info("%d sidecars written", writer.written)
    return writer.written


def _plans(dataset: Dataset, unnamed: bool, chosen: set[str] | None) -> Iterable[tuple[dict, list]]:
    """(image, [(name or None, box)]) for each live image with faces to write, in catalog order."""
    deletions = Deletions.of(dataset)
    latest = Detections.of(dataset).latest
    faces = FaceCatalog.of(dataset)
    view = IdentityView.of(dataset)
    for image in ImageCatalog.of(dataset):
        id = image["id"]
        if (chosen is not None and id not in chosen) or deletions.hides(image=id) or id not in latest:
            continue
        if not image.get("width") or not image.get("height") or not image.get("paths"):
            continue
        found = []
        for face in sorted(filter(None, map(faces.get, latest[id].get("faces", ()))), key=lambda f: f.get("index", 0)):
            if deletions.hides(face["id"], id) or face.get("page"):  # a region is of the first picture
                continue
            identity = view.identity_of(face["id"])
            if identity or unnamed:
                found.append((_name(identity) if identity else None, face["box"]))
        if found:
            yield image, found


def _name(identity: dict) -> str | None:
    """An identity's name as XML can hold it (a name is typed by anyone: no control characters)."""
    return clean_text(str(identity.get("name", "")).encode("utf-8", "replace").decode("utf-8"), regions.MAX_NAME)


def _area(box: list[float], image: dict) -> regions.Area:
    width, height = image["width"], image["height"]
    clipped = (max(0.0, box[0]), max(0.0, box[1]), min(float(width), box[2]), min(float(height), box[3]))
    return regions.to_area(clipped, width, height, image.get("orientation", 1))


class _Writer:
    def __init__(self, options: SidecarOptions, out: Emitter, paths: list[str]):
        self.options = options
        self.out = out
        self.written = 0
        self._trees: dict[str, Tree] = {}
        self._common = _common_folder(paths) if options.folder else ""
        if options.folder:
            private_folders(options.folder)
            self.options = dataclasses.replace(options, folder=os.path.abspath(options.folder))

    def write(self, image: str, path: str, areas: list, width: int, height: int) -> None:
        folder, filename = os.path.split(os.path.abspath(path))
        name = sidecar_name(filename, self.options.convention)
        if self.options.folder:
            tree, rel = self._tree(self.options.folder), os.path.relpath(os.path.join(folder, name), self._common)
        else:
            tree, rel = self._tree(folder), name
            original = _lstat(tree, filename)
            if original is None or not stat.S_ISREG(original.st_mode):
                reason = f"the original {path} is not there (or is no file): no sidecar beside it"
                logger.warning("%s: %s", image, reason)
                self.out.emit(warning_record(path, STAGE, reason, "missing"))
                return
        shown = tree.path(rel)
        try:
            self._put(tree, rel, shown, areas, width, height, image)
        except InputError as exc:
            self.out.fail(shown, STAGE, exc.reason, exc.kind, image=image)
        except (OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, ForeignEntry) else getattr(exc, "strerror", None) or str(exc)
            self.out.fail(shown, STAGE, f"cannot write the sidecar: {reason}", "unwritable", image=image)

    def _put(self, tree: Tree, rel: str, shown: str, areas: list, width: int, height: int, image: str) -> None:
        existing = _lstat(tree, rel)
        mode, old = 0o600, None
        if existing is not None:
            if not self.options.merge:
                raise InputError("sidecar-exists", "a sidecar exists: --merge adds recops's faces to it")
            old, mode = tree.read(rel, xmp.MAX_XMP), existing.st_mode & 0o777
        ours = [_corners(area) for _, area in areas]

        def keep(entry: dict) -> bool:
            area = regions.area_of(entry)
            return area is None or all(regions.overlap(_corners(area), box) < SAME_REGION for box in ours)

        data = xmp.with_regions(areas, width, height, old, keep)
        if data != old:
            tree.write(rel, data, mode)
        self.written += 1
        record = {"type": "sidecar", "image": image, "file": shown, "faces": len(areas), "merged": old is not None}
        self.out.emit(record | {"unchanged": data == old, "ts": timestamp()})

    def _tree(self, folder: str) -> Tree:
        if folder not in self._trees:
            self._trees[folder] = Tree(folder)
        return self._trees[folder]

    def close(self) -> None:
        for tree in self._trees.values():
            tree.close()


def _corners(area: regions.Area) -> regions.Box:
    x, y, w, h = area
    return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)


def _lstat(tree: Tree, rel: str) -> os.stat_result | None:
    try:
        return tree.lstat(rel)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _common_folder(paths: list[str]) -> str:
    folders = [os.path.dirname(os.path.abspath(p)) for p in paths]
    return os.path.commonpath(folders) if folders else "/"


def chosen_images(items: Iterable, out: Emitter) -> list[str]:
    """The images a stream names: image records, and the images of face records; error records
    go on (they count), malformed input is an error, other records are left."""
    chosen: dict[str, None] = {}
    for item in items:
        if isinstance(item, BadInput):
            out.bad_input(item)
        elif isinstance(item, dict) and item.get("type") == "error":
            out.emit(item)
        elif isinstance(item, dict) and item.get("type") in ("image", "face"):
            chosen[item["id"] if item["type"] == "image" else item["image"]] = None
        elif isinstance(item, str):
            reason = "not a record: give rx-export image or face records (rx-ls images ...)"
            out.fail(item, STAGE, reason, "not-a-record")
    return list(chosen)
