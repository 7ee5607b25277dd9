"""A readable table of records, for a terminal; pipes get the records themselves."""

from __future__ import annotations

import shutil
from typing import Callable, Iterable

from ..photometa import camera
from ..video.times import clock

Column = tuple[str, Callable[[dict], object]]


def _length(image: dict) -> str:
    duration = image.get("duration")
    return f" {clock(duration)}" if isinstance(duration, (int, float)) and duration >= 0 else ""


def _at(face: dict) -> str:
    """Where a face is in its image: a video's time, a later page."""
    time, page = face.get("time"), face.get("page")
    if isinstance(time, (int, float)) and time >= 0:
        return clock(time)
    return f"page {page + 1}" if isinstance(page, int) and page > 0 else ""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("\n", " ")


def _checked(record: dict) -> str:
    problems = record.get("fsck_problems")
    return "" if problems is None else "ok" if problems == 0 else f"{problems} problem(s)"


SPARSE = {"taken", "camera", "place"}
"""Columns shown only when a row has something in them (photos without EXIF have none)."""


def render(records: Iterable[dict], columns: list[Column]) -> str:
    rows = [[_cell(get(r)) for _, get in columns] for r in records]
    shown = [i for i, (name, _) in enumerate(columns) if name not in SPARSE or any(row[i] for row in rows)]
    if len(shown) < len(columns):
        columns, rows = [columns[i] for i in shown], [[row[i] for i in shown] for row in rows]
    header = [name for name, _ in columns]
    widths = [max([len(header[i])] + [len(row[i]) for row in rows]) for i in range(len(columns))]
    limit = shutil.get_terminal_size((120, 24)).columns
    # The last column (usually a path or description) takes what the terminal has left.
    room = max(12, limit - sum(w + 2 for w in widths[:-1]))
    widths[-1] = min(widths[-1], room)
    lines = []
    for row in [header] + rows:
        cells = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(row, widths)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    lines.append(f"({len(rows)} {'row' if len(rows) == 1 else 'rows'})")
    return "\n".join(lines) + "\n"


COLUMNS: dict[str, list[Column]] = {
    "datasets": [
        ("id", lambda r: str(r.get("id", ""))[:12]),
        ("images", lambda r: r.get("images")),
        ("detector", lambda r: r.get("detector")),
        ("model", lambda r: r.get("model")),
        ("metric", lambda r: r.get("metric")),
        ("threshold", lambda r: r.get("threshold")),
        ("path", lambda r: r.get("path")),
    ],
    "images": [
        ("id", lambda r: r["id"][:12]),
        ("type", lambda r: r.get("media_type", "").split("/")[-1] + _length(r)),
        ("size", lambda r: f"{r.get('width')}x{r.get('height')}"),
        ("bytes", lambda r: r.get("size")),
        ("consent", lambda r: r.get("consent")),
        ("taken", lambda r: (r.get("taken") or "")[:16].replace("T", " ")),
        ("camera", lambda r: camera(r)),
        ("place", lambda r: f"{r['latitude']:.4f},{r['longitude']:.4f}" if "latitude" in r else ""),
        (
            "path",
            lambda r: (
                (r.get("paths") or [""])[0] + (f" (+{len(r['paths']) - 1})" if len(r.get("paths", [])) > 1 else "")
            ),
        ),
    ],
    "faces": [
        ("id", lambda r: str(r.get("id", ""))[:12]),
        ("image", lambda r: str(r.get("image", ""))[:12]),
        ("box", lambda r: ",".join(str(v) for v in r.get("box", []))),
        ("at", _at),
        ("detector", lambda r: r.get("detector")),
        ("confidence", lambda r: r.get("confidence")),
        ("identity", lambda r: r.get("identity_name")),
    ],
    "identities": [
        ("id", lambda r: str(r.get("id", ""))[:12]),
        ("name", lambda r: r.get("name")),
        ("faces", lambda r: r.get("faces")),
        ("color", lambda r: r.get("color")),
        ("description", lambda r: r.get("description")),
    ],
    "objects": [
        ("kind", lambda r: r.get("kind")),
        ("id", lambda r: r.get("id")),
        ("path", lambda r: r.get("path")),
    ],
    "proposals": [
        ("face", lambda r: r.get("face")),
        ("identity", lambda r: r.get("identity_name")),
        ("distance", lambda r: r.get("distance")),
        ("threshold", lambda r: r.get("threshold")),
        ("matched face", lambda r: r.get("candidate")),
    ],
    "migration": [
        ("original dataset", lambda r: r.get("original_dataset")),
        ("kind", lambda r: r.get("kind")),
        ("in the original", lambda r: r.get("original")),
        ("migrated", lambda r: r.get("migrated")),
        ("not migrated", lambda r: r.get("not_migrated")),
        ("rx-fsck", lambda r: _checked(r)),
        ("dataset", lambda r: r.get("dataset")),
    ],
}
