"""What an image file is, told by its content: media type, display size, EXIF orientation, pages.

JPEG, PNG, WebP, HEIC/HEIF, AVIF, TIFF, GIF and BMP are accepted, each told by its first bytes,
never by a file name. Each picture's pixel count is checked against a limit from its header
before anything is decoded, so a decompression bomb (a small file whose header claims billions of
pixels) costs nothing; a TIFF's pages are counted up to MAX_PAGES and their pixels together
bounded too. The whole compressed stream is then read once (a JPEG at 1/8 scale, a PNG's chunk
checksums, every page of a TIFF, the first frame of a GIF or an animated WebP), so a truncated or
corrupt file is refused at import, not at detection.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from dataclasses import dataclass

from .errors import InputError, UsageError

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
HEIC = "image/heic"
HEIF = "image/heif"
AVIF = "image/avif"
TIFF = "image/tiff"
GIF = "image/gif"
BMP = "image/bmp"
DEFAULT_MAX_PIXELS = 200_000_000
MAX_PIXELS_ENV = "RX_MAX_PIXELS"
MAX_PAGES = 1000
"""A multi-page TIFF with more pages is refused: a scan has tens or hundreds."""
PAGES_PIXELS = 10
"""The pages of one file hold at most this many times the pixel limit together."""
HEAD = 64
"""Enough of a file's first bytes to tell each format (an ISO BMFF file's brands included)."""

# Pillow's format name for each media type: a file is opened as what its content says, nothing else.
PILLOW_FORMATS = {
    JPEG: "JPEG",
    PNG: "PNG",
    WEBP: "WEBP",
    HEIC: "HEIF",
    HEIF: "HEIF",
    AVIF: "AVIF",
    TIFF: "TIFF",
    GIF: "GIF",
    BMP: "BMP",
}
EXTENSIONS = {
    JPEG: "jpg",
    PNG: "png",
    WEBP: "webp",
    HEIC: "heic",
    HEIF: "heif",
    AVIF: "avif",
    TIFF: "tif",
    GIF: "gif",
    BMP: "bmp",
}
SUPPORTED = "JPEG, PNG, WebP, HEIC/HEIF, AVIF, TIFF, GIF or BMP"
_SIGNATURES = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
)
_HEVC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_AVIF_BRANDS = {b"avif", b"avis"}
_IMAGE_BRANDS = {b"mif1", b"msf1", b"mif2", b"miaf"}
# BITMAPCOREHEADER to BITMAPV5HEADER: "BM" alone starts too many other files.
_BMP_HEADERS = {12, 16, 40, 52, 56, 64, 108, 124}
_OTHER_SIGNATURES = (
    (b"%PDF", "a PDF"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1a\x45\xdf\xa3", "a video (Matroska or WebM)"),
    (b"II+\x00", "a BigTIFF"),
    (b"MM\x00+", "a BigTIFF"),
)
# Formats that state their own length, so that it, not a decoder's error, says a file is cut short
# (libheif's decoder errors come as EOFError, whatever went wrong).
_CONTAINERS = {WEBP, HEIC, HEIF, AVIF}
# EXIF orientations 5-8 turn the picture a quarter, so its displayed width is the stored height;
# the plugins of these formats turn it as they open it, and give the displayed size already.
_QUARTER_TURNS = {5, 6, 7, 8}
_UPRIGHT = {TIFF, HEIC, HEIF}


@dataclass(frozen=True)
class ImageInfo:
    media_type: str
    width: int
    height: int
    orientation: int = 1
    pages: int = 1


def default_max_pixels() -> int:
    value = os.environ.get(MAX_PIXELS_ENV)
    if not value:
        return DEFAULT_MAX_PIXELS
    if not (value.strip().isascii() and value.strip().isdigit()) or int(value) < 1:
        raise UsageError(f"${MAX_PIXELS_ENV}={value[:40]!r}: give a whole number of pixels, 1 or more")
    return int(value)


def sniff(head: bytes) -> str | None:
    """The media type the first bytes (HEAD of them) say, or None for anything not supported."""
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        return _iso_image(head)
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADERS:
        return BMP
    return None


def _brands(head: bytes) -> list[bytes]:
    """The major and compatible brands of an ISO BMFF file's ftyp box, as far as `head` holds them."""
    end = min(len(head), int.from_bytes(head[:4], "big") or len(head))
    return [head[8:12]] + [head[i : i + 4] for i in range(16, end - 3, 4)]


def _iso_image(head: bytes) -> str | None:
    """HEIC, HEIF or AVIF by the ftyp box's brands; None for the same container holding a video."""
    brands = _brands(head)
    if brands[0] in _AVIF_BRANDS or (brands[0] in _IMAGE_BRANDS and _AVIF_BRANDS & set(brands)):
        return AVIF
    if brands[0] in _HEVC_BRANDS or (brands[0] in _IMAGE_BRANDS and _HEVC_BRANDS & set(brands)):
        return HEIC
    return HEIF if brands[0] in _IMAGE_BRANDS else None


def _describe(head: bytes) -> str:
    for signature, what in _OTHER_SIGNATURES:
        if head.startswith(signature):
            return what
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "a video (AVI)"
    if head[4:8] == b"ftyp":
        return "a video (MP4 or QuickTime)"
    if head[:2] == b"BM":
        return "a BMP of an unknown kind"
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "unrecognised data"


def name_of(media_type: str) -> str:
    """JPEG, HEIC, ...: the format's name for a message."""
    return media_type.split("/")[1].upper().replace("WEBP", "WebP")


def open_image(data: bytes, media_type: str | None = None):
    """A Pillow image of `data`, opened only as the format its content says (HEIF through
    pillow-heif, AVIF through Pillow's own plugin); nothing is decoded yet."""
    from PIL import Image

    media_type = media_type or sniff(data[:HEAD])
    if media_type in (HEIC, HEIF):
        _register_heif()
    return Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS.get(media_type, "JPEG")])


def _register_heif() -> None:
    import pillow_heif
    from PIL import Image

    if "HEIF" not in Image.OPEN:
        # Thumbnails, depth maps and other auxiliary images stay unread: recops searches the picture.
        pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


_unbounded = {"depth": 0, "saved": None}
_unbounded_lock = threading.Lock()


@contextlib.contextmanager
def unbounded():
    """Pillow's own bomb check off: recops checks its own limit, which may be higher, from the
    header at import, and decodes only what passed it. Counted, so that threads decoding at
    once (the web interface's) leave Pillow's setting as it was when the last one is done."""
    from PIL import Image

    with _unbounded_lock:
        if not _unbounded["depth"]:
            _unbounded["saved"] = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
        _unbounded["depth"] += 1
    try:
        yield
    finally:
        with _unbounded_lock:
            _unbounded["depth"] -= 1
            if not _unbounded["depth"]:
                Image.MAX_IMAGE_PIXELS = _unbounded["saved"]


def inspect(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Check that `data` is a whole image of a supported format within the pixel limit; raises InputError."""
    if not data:
        raise InputError("empty", "empty file (0 bytes)")
    media_type = sniff(data[:HEAD])
    if media_type is None:
        what = _describe(data[:HEAD])
        raise InputError("not-an-image", f"not an image recops reads ({SUPPORTED}): content looks like {what}")
    try:
        with unbounded(), open_image(data, media_type) as image:
            check_pixels(*image.size, max_pixels)
            orientation = _orientation(image)
            width, height = displayed_size(image, media_type)
            pages = _count_pages(image, width * height, max_pixels) if media_type == TIFF else 1
            _read_through(data, image, media_type, pages)
        if media_type == TIFF and _tiff_cut_short(data):
            raise InputError("truncated", "truncated TIFF: its directory names data past the end of the file")
    except InputError:
        raise
    except Exception as exc:  # Pillow raises many types on malformed data; each is this file's fault
        from PIL import UnidentifiedImageError

        name = name_of(media_type)
        why = "its header cannot be read" if isinstance(exc, UnidentifiedImageError) else exc or type(exc).__name__
        if _cut_short(data, media_type) or (
            media_type not in _CONTAINERS and ("truncated" in str(exc).lower() or isinstance(exc, EOFError))
        ):
            raise InputError("truncated", f"truncated {name}: {why}") from None
        raise InputError("corrupt", f"corrupt {name}: {why}") from None
    return ImageInfo(media_type, width, height, orientation, pages)


def displayed_size(image, media_type: str) -> tuple[int, int]:
    """An opened picture's width and height as people see it, after its EXIF orientation."""
    width, height = image.size
    if _orientation(image) in _QUARTER_TURNS and media_type not in _UPRIGHT:
        return height, width
    return width, height


def check_pixels(width: int, height: int, max_pixels: int, page: str = "") -> None:
    """Refuse a picture whose header claims more than `max_pixels` (`page` says which, if not the first)."""
    if width * height > max_pixels:
        raise InputError(
            "too-many-pixels",
            f"header claims {width}x{height} = {width * height:,} pixels{page}, over the limit of "
            f"{max_pixels:,} (a decompression bomb? raise it with --max-pixels or ${MAX_PIXELS_ENV})",
        )


def _count_pages(image, first: int, max_pixels: int) -> int:
    """A TIFF's pages, each within the limit and all together within PAGES_PIXELS times it:
    only their headers are read."""
    total, pages = first, 1
    while True:
        try:
            image.seek(pages)
        except EOFError:
            break
        if pages == MAX_PAGES:
            raise InputError("too-many-pages", f"more than {MAX_PAGES} pages: not a scan recops searches")
        width, height = image.size
        check_pixels(width, height, max_pixels, f" on page {pages + 1}")
        total += width * height
        if total > PAGES_PIXELS * max_pixels:
            raise InputError(
                "too-many-pixels",
                f"its first {pages + 1} pages hold {total:,} pixels, over {PAGES_PIXELS} times the limit of "
                f"{max_pixels:,} (raise it with --max-pixels or ${MAX_PIXELS_ENV})",
            )
        pages += 1
    image.seek(0)
    return pages


def _orientation(image) -> int:
    """The file's EXIF orientation. pillow-heif applies a HEIF's rotation (its irot and imir
    boxes) as it decodes, keeps the EXIF orientation as `original_orientation` and sets it to 1,
    so that Pillow does not turn the picture again; Pillow's AVIF plugin gives the rotation as the
    EXIF orientation, which pixels.py applies: either way a picture is turned once."""
    try:
        value = image.info.get("original_orientation") or image.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not refuse an otherwise sound photo
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _read_through(data: bytes, image, media_type: str, pages: int) -> None:
    if media_type == JPEG:
        image.draft("RGB", (max(1, image.size[0] // 8), max(1, image.size[1] // 8)))
        image.load()
    elif media_type == PNG:
        with open_image(data, PNG) as fresh:  # verify() must come first after opening
            fresh.verify()
    else:
        for page in range(pages):
            if page:
                image.seek(page)
            image.load()


def _cut_short(data: bytes, media_type: str) -> bool:
    """Whether the file's own structure says it goes on past its end (some decoders only say
    that they failed)."""
    if media_type == WEBP:
        return int.from_bytes(data[4:8], "little") + 8 > len(data)
    if media_type == BMP:
        return int.from_bytes(data[2:6], "little") > len(data)
    if media_type == TIFF:
        return _tiff_cut_short(data)
    if media_type in (HEIC, HEIF, AVIF):
        at = 0
        while at + 8 <= len(data):
            size = int.from_bytes(data[at : at + 4], "big")
            if size == 1:
                size = int.from_bytes(data[at + 8 : at + 16], "big")
            if size == 0:
                return False
            if size < 8 or at + size > len(data):
                return size >= 8
            at += size
        return at != len(data)
    return False


# Bytes per value of each TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE, UNDEFINED,
# SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE, IFD).
_TIFF_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


def _tiff_cut_short(data: bytes) -> bool:
    """Whether a TIFF's directories (or what they point to) go past its end: Pillow only warns
    and skips such a tag, or ends the pages there."""
    order = "little" if data[:2] == b"II" else "big"

    def number(at: int, size: int) -> int:
        return int.from_bytes(data[at : at + size], order)

    at, seen = number(4, 4), set()
    while at and at not in seen and len(seen) <= MAX_PAGES:
        seen.add(at)
        end = at + 2 + 12 * number(at, 2) + 4
        if at + 2 > len(data) or end > len(data):
            return True
        for entry in range(at + 2, end - 4, 12):
            size = _TIFF_SIZES.get(number(entry + 2, 2), 0) * number(entry + 4, 4)
            if size > 4 and number(entry + 8, 4) + size > len(data):
                return True
        at = number(end - 4, 4)
    return False
