"""When, where and with what a photo was taken, from its EXIF: the fields an image record keeps.

EXIF is written by cameras, phones and editors of every quality, and may be written by anyone:
every value is checked before it is kept (a date that is a date, a latitude within 90 degrees,
finite numbers, short text without control characters), and a value that fails is left out.
A broken EXIF block never refuses a photo: at worst it has no metadata.

    taken          the local time the photo was taken, ISO 8601, with its UTC offset when the
                   camera recorded one: DateTimeOriginal (OffsetTimeOriginal), else
                   DateTimeDigitized (OffsetTimeDigitized), else DateTime (OffsetTime)
    latitude       decimal degrees, north positive
    longitude      decimal degrees, east positive
    altitude       metres above sea level (negative below)
    camera_make    the camera's maker
    camera_model   its model
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import warnings

MAX_TEXT = 128
"""A make or model longer than this is cut: real ones are a few dozen characters."""
MAX_ALTITUDE = 100_000.0
"""Metres: above this (or this far below the sea) a GPS altitude is noise."""

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_MAKE, _MODEL, _DATETIME = 0x010F, 0x0110, 0x0132
_ORIGINAL, _DIGITIZED = 0x9003, 0x9004
_OFFSET, _OFFSET_ORIGINAL, _OFFSET_DIGITIZED = 0x9010, 0x9011, 0x9012
_GPS_STATUS = 9
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_EXIF_TIME = re.compile(r"(\d{4})[:-](\d\d)[:-](\d\d)[ T](\d\d):(\d\d):(\d\d)")
_OFFSET_TEXT = re.compile(r"([+-])(\d\d):(\d\d)")


def describe(source) -> dict:
    """The metadata fields of a photo (bytes, or an image Pillow opened), only those found and
    sound; {} when there are none or the EXIF cannot be read."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        from .imageinfo import open_image

        try:
            with open_image(bytes(source)) as image:
                return describe(image)
        except Exception:  # not an image Pillow opens: no metadata, and importing says why elsewhere
            return {}
    fields: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's "Corrupt EXIF data": the photo's, and what is sound is kept
        try:
            exif = source.getexif()
        except Exception:  # a broken EXIF block must not refuse an otherwise sound photo
            return {}
        for read in (_taken, _place, _camera):
            try:
                fields.update(read(exif))
            except Exception:  # one broken part leaves the others
                continue
    return fields


def _ifd(exif, tag: int) -> dict:
    try:
        return exif.get_ifd(tag) or {}
    except Exception:
        return {}


def _taken(exif) -> dict:
    sub = _ifd(exif, _EXIF_IFD)
    for value, offset in (
        (sub.get(_ORIGINAL), sub.get(_OFFSET_ORIGINAL)),
        (sub.get(_DIGITIZED), sub.get(_OFFSET_DIGITIZED)),
        (exif.get(_DATETIME), sub.get(_OFFSET)),
    ):
        taken = exif_time(value, offset)
        if taken:
            return {"taken": taken}
    return {}


def exif_time(value: object, offset: object = None) -> str | None:
    """EXIF's "YYYY:MM:DD HH:MM:SS" (and "+HH:MM") as ISO 8601, or None unless it is a real time."""
    text = _plain(value)
    match = _EXIF_TIME.fullmatch(text.strip()) if text else None
    if not match:
        return None
    try:
        moment = _dt.datetime(*(int(part) for part in match.groups()))
    except ValueError:  # 0000:00:00 00:00:00, the 31st of February
        return None
    if moment.year < 1826:  # before the first photograph: a placeholder, not a date
        return None
    zone = _offset(offset)
    return moment.isoformat() + (zone or "")


def _offset(value: object) -> str | None:
    text = _plain(value)
    match = _OFFSET_TEXT.fullmatch(text.strip()) if text else None
    if not match:
        return None
    hours, minutes = int(match.group(2)), int(match.group(3))
    if hours > 14 or minutes > 59 or (hours == 14 and minutes):
        return None
    return f"{match.group(1)}{hours:02d}:{minutes:02d}"


def _place(exif) -> dict:
    gps = _ifd(exif, _GPS_IFD)
    if not gps or _plain(gps.get(_GPS_STATUS)).strip().upper() == "V":  # V: void, the receiver had no fix
        return {}
    latitude = _coordinate(gps.get(2), gps.get(1), "N", "S", 90)
    longitude = _coordinate(gps.get(4), gps.get(3), "E", "W", 180)
    if latitude is None or longitude is None or (latitude == 0 and longitude == 0):
        return {}  # 0, 0 is where a receiver without a fix says it is
    place = {"latitude": latitude, "longitude": longitude}
    altitude = _number(gps.get(6))
    if altitude is not None and abs(altitude) <= MAX_ALTITUDE:
        below = _plain(gps.get(5)) in ("1", "\x01") or gps.get(5) == 1
        place["altitude"] = round(-altitude if below else altitude, 2)
    return place


def _coordinate(value: object, ref: object, positive: str, negative: str, limit: float) -> float | None:
    """Degrees, minutes, seconds and a hemisphere as signed decimal degrees; None unless all are
    sound (without its hemisphere a coordinate may be on the wrong side of the world)."""
    side = _plain(ref).strip().upper()
    if side not in (positive, negative):
        return None
    parts = value if isinstance(value, (tuple, list)) else (value,)
    numbers = [_number(part) for part in parts[:3]]
    if not numbers or any(n is None or n < 0 for n in numbers):
        return None
    degrees = numbers[0] + (numbers[1] / 60 if len(numbers) > 1 else 0) + (numbers[2] / 3600 if len(numbers) > 2 else 0)
    if len(numbers) > 1 and (numbers[1] >= 60 or (len(numbers) > 2 and numbers[2] >= 60)):
        return None
    if degrees > limit:
        return None
    return round(-degrees if side == negative else degrees, 7)


def _number(value: object) -> float | None:
    if isinstance(value, (tuple, list)) and len(value) == 2:  # a rational as (numerator, denominator)
        value = value[0] / value[1] if _number(value[1]) else None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _camera(exif) -> dict:
    found = {}
    for tag, field in ((_MAKE, "camera_make"), (_MODEL, "camera_model")):
        text = clean_text(exif.get(tag))
        if text:
            found[field] = text
    return found


def clean_text(value: object, limit: int = MAX_TEXT) -> str | None:
    """Text from outside: control characters out, spaces trimmed, at most `limit` characters."""
    text = _CONTROL.sub(" ", _plain(value)).strip()
    return " ".join(text.split())[:limit].strip() or None


def _plain(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.rstrip("\x00") if isinstance(value, str) else ""


def camera(record: dict) -> str:
    """Make and model as people say them ("Canon EOS 5D", not "Canon Canon EOS 5D")."""
    make, model = record.get("camera_make") or "", record.get("camera_model") or ""
    if make and model.lower().startswith(make.split()[0].lower()):
        return model
    return f"{make} {model}".strip()
