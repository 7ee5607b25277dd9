"""Face regions a person drew in digiKam, Lightroom or darktable, as boxes recops can compare.

recops keeps a box in the pixels people see: the image turned by its EXIF orientation (as
detection sees it). The Metadata Working Group's regions are areas of the stored image ("Region
metadata is applied to the stored image. When applying a rotation by applying Exif Orientation,
the rotation must be applied to the regions as well", MWG guidelines 2.0, section 5.9): x and y
the centre, w and h the size, each a fraction of the stored width or height. `to_box` and
`to_area` turn one into the other.

Some writers put regions in the displayed image's frame against that rule. Where the photo is
turned a quarter (orientation 5 to 8) and the region's AppliedToDimensions has the displayed
shape rather than the stored one, the areas are read as displayed: that is the one case where the
difference shows.
"""

from __future__ import annotations

import math

from . import xmp
from .photometa import clean_text

Box = tuple[float, float, float, float]
Area = tuple[float, float, float, float]

QUARTER_TURNS = (5, 6, 7, 8)
MAX_NAME = 256
MAX_REGIONS = 1000


def _displayed(u: float, v: float, orientation: int) -> tuple[float, float]:
    """A point of the stored image (fractions of its width and height) in the displayed image."""
    return {
        2: (1 - u, v),
        3: (1 - u, 1 - v),
        4: (u, 1 - v),
        5: (v, u),
        6: (1 - v, u),
        7: (1 - v, 1 - u),
        8: (v, 1 - u),
    }.get(orientation, (u, v))


def _stored(u: float, v: float, orientation: int) -> tuple[float, float]:
    """The inverse of `_displayed`: 6 and 8 undo each other; every other orientation undoes itself."""
    return _displayed(u, v, {6: 8, 8: 6}.get(orientation, orientation))


def stored_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """The stored image's width and height, from the displayed ones."""
    return (height, width) if orientation in QUARTER_TURNS else (width, height)


def to_box(area: Area, width: int, height: int, orientation: int = 1) -> Box | None:
    """An MWG area of the stored image as a box (left, top, right, bottom) in the pixels of the
    displayed image, `width` x `height`; clipped to the image, None when nothing of it is inside."""
    x, y, w, h = area
    corners = [_displayed(u, v, orientation) for u, v in ((x - w / 2, y - h / 2), (x + w / 2, y + h / 2))]
    left, right = (round(max(0.0, min(1.0, c[0])) * width, 2) for c in sorted(corners, key=lambda c: c[0]))
    top, bottom = (round(max(0.0, min(1.0, c[1])) * height, 2) for c in sorted(corners, key=lambda c: c[1]))
    # a box of no size is no face (and no box the door lets through): one that vanished in rounding too
    return (left, top, right, bottom) if right > left and bottom > top else None


def to_area(box: Box, width: int, height: int, orientation: int = 1) -> Area:
    """A box in the displayed image's pixels as an MWG area of the stored image."""
    left, top, right, bottom = box
    corners = [_stored(u / width, v / height, orientation) for u, v in ((left, top), (right, bottom))]
    u0, u1 = sorted(c[0] for c in corners)
    v0, v1 = sorted(c[1] for c in corners)
    return ((u0 + u1) / 2, (v0 + v1) / 2, u1 - u0, v1 - v0)


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not meet)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Found:
    """The face regions of one XMP packet, as it states them: names and areas, and the size of
    the image they were applied to."""

    def __init__(self, faces: list[tuple[str | None, Area]], applied: tuple[int, int] | None):
        self.faces = faces
        self.applied = applied

    def boxes(self, width: int, height: int, orientation: int = 1) -> list[dict]:
        """The named ones as {"name", "box"} in the displayed image of `width` x `height`."""
        if orientation in QUARTER_TURNS and self.applied and _shape(self.applied) == _shape((width, height)) != 0:
            orientation = 1  # written in the displayed frame (see the module's docstring)
        kept = []
        for name, area in self.faces:
            box = to_box(area, width, height, orientation) if name else None
            if box is not None:
                kept.append({"name": name, "box": list(box)})
        return kept


def _shape(size: tuple[int, int]) -> int:
    """1 for landscape, -1 for portrait, 0 for square."""
    return (size[0] > size[1]) - (size[0] < size[1])


def read(data: bytes) -> Found | None:
    """The MWG face regions of an XMP packet; None when it states none (no mwg-rs:Regions);
    XMPError when it is not XMP recops reads."""
    props = xmp.properties(xmp.parse(data)[0])
    if f"{{{xmp.MWG_RS}}}Regions" not in props:
        return None
    applied, entries = xmp.regions_of(props)
    faces = []
    for entry in entries[:MAX_REGIONS]:
        kind = xmp.field(entry, xmp.MWG_RS, "Type")
        area = area_of(entry)
        if area is not None and (kind in (None, "") or (isinstance(kind, str) and kind.strip() == "Face")):
            faces.append((clean_text(xmp.field(entry, xmp.MWG_RS, "Name"), MAX_NAME), area))
    return Found(faces, _applied(applied))


def area_of(entry: dict) -> Area | None:
    """An entry's stArea as (x, y, w, h), or None unless it is a sound normalised area."""
    area = xmp.field(entry, xmp.MWG_RS, "Area")
    if not isinstance(area, dict):
        return None
    unit = xmp.field(area, xmp.ST_AREA, "unit")
    if unit not in (None, "normalized"):
        return None
    values = [_fraction(xmp.field(area, xmp.ST_AREA, k)) for k in ("x", "y", "w", "h")]
    if any(v is None for v in values) or values[2] <= 0 or values[3] <= 0:
        return None
    return tuple(values)


def _fraction(value: object) -> float | None:
    try:
        number = float(value) if isinstance(value, str) and len(value) < 40 else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and -1 <= number <= 2 else None


def _applied(applied: dict) -> tuple[int, int] | None:
    try:
        size = (int(xmp.field(applied, xmp.ST_DIM, "w")), int(xmp.field(applied, xmp.ST_DIM, "h")))
    except (TypeError, ValueError):
        return None
    return size if 0 < size[0] < 1 << 20 and 0 < size[1] < 1 << 20 else None


def embedded(source) -> Found | None:
    """The face regions of the XMP packet inside a photo (bytes, or an image Pillow opened);
    None when it has none. XMPError when its packet is broken."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        from .imageinfo import open_image

        try:
            with open_image(bytes(source)) as image:
                return embedded(image)
        except xmp.XMPError:
            raise
        except Exception:  # not an image Pillow opens: importing says why elsewhere
            return None
    packet = source.info.get("xmp") or source.info.get("XML:com.adobe.xmp")
    if not packet and hasattr(source, "tag_v2"):  # TIFF keeps XMP in tag 700
        packet = source.tag_v2.get(700)
    if isinstance(packet, str):
        packet = packet.encode("utf-8")
    return read(bytes(packet)) if isinstance(packet, (bytes, bytearray)) and packet else None
