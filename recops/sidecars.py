"""XMP sidecars: the file beside a photo where photo tools keep what they know of it.

Two conventions name a sidecar after its photo `photo.jpg`:

    photo.jpg.xmp   digiKam, darktable, exiftool's `%f.%e.xmp`     (CONVENTIONS["digikam"])
    photo.xmp       Lightroom, Bridge, Capture One                 (CONVENTIONS["lightroom"])

Reading, the first that is there wins, in that order (and then the same names ending .XMP).
Importing, a file named *.xmp is no photo: it is passed over, and read with its photo.
A sidecar is outside data: it is opened without following a link, only when it is a regular file
of at most xmp.MAX_XMP bytes, and parsed by xmp.py.
"""

from __future__ import annotations

import os
from collections import OrderedDict

from . import regions, xmp
from .errors import InputError
from .store.tree import ForeignEntry, Tree

CONVENTIONS = {"digikam": "photo.jpg.xmp", "lightroom": "photo.xmp"}


def sidecar_name(filename: str, convention: str) -> str:
    """The sidecar's name for a photo's file name under a convention of CONVENTIONS."""
    if convention == "lightroom":
        stem, extension = os.path.splitext(filename)
        return (stem if extension and stem else filename) + ".xmp"
    return filename + ".xmp"


def is_sidecar(path: str) -> bool:
    """Whether a path names a sidecar (a walk of a tagged collection lists one beside each photo)."""
    return path[-4:].lower() == ".xmp"


def candidates(filename: str) -> list[str]:
    names = []
    for convention in CONVENTIONS:
        for case in (".xmp", ".XMP"):
            name = sidecar_name(filename, convention)[: -len(".xmp")] + case
            if name not in names:
                names.append(name)
    return names


class Finder:
    """Finds the sidecar beside a photo, listing each folder once: a walk meets a folder's photos
    together, and most folders hold no sidecar, so a photo without one costs no system call.
    A sidecar written into a folder after it was listed is seen by the next run."""

    def __init__(self, folders: int = 64):
        self._listed: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._folders = folders

    def find(self, path: str) -> tuple[str, regions.Found | None] | None:
        """The sidecar beside the photo at `path` and the face regions it states (None: it states
        none); None when there is no sidecar. InputError when one is there but cannot be read."""
        folder, filename = os.path.split(path)
        if not filename:
            return None
        there = self._sidecars_in(folder or ".")
        if not there:
            return None
        names = [name for name in candidates(filename) if name in there]
        return _read(folder, names) if names else None

    def _sidecars_in(self, folder: str) -> frozenset[str]:
        listed = self._listed.get(folder)
        if listed is None:
            listed = frozenset(_names(folder))
            self._listed[folder] = listed
            if len(self._listed) > self._folders:
                self._listed.popitem(last=False)
        else:
            self._listed.move_to_end(folder)
        return listed


def _names(folder: str) -> list[str]:
    try:
        tree = Tree(folder)
    except OSError:
        return []
    try:
        return [name for name in os.listdir(tree.folder("")) if is_sidecar(name)]
    except OSError:
        return []
    finally:
        tree.close()


def _read(folder: str, names: list[str]) -> tuple[str, regions.Found | None] | None:
    try:
        tree = Tree(folder or ".")
    except OSError:
        return None
    try:
        for name in names:
            try:
                info = tree.lstat(name)
            except OSError:
                return None
            if info is None:
                continue
            shown = os.path.join(folder, name)
            try:
                data = tree.read(name, xmp.MAX_XMP)
            except ForeignEntry as exc:
                raise InputError(exc.kind, f"sidecar {shown}: {exc.reason.split(':')[0]}, not read") from None
            except OSError as exc:
                raise InputError("unreadable", f"sidecar {shown}: {exc.strerror or exc}") from None
            try:
                return shown, regions.read(data)
            except xmp.XMPError as exc:
                raise InputError(exc.kind, f"sidecar {shown}: {exc.reason}") from None
        return None
    finally:
        tree.close()
