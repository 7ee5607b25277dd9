"""How a time in a video is written for people: minutes and seconds, hours past the hour."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """ "01:05" for 65.4 seconds, "1:02:03" past the hour."""
    whole = int(seconds)
    hours, minutes = divmod(whole // 60, 60)
    return f"{hours}:{minutes:02d}:{whole % 60:02d}" if hours else f"{minutes:02d}:{whole % 60:02d}"
