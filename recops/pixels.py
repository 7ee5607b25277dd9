"""Image bytes to the pixels models see: RGB, 8 bits, upright, and small enough to search quickly.

Every mode an image can carry is brought to 8-bit RGB: greyscale, palette, alpha (laid on
white, as a viewer shows it), CMYK, and 16-bit (scaled, not clipped). EXIF orientation is applied,
so boxes are in the coordinates of the picture as people see it.

An image holds one picture, or several: the pages of a multi-page TIFF. A face names the picture
it is on by the fields of `Picture` (none for the first), and everything that needs a face's
pixels decodes them here: `load_rgb` for one picture, `face_pictures` for the faces of an image
(one decode per picture they are on), `load_pictures` for every picture (detection).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .errors import InputError
from .imageinfo import (
    HEAD,
    MAX_PAGES,
    TIFF,
    check_pixels,
    default_max_pixels,
    displayed_size,
    open_image,
    sniff,
    unbounded,
)
from .models.base import scale_face

DEFAULT_MAX_SIDE = 1600


@dataclass(frozen=True, order=True)
class Picture:
    """Which picture of an image: `page`, 0-based, of a multi-page TIFF.

    A face record names its picture by these fields, each absent when 0, so the faces of a
    one-picture image (every face made before pages were) are as they always were. Another way
    of holding several pictures (a video's frames by time) is another field here and a branch in
    `load_rgb` (and in `load_pictures`, which says what pictures an image holds)."""

    page: int = 0

    @classmethod
    def of(cls, record: dict) -> "Picture":
        """The picture a face record (or any map with its fields) is on."""
        page = record.get("page")
        return cls(page=page) if isinstance(page, int) and page > 0 else FIRST

    @property
    def fields(self) -> dict:
        """The fields that name it in a face record: none for the first picture."""
        return {"page": self.page} if self.page else {}

    @property
    def key(self) -> str:
        """What it adds to a face id (stages/detection.py): nothing for the first picture."""
        return "".join(f"|{name}={value}" for name, value in self.fields.items())

    def label(self, pages: int = 1) -> str:
        """How people name it: "page 3" (counted from 1) in an image of `pages` pages, else ""."""
        return f"page {self.page + 1}" if self.page or pages > 1 else ""


FIRST = Picture()
PICTURE_FIELDS = tuple(field.name for field in dataclasses.fields(Picture))


def load_rgb(
    data: bytes, max_side: int | None = None, scale: float | None = None, picture: Picture = FIRST
) -> tuple[np.ndarray, float]:
    """Decode one picture to an upright HxWx3 uint8 array, and its scale against the full picture (<= 1).

    With `max_side` (or `scale`), a large JPEG is decoded at a reduced scale (libjpeg's DCT
    scaling, several times faster) that keeps its long side at or above `max_side` (or at or
    above `scale` times the full size)."""
    with unbounded(), open_image(data) as image:
        _seek(image, picture)
        return _decode(image, max_side, scale)


def load_pictures(data: bytes, max_side: int | None = None) -> Iterator[tuple[Picture, np.ndarray, float]]:
    """Every picture of an image, decoded one after the other (what rx-detect searches)."""
    media_type = sniff(data[:HEAD])
    with unbounded(), open_image(data, media_type) as image:
        pages = min(image.n_frames, MAX_PAGES) if media_type == TIFF else 1
        for page in range(pages):
            picture = Picture(page=page)
            _seek(image, picture)
            yield picture, *_decode(image, max_side, None)


def picture_size(data: bytes, picture: Picture = FIRST) -> tuple[int, int]:
    """A picture's full size as displayed, read from its header."""
    media_type = sniff(data[:HEAD])
    with unbounded(), open_image(data, media_type) as image:
        _seek(image, picture)
        return displayed_size(image, media_type)


def face_pictures(
    data: bytes, faces: list[dict], sharp: int | None = None, max_side: int | None = None
) -> Iterator[tuple[list[int], np.ndarray, list[dict]]]:
    """The faces of one image with their pixels: for each picture they are on, in order, the
    indices of its faces in `faces`, the picture decoded once, and those faces with box and
    landmarks scaled to its pixels. With `sharp`, a picture is decoded only as large as keeps its
    smallest face `sharp` pixels across; with `max_side`, as `load_rgb` says; with neither, whole."""
    groups: dict[Picture, list[int]] = {}
    for index, face in enumerate(faces):
        groups.setdefault(Picture.of(face), []).append(index)
    for picture, indices in sorted(groups.items()):
        scale = None
        if sharp:
            smallest = min(min(b[2] - b[0], b[3] - b[1]) for b in (faces[i]["box"] for i in indices))
            scale = min(1.0, sharp / max(1, smallest))
        pixels, scale = load_rgb(data, max_side, scale, picture)
        yield indices, pixels, [faces[i] if scale == 1.0 else scale_face(faces[i], scale) for i in indices]


def _seek(image, picture: Picture) -> None:
    """Go to the picture, and refuse it, from its header, when it holds more pixels than the
    limit ($RX_MAX_PIXELS, else rx-import's default): Pillow's own check is off."""
    if picture.page:
        try:
            image.seek(picture.page)
        except EOFError:
            raise InputError("no-such-page", f"the image has no page {picture.page + 1}") from None
    check_pixels(*image.size, default_max_pixels(), f" on page {picture.page + 1}" if picture.page else "")


def _decode(image, max_side: int | None, scale: float | None) -> tuple[np.ndarray, float]:
    from PIL import ImageOps

    full = max(image.size)
    ratio = min(max_side / full if max_side else 1.0, scale or 1.0)
    if image.format == "JPEG" and ratio <= 0.5:
        image.draft("RGB", (max(1, int(image.size[0] * ratio)), max(1, int(image.size[1] * ratio))))
    pixels = _to_rgb(ImageOps.exif_transpose(image))
    return pixels, max(pixels.shape[:2]) / full


def _to_rgb(image) -> np.ndarray:
    from PIL import Image

    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        grey = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)


def fit(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image scaled so its long side is at most `max_side`, and the scale used (<= 1)."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale >= 1.0:
        return image, 1.0
    import cv2

    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale
