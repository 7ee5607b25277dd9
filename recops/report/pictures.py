"""The pixels of a report: each photo decoded once, scaled down for the page, its faces blurred
when asked, and everything handed out as JPEG `data:` URIs, so a report fetches nothing."""

from __future__ import annotations

import base64
from collections import OrderedDict

import numpy as np

from ..crops import crop, jpeg
from ..errors import InputError
from ..pixels import FIRST, Picture, fit, load_rgb
from ..sources import image_source, read_source
from ..store.dataset import Dataset

PAGE_SIDE = 1200
THUMB_SIDE = 400
CROP_SIDE = 200
"""Crops show at about 120 CSS pixels; 200 keeps them sharp on high-density screens."""
DECODE_SIDE = 2400
"""Large photos are decoded at reduced scale but no smaller than this: crops of small faces stay legible."""
_CACHED = 6


def data_uri(jpeg_bytes: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg_bytes).decode("ascii")


def blur_faces(pixels: np.ndarray, boxes) -> np.ndarray:
    """A copy with each box (and a fifth of its size around it) pixelated, then smoothed: no
    detail of a face survives, not even to a deblurring attack on a plain Gaussian blur."""
    import cv2

    out = pixels.copy()
    height, width = out.shape[:2]
    for left, top, right, bottom in boxes:
        pad = 0.2 * max(right - left, bottom - top)
        x0, y0 = max(0, int(left - pad)), max(0, int(top - pad))
        x1, y1 = min(width, int(right + pad) + 1), min(height, int(bottom + pad) + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        region = out[y0:y1, x0:x1]
        blocks = cv2.resize(region, (max(1, (x1 - x0) // 12), max(1, (y1 - y0) // 12)), interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(blocks, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        out[y0:y1, x0:x1] = cv2.GaussianBlur(coarse, (0, 0), max(1.0, (x1 - x0) / 14))
    return out


class Pictures:
    """Where each image's bytes are, and its pixels as the page needs them.

    `enabled=False` (JSON and CSV output) makes no pixels at all: every URI is None."""

    def __init__(self, dataset: Dataset | None = None, blur: bool = False, enabled: bool = True):
        self.dataset = dataset
        self.blur = blur
        self.enabled = enabled
        self._records: dict[str, dict] = {}
        self._files: dict[str, str] = {}
        self._faces: dict[tuple[str, Picture], list] = {}
        self._decoded: OrderedDict[tuple[str, Picture], tuple[np.ndarray, float, float]] = OrderedDict()

    def know(self, record: dict) -> None:
        """An image or face record that says where an image's bytes are (dataset, path, data)."""
        image = record.get("id") if record.get("type") == "image" else record.get("image")
        if image and (image not in self._records or record.get("type") == "image"):
            self._records[image] = record

    def know_file(self, key: str, path: str) -> None:
        self._files[key] = path

    def face_in(self, image: str, box, picture: Picture = FIRST) -> None:
        """A face of the image (on `picture` of it), blurred on the page in a blurred report."""
        boxes = self._faces.setdefault((image, picture), [])
        if (box := [float(v) for v in box]) not in boxes:
            boxes.append(box)

    def _decode(self, image: str, picture: Picture = FIRST) -> tuple[np.ndarray, float, float]:
        """The pixels of a picture and the scale from its full-size pixels to them, across and down."""
        key = (image, picture)
        if key in self._decoded:
            self._decoded.move_to_end(key)
            return self._decoded[key]
        if image in self._files:
            source = ("file", self._files[image])
        elif image in self._records:
            source = image_source(self._records[image], self.dataset)
        elif self.dataset is not None:
            source = image_source({"type": "image", "id": image}, self.dataset)
        else:
            raise InputError("no-pixels", f"image {image}: no record says where its pixels are")
        data = read_source(source)
        try:
            pixels, scale = load_rgb(data, DECODE_SIDE, picture=picture)
        except InputError:
            raise
        except Exception as exc:
            raise InputError("not-an-image", f"image {image}: cannot decode it: {exc}") from None
        width, height = self._recorded(image, picture) or (None, None)
        width = width or round(pixels.shape[1] / scale)
        height = height or round(pixels.shape[0] / scale)
        self._decoded[key] = (pixels, pixels.shape[1] / width, pixels.shape[0] / height)
        while len(self._decoded) > _CACHED:
            self._decoded.popitem(last=False)
        return self._decoded[key]

    def _recorded(self, image: str, picture: Picture) -> tuple[int, int] | None:
        """The size an image record gives: its first picture's (every frame's, in a video)."""
        record = self._records.get(image, {})
        if (
            (picture == FIRST or picture.time is not None)
            and record.get("type") == "image"
            and record.get("width")
            and record.get("height")
        ):
            return int(record["width"]), int(record["height"])
        return None

    def size(self, image: str, picture: Picture = FIRST) -> tuple[int, int]:
        """Full-size width and height of a picture: the space its face boxes are in."""
        recorded = self._recorded(image, picture)
        if recorded:
            return recorded
        pixels, sx, sy = self._decode(image, picture)
        return round(pixels.shape[1] / sx), round(pixels.shape[0] / sy)

    def photo(self, image: str, max_side: int = PAGE_SIDE, picture: Picture = FIRST) -> str | None:
        """The whole picture, at most `max_side` pixels on its long side."""
        if not self.enabled:
            return None
        pixels, sx, sy = self._decode(image, picture)
        page, scale = fit(pixels, max_side)
        boxes = self._faces.get((image, picture))
        if self.blur and boxes:
            page = blur_faces(
                page, [[l * sx * scale, t * sy * scale, r * sx * scale, b * sy * scale] for l, t, r, b in boxes]
            )
        return data_uri(jpeg(page, quality=85))

    def crop(self, image: str, box, picture: Picture = FIRST) -> str | None:
        """The face in `box` (full-size pixels of its picture) with a margin, at most CROP_SIDE pixels."""
        if not self.enabled:
            return None
        pixels, sx, sy = self._decode(image, picture)
        left, top, right, bottom = (float(v) for v in box)
        face = crop(pixels, [left * sx, top * sy, right * sx, bottom * sy], max_side=CROP_SIDE)
        if self.blur:
            height, width = face.shape[:2]
            face = blur_faces(face, [[0, 0, width, height]])
        return data_uri(jpeg(face, quality=85))
