"""Small faces: a second, finer search of a photo where the first one may have missed faces too small for it.

rx-detect searches a photo fitted to --max-side, where a detector finds faces down to its `smallest`
width (dlib's HOG, upsampled once: 40 pixels); in the full photo that is the first pass's `reach`
(40 pixels up to 1,600 on the long side, 100 at 4,000). When faces narrower than the reach are
wanted (down to SMALLEST pixels, or --min-size when larger) and the first pass is unsure (it found
no face, or a face narrower than UNSURE times its reach: faces at the edge of what it sees, as in
a crowd whose faces go on getting smaller), the photo is searched again, enlarged so that the
detector's smallest face is the floor, in overlapping tiles (memory stays bounded however large
the photo). A face found twice, by both passes or in two tiles, is kept once (NMS); the first
pass's box wins, so the faces it found keep their boxes, hence their ids.

A photo whose faces are all well above the reach (a portrait, LFW) costs one pass, as before.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from .models.base import FoundFace, TilingDetector
from .quality import measure

SMALLEST = 20
"""The narrowest face (box width, pixels of the full photo) rx-detect looks for by default."""
UNSURE = 2.0
"""A first pass that found a face narrower than this many times its reach may have missed smaller ones."""
LARGEST = 1.5
"""The second pass keeps faces narrower than this many times the first pass's reach: larger ones were its."""
TILE = 3072
"""A tile's side in the enlarged photo: big enough that the overlap costs little, small enough for memory."""
SAME = 0.5
"""Two boxes are one face when their intersection covers this much of the smaller one."""


def floor(min_size: int) -> int:
    """The narrowest face a second pass looks for."""
    return max(SMALLEST, min_size)


def unsure(faces: list[FoundFace], reach: float, narrowest: int) -> bool:
    """Whether a first pass that saw faces down to `reach` pixels wide calls for a second one down to `narrowest`."""
    if reach <= narrowest:
        return False
    return not faces or min(width(face) for face in faces) < UNSURE * reach


def width(face: FoundFace) -> int:
    return face.box[2] - face.box[0]


def tiles(height: int, width: int, side: int, overlap: int) -> Iterator[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of as few tiles at most `side` wide as cover the image, each
    sharing `overlap` pixels with its neighbours, so a face narrower than that lies whole in one."""
    for top, bottom in _spans(height, side, overlap):
        for left, right in _spans(width, side, overlap):
            yield left, top, right, bottom


def _spans(length: int, side: int, overlap: int) -> list[tuple[int, int]]:
    if length <= side:
        return [(0, length)]
    count = math.ceil((length - overlap) / (side - overlap))
    step = math.ceil((length - overlap) / count)
    return [(i * step, min(length, i * step + step + overlap)) for i in range(count)]


def second_pass(detector: TilingDetector, pixels: np.ndarray, scale: float, reach: float, narrowest: int):
    """The faces from `narrowest` to LARGEST x `reach` pixels wide in a photo whose pixels are
    `scale` times its full size, searched in enlarged tiles; boxes in full-photo pixels."""
    import cv2

    enlarge = detector.smallest / narrowest / scale
    largest = LARGEST * reach
    overlap = math.ceil(1.25 * largest * scale)  # in `pixels`: the largest face and a margin
    side = max(round(TILE / enlarge), 4 * overlap)  # the shared margins, a small part of the work
    found = []
    for left, top, right, bottom in tiles(*pixels.shape[:2], side, overlap):
        size = (max(1, round((right - left) * enlarge)), max(1, round((bottom - top) * enlarge)))
        crop = np.ascontiguousarray(pixels[top:bottom, left:right])
        tile = cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR if enlarge > 1 else cv2.INTER_AREA)
        for face in detector.detect_tile(tile):
            face.quality = measure(tile, face.box, face.landmarks, 1 / (enlarge * scale))
            placed = face.scaled(1 / enlarge).moved(left, top).scaled(1 / scale)
            placed.method = f"{face.method}-small"
            if width(placed) < largest:
                found.append(placed)
    return found


def merged(first: list[FoundFace], second: list[FoundFace]) -> list[FoundFace]:
    """The first pass's faces, then each face of the second that is none of those (nor another
    kept before it: the most confident first)."""
    kept = list(first)
    for face in sorted(second, key=lambda f: -f.confidence):
        if all(overlap(face.box, other.box) < SAME for other in kept):
            kept.append(face)
    return kept


def overlap(a, b) -> float:
    """How much of the smaller of two boxes the other covers (0 to 1)."""
    across = min(a[2], b[2]) - max(a[0], b[0])
    down = min(a[3], b[3]) - max(a[1], b[1])
    if across <= 0 or down <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return across * down / smaller if smaller > 0 else 1.0
