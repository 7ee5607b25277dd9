"""What an image file is, told by its content: media type, display size, EXIF orientation.

Only JPEG and PNG are accepted. The pixel count is checked against a limit before anything is
decoded, so a decompression bomb (a small file whose header claims billions of pixels) costs
nothing. The whole compressed stream is then read once (a JPEG at 1/8 scale, a PNG's chunk
checksums), so a truncated or corrupt file is refused at import, not at detection.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

from .errors import InputError, UsageError

JPEG = "image/jpeg"
PNG = "image/png"
DEFAULT_MAX_PIXELS = 200_000_000
MAX_PIXELS_ENV = "RX_MAX_PIXELS"

_SIGNATURES = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
)
_OTHER_SIGNATURES = (
    (b"GIF8", "a GIF"),
    (b"BM", "a BMP"),
    (b"II*\x00", "a TIFF"),
    (b"MM\x00*", "a TIFF"),
    (b"%PDF", "a PDF"),
    (b"PK\x03\x04", "a ZIP archive"),
)
# EXIF orientations 5-8 turn the picture a quarter, so its displayed width is the stored height.
_QUARTER_TURNS = {5, 6, 7, 8}


@dataclass(frozen=True)
class ImageInfo:
    media_type: str
    width: int
    height: int
    orientation: int = 1


def default_max_pixels() -> int:
    value = os.environ.get(MAX_PIXELS_ENV)
    if not value:
        return DEFAULT_MAX_PIXELS
    if not (value.strip().isascii() and value.strip().isdigit()) or int(value) < 1:
        raise UsageError(f"${MAX_PIXELS_ENV}={value[:40]!r}: give a whole number of pixels, 1 or more")
    return int(value)


def sniff(head: bytes) -> str | None:
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    return None


def _describe(head: bytes) -> str:
    for signature, what in _OTHER_SIGNATURES:
        if head.startswith(signature):
            return what
    if head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "a HEIC image"
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "unrecognised data"


def inspect(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Check that `data` is a whole JPEG or PNG within the pixel limit; raises InputError."""
    if not data:
        raise InputError("empty", "empty file (0 bytes)")
    media_type = sniff(data[:16])
    if media_type is None:
        raise InputError("not-an-image", f"not a JPEG or PNG image (content looks like {_describe(data[:64])})")

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=["JPEG" if media_type == JPEG else "PNG"]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise InputError(
                    "too-many-pixels",
                    f"header claims {width}x{height} = {width * height:,} pixels, over the limit of "
                    f"{max_pixels:,} (a decompression bomb? raise it with --max-pixels)",
                )
            orientation = _orientation(image)
        _read_through(data, media_type)
    except InputError:
        raise
    except Image.DecompressionBombError as exc:
        raise InputError("too-many-pixels", str(exc)) from None
    except Exception as exc:  # Pillow raises many types on malformed data; each is this file's fault
        name = media_type.split("/")[1].upper()
        if "truncated" in str(exc) or isinstance(exc, EOFError):
            raise InputError("truncated", f"truncated {name}: {exc}") from None
        raise InputError("corrupt", f"corrupt {name}: {exc or type(exc).__name__}") from None
    if orientation in _QUARTER_TURNS:
        width, height = height, width
    return ImageInfo(media_type, width, height, orientation)


def _orientation(image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not refuse an otherwise sound photo
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _read_through(data: bytes, media_type: str) -> None:
    from PIL import Image

    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our own limit was checked already
    try:
        with Image.open(io.BytesIO(data)) as image:
            if media_type == JPEG:
                image.draft("RGB", (max(1, image.size[0] // 8), max(1, image.size[1] // 8)))
                image.load()
            else:
                image.verify()
    finally:
        Image.MAX_IMAGE_PIXELS = previous
