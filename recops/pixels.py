"""Image bytes to the pixels models see: RGB, 8 bits, upright, and small enough to search quickly.

Every mode an image can carry is brought to 8-bit RGB: greyscale, palette, alpha (laid on
white, as a viewer shows it), CMYK, and 16-bit (scaled, not clipped). EXIF orientation is applied,
so boxes are in the coordinates of the picture as people see it.

An image holds one picture, or several: the pages of a multi-page TIFF, the frames of a video. A
face names the picture it is on by the fields of `Picture` (none for a photo's first), and
everything that needs a face's pixels decodes them here: `load_rgb` for one picture,
`face_pictures` for the faces of an image (one decode per picture they are on, a video's frames
in one pass), `load_pictures` for every picture of a photo (detection; a video's frames are
sampled by video/faces.py, which follows faces from frame to frame).
"""

from __future__ import annotations

import dataclasses
import math
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
from .video import containers
from .video.times import clock

DEFAULT_MAX_SIDE = 1600


@dataclass(frozen=True, order=True)
class Picture:
    """Which picture of an image: `page`, 0-based, of a multi-page TIFF; `time`, in seconds from
    the start to the millisecond, the frame of a video shown then (None for a photo).

    A face record names its picture by these fields, each absent when 0 (a page) or None (a
    time), so the faces of a one-picture image (every face made before pages were) are as they
    always were."""

    page: int = 0
    time: float | None = None

    @classmethod
    def of(cls, record: dict) -> "Picture":
        """The picture a face record (or any map with its fields) is on."""
        page, time = record.get("page"), record.get("time")
        page = page if isinstance(page, int) and not isinstance(page, bool) and page > 0 else 0
        ok = isinstance(time, (int, float)) and not isinstance(time, bool) and math.isfinite(time) and time >= 0
        return cls(page, round(float(time), 3) if ok else None) if page or ok else FIRST

    @property
    def fields(self) -> dict:
        """The fields that name it in a face record: none for a photo's first picture."""
        return {**({"page": self.page} if self.page else {}), **({} if self.time is None else {"time": self.time})}

    @property
    def key(self) -> str:
        """What it adds to a face id (stages/detection.py): nothing for a photo's first picture."""
        return (f"|page={self.page}" if self.page else "") + ("" if self.time is None else f"|time={self.time:.3f}")

    @property
    def order(self) -> tuple[int, float]:
        return self.page, -1.0 if self.time is None else self.time

    def label(self, pages: int = 1, span: list | None = None) -> str:
        """How people name it: "page 3" (counted from 1) in an image of `pages` pages, "01:05" in
        a video (with a face's track `span`: "01:05, in view 01:02–01:09"), else ""."""
        if self.time is not None:
            seen = f", in view {clock(span[0])}–{clock(span[1])}" if span and len(span) == 2 else ""
            return clock(self.time) + seen
        return f"page {self.page + 1}" if self.page or pages > 1 else ""


FIRST = Picture()
PICTURE_FIELDS = tuple(field.name for field in dataclasses.fields(Picture))


def load_rgb(
    data: bytes, max_side: int | None = None, scale: float | None = None, picture: Picture = FIRST
) -> tuple[np.ndarray, float]:
    """Decode one picture to an upright HxWx3 uint8 array, and its scale against the full picture (<= 1).

    With `max_side` (or `scale`), a large JPEG is decoded at a reduced scale (libjpeg's DCT
    scaling, several times faster) that keeps its long side at or above `max_side` (or at or
    above `scale` times the full size). A video's frame is decoded at full size, then scaled; its
    first picture is its first frame."""
    if picture.time is not None or containers.sniff(data[: containers.HEAD]):
        return _video_frame(data, picture.time or 0.0, max_side, scale)
    with unbounded(), open_image(data) as image:
        _seek(image, picture)
        return _decode(image, max_side, scale)


def load_pictures(data: bytes, max_side: int | None = None) -> Iterator[tuple[Picture, np.ndarray, float]]:
    """Every picture of a photo, decoded one after the other (what rx-detect searches)."""
    media_type = sniff(data[:HEAD])
    with unbounded(), open_image(data, media_type) as image:
        pages = min(image.n_frames, MAX_PAGES) if media_type == TIFF else 1
        for page in range(pages):
            picture = Picture(page=page)
            _seek(image, picture)
            yield picture, *_decode(image, max_side, None)


def picture_size(data: bytes, picture: Picture = FIRST) -> tuple[int, int]:
    """A picture's full size as displayed, read from its header (a video's, from its first frame)."""
    if picture.time is not None or containers.sniff(data[: containers.HEAD]):
        from .video import probe

        info = probe(data)
        return info.width, info.height
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
    if any(picture.time is not None for picture in groups):
        yield from _video_faces(data, faces, groups, max_side)
        return
    for picture, indices in sorted(groups.items(), key=lambda item: item[0].order):
        scale = None
        if sharp:
            smallest = min(min(b[2] - b[0], b[3] - b[1]) for b in (faces[i]["box"] for i in indices))
            scale = min(1.0, sharp / max(1, smallest))
        pixels, scale = load_rgb(data, max_side, scale, picture)
        yield indices, pixels, [faces[i] if scale == 1.0 else scale_face(faces[i], scale) for i in indices]


def _video_faces(
    data: bytes, faces: list[dict], groups: dict[Picture, list[int]], max_side: int | None
) -> Iterator[tuple[list[int], np.ndarray, list[dict]]]:
    """The frames a video's faces are on, decoded in one pass (at full size: a frame is small)."""
    from .video import frames_at

    if not containers.sniff(data[: containers.HEAD]):
        raise InputError("not-a-video", "a face names a time in a video, but its image is no video")
    by_time = {picture.time: indices for picture, indices in groups.items()}
    if None in by_time:
        raise InputError("no-time", "a face on a video names no time (the frame it is on)")
    for time, pixels in frames_at(data, by_time):
        if isinstance(pixels, InputError):
            raise pixels
        pixels, scale = fit(pixels, max_side) if max_side else (pixels, 1.0)
        indices = by_time[time]
        yield indices, pixels, [faces[i] if scale == 1.0 else scale_face(faces[i], scale) for i in indices]


def _video_frame(data: bytes, time: float, max_side: int | None, scale: float | None) -> tuple[np.ndarray, float]:
    from .video import frame_at

    pixels = frame_at(data, time)
    side = max(pixels.shape[:2])
    wanted = min(max_side or side, round(side * (scale or 1.0)))
    return fit(pixels, wanted) if wanted < side else (pixels, 1.0)


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
