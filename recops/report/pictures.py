"""The pixels of a report: each photo decoded once, scaled down for the page, its faces blurred
when asked, and everything handed out as JPEG `data:` URIs, so a report fetches nothing."""

from __future__ import annotations

import base64
from collections import OrderedDict

import numpy as np

from ..crops import crop, jpeg
from ..errors import InputError
from ..pixels import fit, load_rgb
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
        self._faces: dict[str, list] = {}
        self._decoded: OrderedDict[str, tuple[np.ndarray, float, float]] = OrderedDict()

    def know(self, record: dict) -> None:
        """An image or face record that says where an image's bytes are (dataset, path, data)."""
        image = record.get("id") if record.get("type") == "image" else record.get("image")
        if image and (image not in self._records or record.get("type") == "image"):
            self._records[image] = record

    def know_file(self, key: str, path: str) -> None:
        self._files[key] = path

    def face_in(self, image: str, box) -> None:
        """A face of the image, blurred on the page in a blurred report."""
        boxes = self._faces.setdefault(image, [])
        if (box := [float(v) for v in box]) not in boxes:
            boxes.append(box)

    def _decode(self, image: str) -> tuple[np.ndarray, float, float]:
        """The pixels and the scale from full-size pixels to them, across and down."""
        if image in self._decoded:
            self._decoded.move_to_end(image)
            return self._decoded[image]
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
            pixels, scale = load_rgb(data, DECODE_SIDE)
        except Exception as exc:
            raise InputError("not-an-image", f"image {image}: cannot decode it: {exc}") from None
        record = self._records.get(image, {})
        full = (record.get("width"), record.get("height")) if record.get("type") == "image" else (None, None)
        width = full[0] or round(pixels.shape[1] / scale)
        height = full[1] or round(pixels.shape[0] / scale)
        self._decoded[image] = (pixels, pixels.shape[1] / width, pixels.shape[0] / height)
        while len(self._decoded) > _CACHED:
            self._decoded.popitem(last=False)
        return self._decoded[image]

    def size(self, image: str) -> tuple[int, int]:
        """Full-size width and height: the space face boxes are in."""
        record = self._records.get(image, {})
        if record.get("type") == "image" and record.get("width") and record.get("height"):
            return int(record["width"]), int(record["height"])
        pixels, sx, sy = self._decode(image)
        return round(pixels.shape[1] / sx), round(pixels.shape[0] / sy)

    def photo(self, image: str, max_side: int = PAGE_SIDE) -> str | None:
        """The whole image, at most `max_side` pixels on its long side."""
        if not self.enabled:
            return None
        pixels, sx, sy = self._decode(image)
        page, scale = fit(pixels, max_side)
        if self.blur and self._faces.get(image):
            page = blur_faces(
                page,
                [[l * sx * scale, t * sy * scale, r * sx * scale, b * sy * scale] for l, t, r, b in self._faces[image]],
            )
        return data_uri(jpeg(page, quality=85))

    def crop(self, image: str, box) -> str | None:
        """The face in `box` (full-size pixels) with a margin, at most CROP_SIDE pixels."""
        if not self.enabled:
            return None
        pixels, sx, sy = self._decode(image)
        left, top, right, bottom = (float(v) for v in box)
        face = crop(pixels, [left * sx, top * sy, right * sx, bottom * sy], max_side=CROP_SIDE)
        if self.blur:
            height, width = face.shape[:2]
            face = blur_faces(face, [[0, 0, width, height]])
        return data_uri(jpeg(face, quality=85))
