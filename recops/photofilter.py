"""Which photos rx-ls keeps by when, where and with what they were taken (photometa.py's fields).

A date is compared with the photo's local time, as its camera's clock said it (the time of day
where it was taken, the offset set aside), so "taken on 4 May" means that day where the photo
was taken. A period is whole: `--taken-after 2019-05` keeps May 2019 onwards and
`--taken-before 2019-05` keeps photos to the end of May 2019. A photo that lacks the field a
filter asks about is left out.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass

from .errors import UsageError
from .photometa import camera

EARTH_KM = 6371.0088
"""The mean radius of the Earth (IUGG)."""
_PERIOD = re.compile(r"(\d{4})(?:-(\d\d)(?:-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?)?)?")


@dataclass(frozen=True)
class PhotoFilter:
    after: str | None = None
    """Local times at or after this one ("YYYY-MM-DDTHH:MM:SS") pass."""
    before: str | None = None
    """Local times before this one pass."""
    near: tuple[float, float, float] | None = None
    """Latitude, longitude and kilometres."""
    camera: str | None = None
    """Text that the camera's make and model hold, in any case."""

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.after, self.before, self.near, self.camera))

    def keeps(self, image: dict) -> bool:
        if self.after is not None or self.before is not None:
            taken = image.get("taken")
            if not isinstance(taken, str):
                return False
            local = taken[:19]
            if (self.after is not None and local < self.after) or (self.before is not None and local >= self.before):
                return False
        if self.near is not None:
            lat, lon = image.get("latitude"), image.get("longitude")
            if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
                return False
            if distance_km(self.near[0], self.near[1], lat, lon) > self.near[2]:
                return False
        return self.camera is None or self.camera.casefold() in camera(image).casefold()


def photo_filter(
    taken_after: str | None = None,
    taken_before: str | None = None,
    near: str | None = None,
    camera_text: str | None = None,
) -> PhotoFilter:
    """The filter of rx-ls's options, each checked; UsageError names the one that is wrong."""
    return PhotoFilter(
        period(taken_after, "--taken-after")[0] if taken_after else None,
        period(taken_before, "--taken-before")[1] if taken_before else None,
        place(near) if near else None,
        camera_text or None,
    )


def period(text: str, label: str) -> tuple[str, str]:
    """The start of the period a date names and the start of the one after ("2019-05" is May 2019)."""
    match = _PERIOD.fullmatch(text.strip())
    if not match:
        raise UsageError(f"{label} {text!r}: give a date, YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]")
    parts = [int(p) if p else None for p in match.groups()]
    given = sum(p is not None for p in parts)
    try:
        start = _dt.datetime(parts[0], parts[1] or 1, parts[2] or 1, parts[3] or 0, parts[4] or 0, parts[5] or 0)
    except ValueError as exc:
        raise UsageError(f"{label} {text!r}: {exc}") from None
    try:
        if given == 1:
            end = start.replace(year=start.year + 1)
        elif given == 2:
            end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        else:
            end = start + {3: _dt.timedelta(days=1), 5: _dt.timedelta(minutes=1)}.get(given, _dt.timedelta(seconds=1))
    except (ValueError, OverflowError):  # the period ends with the year 9999
        end = _dt.datetime.max
    return start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds")


def place(text: str) -> tuple[float, float, float]:
    """ "LAT,LON,KM" as numbers, each within its range."""
    try:
        lat, lon, km = (float(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--near {text!r}: give LAT,LON,KM, such as 48.8584,2.2945,5") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and math.isfinite(km) and km > 0):
        raise UsageError(f"--near {text!r}: latitude -90 to 90, longitude -180 to 180, and kilometres over 0")
    return lat, lon, km


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance between two points (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))
