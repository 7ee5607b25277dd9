"""Thumbnails of faces and photos, kept as derived data under the dataset's cache/thumbs/.

    cache/thumbs/faces/<face id>.jpg     a face with a margin, at most FACE_SIDE pixels
    cache/thumbs/images/<image id>.jpg   a photo, upright, at most IMAGE_SIDE pixels
    cache/thumbs/views/<image id>.jpg    a photo as its page shows it, at most VIEW_SIDE pixels

Ids come from content (an image's bytes; a face's image and box), so a thumbnail never goes
stale; each is written atomically, so a reader never sees half of one. Deleting the folder costs
nothing but the time to make them again. Thumbnails of deleted faces and images are removed
(`prune`): a face a person deleted does not linger in a cache.
"""

from __future__ import annotations

import os
import threading

from ..crops import crop, jpeg
from ..pixels import fit, load_rgb
from ..store.atomic import write_atomic

FACE_SIDE = 160
IMAGE_SIDE = 360
VIEW_SIDE = 1400
DECODE_SIDE = 2400
"""Large photos are decoded at a reduced scale, no smaller than this: crops of small faces stay legible."""
KINDS = {"faces": FACE_SIDE, "images": IMAGE_SIDE, "views": VIEW_SIDE}


class Thumbnails:
    def __init__(self, root: str):
        self.root = root
        self.folder = os.path.join(root, "cache", "thumbs")
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path(self, kind: str, id: str) -> str:
        return os.path.join(self.folder, kind, f"{id}.jpg")

    def _cached(self, kind: str, id: str) -> bytes | None:
        try:
            with open(self.path(kind, id), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def _lock(self, image: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(image, threading.Lock())

    def face(self, face: dict, faces_of_image: list[dict]) -> bytes:
        """The face's thumbnail; made with those of every face of its photo, from one decode."""
        found = self._cached("faces", face["id"])
        if found is not None:
            return found
        with self._lock(face["image"]):
            found = self._cached("faces", face["id"])
            if found is not None:
                return found
            pixels, scale = self._decode(face["image"])
            made = {}
            for each in {f["id"]: f for f in [*faces_of_image, face]}.values():
                if self._cached("faces", each["id"]) is None:
                    box = [float(v) * scale for v in each["box"]]
                    made[each["id"]] = jpeg(crop(pixels, box, max_side=FACE_SIDE), quality=85)
                    self._store("faces", each["id"], made[each["id"]])
            return made.get(face["id"]) or self._cached("faces", face["id"])

    def image(self, image: str, kind: str = "images") -> bytes:
        """The photo, upright, scaled down to the kind's size."""
        found = self._cached(kind, image)
        if found is not None:
            return found
        with self._lock(image):
            found = self._cached(kind, image)
            if found is None:
                pixels, _ = self._decode(image, KINDS[kind])
                found = jpeg(fit(pixels, KINDS[kind])[0], quality=85)
                self._store(kind, image, found)
            return found

    def _decode(self, image: str, side: int = DECODE_SIDE):
        with open(os.path.join(self.root, "objects", image[:2], image[2:]), "rb") as handle:
            return load_rgb(handle.read(), side)

    def _store(self, kind: str, id: str, data: bytes) -> None:
        folder = os.path.join(self.folder, kind)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        write_atomic(self.path(kind, id), data, mode=0o600, sync_dir=False)

    def prune(self, live_faces, live_images) -> int:
        """Remove the thumbnails of faces and images no longer live; returns how many."""
        removed = 0
        for kind, live in (("faces", live_faces), ("images", live_images), ("views", live_images)):
            try:
                names = os.listdir(os.path.join(self.folder, kind))
            except FileNotFoundError:
                continue
            for name in names:
                if name.endswith(".jpg") and name[:-4] not in live:
                    try:
                        os.unlink(os.path.join(self.folder, kind, name))
                        removed += 1
                    except FileNotFoundError:
                        pass
        return removed
