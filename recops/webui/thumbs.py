"""Thumbnails of faces and photos, kept as derived data under the dataset's cache/thumbs/.

    cache/thumbs/faces/<face id>.jpg     a face with a margin, at most FACE_SIDE pixels
    cache/thumbs/images/<image id>.jpg   a photo, upright, at most IMAGE_SIDE pixels
    cache/thumbs/views/<image id>.jpg    a photo as its page shows it, at most VIEW_SIDE pixels
    cache/thumbs/views/<image id>.p<N>.jpg   page N (counted from 0) of a multi-page image

Ids come from content (an image's bytes; a face's image and box), so a thumbnail never goes
stale; each is written atomically, so a reader never sees half of one. Deleting the folder costs
nothing but the time to make them again. Thumbnails of deleted faces and images are removed
(`prune`): a face a person deleted does not linger in a cache.
"""

from __future__ import annotations

import threading

from ..crops import crop, jpeg
from ..pixels import FIRST, Picture, face_pictures, fit, load_rgb, picture_size
from ..store.layout import CACHE
from ..store.objects import ObjectStore
from ..store.tree import ForeignEntry, MiB, Tree

FACE_SIDE = 160
IMAGE_SIDE = 360
VIEW_SIDE = 1400
DECODE_SIDE = 2400
"""Large photos are decoded at a reduced scale, no smaller than this: crops of small faces stay legible."""
KINDS = {"faces": FACE_SIDE, "images": IMAGE_SIDE, "views": VIEW_SIDE}
FOLDER = f"{CACHE}/thumbs"
MAX_THUMB = 16 * MiB


class Thumbnails:
    def __init__(self, root: str):
        self.root = root
        self.tree = Tree(root)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._sizes: dict[tuple[str, Picture], tuple[int, int]] = {}

    @staticmethod
    def rel(kind: str, id: str = "") -> str:
        return f"{FOLDER}/{kind}/{id}.jpg" if id else f"{FOLDER}/{kind}"

    def path(self, kind: str, id: str) -> str:
        return self.tree.path(self.rel(kind, id))

    def _cached(self, kind: str, id: str) -> bytes | None:
        try:
            return self.tree.read(self.rel(kind, id), MAX_THUMB)
        except FileNotFoundError:
            return None
        except ForeignEntry:  # derived data: made again, the odd file left to rx-fsck
            return None

    def _lock(self, image: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(image, threading.Lock())

    def face(self, face: dict, faces_of_image: list[dict]) -> bytes:
        """The face's thumbnail; made with those of every face of its picture, from one decode."""
        found = self._cached("faces", face["id"])
        if found is not None:
            return found
        with self._lock(face["image"]):
            found = self._cached("faces", face["id"])
            if found is not None:
                return found
            picture = Picture.of(face)
            mates = [f for f in {f["id"]: f for f in [*faces_of_image, face]}.values() if Picture.of(f) == picture]
            missing = [f for f in mates if self._cached("faces", f["id"]) is None]
            made = {}
            for indices, pixels, on in face_pictures(self._read(face["image"]), missing, max_side=DECODE_SIDE):
                for each, scaled in zip((missing[i] for i in indices), on):
                    made[each["id"]] = jpeg(crop(pixels, scaled["box"], max_side=FACE_SIDE), quality=85)
                    self._store("faces", each["id"], made[each["id"]])
            return made.get(face["id"]) or self._cached("faces", face["id"])

    def image(self, image: str, kind: str = "images", picture: Picture = FIRST) -> bytes:
        """The photo (one picture of it), upright, scaled down to the kind's size."""
        name = image + "".join(f".p{v}" for v in picture.fields.values())
        found = self._cached(kind, name)
        if found is not None:
            return found
        with self._lock(image):
            found = self._cached(kind, name)
            if found is None:
                pixels, _ = load_rgb(self._read(image), KINDS[kind], picture=picture)
                found = jpeg(fit(pixels, KINDS[kind])[0], quality=85)
                self._store(kind, name, found)
            return found

    def size(self, image: str, picture: Picture) -> tuple[int, int]:
        """A picture's full size as displayed, from its header (the image record has the first's)."""
        key = (image, picture)
        if key not in self._sizes:
            self._sizes[key] = picture_size(self._read(image), picture)
        return self._sizes[key]

    def _read(self, image: str) -> bytes:
        return ObjectStore(self.tree).read(image)

    def _store(self, kind: str, id: str, data: bytes) -> None:
        self.tree.write(self.rel(kind, id), data, mode=0o600, sync_dir=False)

    def prune(self, live_faces, live_images) -> int:
        """Remove the thumbnails of faces and images no longer live; returns how many."""
        removed = 0
        for kind, live in (("faces", live_faces), ("images", live_images), ("views", live_images)):
            try:
                entries = self.tree.entries(self.rel(kind))
            except ForeignEntry:
                continue
            for entry in entries:
                if entry.is_file and entry.name.endswith(".jpg") and entry.name.partition(".")[0] not in live:
                    try:
                        self.tree.remove(f"{self.rel(kind)}/{entry.name}")
                        removed += 1
                    except FileNotFoundError:
                        pass
        return removed
