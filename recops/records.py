"""Constructors of the records the core writes; the stream format is a stable contract.

New fields may appear in a record type; existing ones never change meaning.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any


def timestamp() -> str:
    """UTC time in ISO 8601 with microseconds: sorts as text, reads as a date."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def error_record(input: str, stage: str, reason: str, kind: str = "failed", **extra: Any) -> dict:
    """What failed (`input`: a path or an id), where (`stage`), why, and a stable `kind` slug."""
    return {"type": "error", "input": input, "stage": stage, "kind": kind, "reason": reason, **extra}


def warning_record(input: str, stage: str, reason: str, kind: str) -> dict:
    """As an error record, for something harmless that a person should still hear of."""
    return {**error_record(input, stage, reason, kind), "type": "warning"}


def image_record(
    id: str,
    size: int,
    media_type: str,
    width: int,
    height: int,
    paths: list[str],
    consent: bool,
    orientation: int = 1,
    ts: str | None = None,
    query: bool = False,
    pages: int = 1,
    video: dict | None = None,
) -> dict:
    """An image: its content id (xxh3-128 hex), display size (after EXIF orientation), pages (of
    a multi-page TIFF) and origins; for a video, `video` holds its duration, fps and codec."""
    record = {
        "type": "image",
        "id": id,
        "size": size,
        "media_type": media_type,
        "width": width,
        "height": height,
        "paths": paths,
        "consent": consent,
        "ts": ts or timestamp(),
    }
    if orientation != 1:
        record["orientation"] = orientation
    if query:
        record["query"] = True
    if pages > 1:
        record["pages"] = pages
    if video:
        record.update(video)
    return record
