"""Small faces: a second, finer search of a photo where the first one may have missed faces too small for it.

rx-detect searches a photo fitted to --max-side, where a detector finds faces down to its `smallest`
width (dlib's HOG, upsampled once: 40 pixels); in the full photo that is the first pass's `reach`
(40 pixels up to 1,600 on the long side, 100 at 4,000). When faces narrower than the reach are
wanted (down to SMALLEST pixels, or --min-size when larger) and the first pass is unsure (it found
no face, or a face narrower than UNSURE times its reach: faces at the edge of what it sees, as in
a crowd whose faces go on getting smaller), the photo is searched again: OpenCV's Haar cascade,
cheap and permissive (every raw hit kept), proposes where such faces may be in the whole photo, and
only windows around its candidates are searched by the detector, enlarged so that its smallest face
is the floor (or a candidate's width calls for), large ones in overlapping tiles (memory stays
bounded). A photo without faces costs the cascade and a few small windows, not the whole photo
enlarged. A face found twice, by both passes or in two windows, is kept once (NMS); the first
pass's box wins, so the faces it found keep their boxes, hence their ids.

A photo whose faces are all well above the reach (a portrait, LFW) costs one pass, as before.
"""

from __future__ import annotations

import functools
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
"""A tile's side in the enlarged window: big enough that the overlap costs little, small enough for memory."""
SAME = 0.5
"""Two boxes are one face when their intersection covers this much of the smaller one."""
HAAR_WINDOW = 24
"""The cascade searches the photo scaled so that the narrowest face is this wide: its window is 20,
and at 20 it misses more of the faces 16-24 pixels wide (measured: bench/small_faces.py)."""
HAAR_STEP = 1.2
"""The cascade's scale step: 1.1 costs twice the time for no more of the faces."""
HAAR_LARGER = 1.3
"""A cascade's box is wider than the detector's: candidates up to this many times the widest face."""
MARGIN, PAD = 0.5, 1.0
"""A window is a candidate grown by MARGIN times its width and PAD times the narrowest face on
every side: the detector misses a face with too little around it."""
SMALLER = 0.6
"""A window's faces are at least this many times its narrowest candidate wide."""


@functools.cache
def _cascade():
    import cv2

    return cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")


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


def second_pass(
    detector: TilingDetector,
    pixels: np.ndarray,
    scale: float,
    reach: float,
    narrowest: int,
    known: list[FoundFace] = (),
):
    """The faces from `narrowest` to LARGEST x `reach` pixels wide in a photo whose pixels are
    `scale` times its full size, searched enlarged in windows around the candidates that are
    none of the `known` faces (the first pass's); boxes in full-photo pixels."""
    import cv2

    largest = LARGEST * reach
    found = []
    boxes = candidates(pixels, scale * narrowest, scale * largest)
    seen = [[v * scale for v in face.box] for face in known]
    boxes = boxes[[all(overlap(box, other) < SAME for other in seen) for box in boxes]] if seen else boxes
    for (w_left, w_top, w_right, w_bottom), least in windows(boxes, *pixels.shape[:2], scale * narrowest):
        # the window's faces are at least SMALLER x its narrowest candidate: no need to enlarge it more
        enlarge = detector.smallest / max(scale * narrowest, SMALLER * least)
        side = round(TILE / enlarge)
        shared = min(math.ceil(1.25 * largest * scale), side // 4)
        for left, top, right, bottom in tiles(w_bottom - w_top, w_right - w_left, side, shared):
            left, top, right, bottom = left + w_left, top + w_top, right + w_left, bottom + w_top
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


def candidates(pixels: np.ndarray, narrowest: float, largest: float) -> np.ndarray:
    """(left, top, right, bottom) of every window where OpenCV's Haar cascade, at its most
    permissive (each raw hit, none grouped), sees a face from `narrowest` to `largest` pixels."""
    import cv2

    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    shrink = HAAR_WINDOW / narrowest
    if shrink != 1:
        grey = cv2.resize(grey, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    biggest = max(HAAR_WINDOW + 1, round(HAAR_LARGER * largest * shrink))
    hits = _cascade().detectMultiScale(grey, HAAR_STEP, 0, maxSize=(biggest, biggest))
    boxes = np.array(hits, np.float64).reshape(-1, 4) / shrink
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def windows(boxes: np.ndarray, height: int, width: int, narrowest: float):
    """Each candidate grown by MARGIN times its width and PAD times `narrowest` on every side;
    windows that mostly overlap, their candidates of like widths, become one (their union), so a
    face hit many times is searched once, and no more enlarged than its width calls for. Each
    clipped to the photo, with the width of its narrowest candidate."""
    least = boxes[:, 2] - boxes[:, 0]
    grown = boxes + (MARGIN * least + PAD * narrowest)[:, None] * np.array([-1, -1, 1, 1])
    while True:
        kept, kept_least = np.empty((0, 4)), np.empty(0)
        for i in np.argsort(-(grown[:, 2] - grown[:, 0]) * (grown[:, 3] - grown[:, 1]), kind="stable"):
            box = grown[i]
            across = np.minimum(kept[:, 2], box[2]) - np.maximum(kept[:, 0], box[0])
            down = np.minimum(kept[:, 3], box[3]) - np.maximum(kept[:, 1], box[1])
            # kept windows are at least as large as `box`: the smaller is `box`
            covered = np.clip(across, 0, None) * np.clip(down, 0, None) / ((box[2] - box[0]) * (box[3] - box[1]))
            ratio = np.maximum(kept_least, least[i]) / np.minimum(kept_least, least[i])
            same = np.flatnonzero((covered >= SAME) & (ratio <= 2))
            if len(same):
                j = same[0]
                kept[j, :2], kept[j, 2:] = np.minimum(kept[j, :2], box[:2]), np.maximum(kept[j, 2:], box[2:])
                kept_least[j] = min(kept_least[j], least[i])
            else:
                kept, kept_least = np.vstack([kept, box]), np.append(kept_least, least[i])
        if len(kept) == len(grown):
            break
        grown, least = kept, kept_least
    clipped = np.clip(np.round(kept), 0, [width, height, width, height]).astype(int).tolist()
    return [(tuple(box), small) for box, small in zip(clipped, kept_least) if box[2] > box[0] and box[3] > box[1]]


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
