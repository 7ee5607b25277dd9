"""rx-fsck's core: re-hash objects against their names, check every record file and reference.

Damage (an object whose bytes changed, a torn or altered segment, a record pointing at a missing
object) is reported as error records. Leftovers that a crash or an interrupted import leaves
behind by design (temp files, objects not yet recorded) are warnings: harmless, and a re-run or
rx-gc clears them.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from . import images
from .records import timestamp, warning_record
from .store.atomic import is_temp
from .store.dataset import Dataset
from .store.objects import ID_RE, file_id
from .store.segments import SegmentDamaged
from .stream import Emitter

STAGE = "fsck"
_REQUIRED = {"image": ("id", "size", "media_type", "width", "height", "paths")}


@dataclass
class FsckReport:
    objects: int = 0
    objects_checked: int = 0
    segments: int = 0
    records: int = 0
    problems: int = 0
    warnings: int = 0

    def record(self, dataset: Dataset) -> dict:
        return {"type": "fsck", "dataset": dataset.root, **self.__dict__, "ts": timestamp()}


def parse_sample(text: str | None) -> float | int | None:
    """`5%` is a share of the objects, `200` a count; None checks every object."""
    if text is None:
        return None
    text = text.strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else None
        count = int(text) if share is None else 0
    except ValueError:
        raise ValueError("a sample is a count of objects (200) or a share of them (5%)") from None
    if share is not None:
        if not 0 < share <= 1:
            raise ValueError("a sample share must be above 0% and at most 100%")
        return share
    if count < 0:
        raise ValueError("a sample count cannot be negative")
    return count


def fsck(dataset: Dataset, emitter: Emitter, sample: float | int | None = None, seed: int | None = None) -> FsckReport:
    report = FsckReport()

    def problem(input: str, kind: str, reason: str) -> None:
        report.problems += 1
        emitter.fail(input, STAGE, reason, kind)

    def warning(input: str, kind: str, reason: str) -> None:
        report.warnings += 1
        emitter.emit(warning_record(input, STAGE, reason, kind))

    catalog = images.ImageCatalog()
    for log in dataset.logs():
        for segment in log.segments():
            report.segments += 1
            try:
                records = segment.records()
            except SegmentDamaged as exc:
                problem(exc.path, "damaged-segment", exc.reason)
                continue
            except OSError as exc:
                problem(segment.path, "unreadable", str(exc))
                continue
            for number, record in enumerate(records, 1):
                report.records += 1
                missing = [f for f in _REQUIRED.get(record["type"], ()) if f not in record]
                if missing:
                    problem(f"{segment.path}#{number}", "invalid-record",
                            f"{record['type']} record lacks {', '.join(missing)}")
                    continue
                if record["type"] == "image":
                    if not ID_RE.match(str(record["id"])):
                        problem(f"{segment.path}#{number}", "invalid-record", f"image id {record['id']!r} is not xxh3-128 hex")
                        continue
                    catalog.add(record)
    for directory in [dataset.root] + [log.directory for log in dataset.logs()]:
        for name in sorted(os.listdir(directory)):
            if is_temp(name):
                warning(os.path.join(directory, name), "temp-file", "leftover of an interrupted write (rx-gc removes it)")

    stored = list(dataset.objects.ids())
    report.objects = len(stored)
    stored_set = set(stored)
    for image in catalog:
        if image["id"] not in stored_set:
            problem(image["id"], "missing-object", f"image recorded but its object {dataset.objects.path(image['id'])} is missing")
    for id in stored:
        if id not in catalog:
            warning(dataset.objects.path(id), "unrecorded-object",
                    "object without an image record (an interrupted import; re-importing records it)")
    for path in dataset.objects.strays():
        kind = "temp-file" if is_temp(os.path.basename(path)) else "foreign-file"
        warning(path, kind, "not an object: " + ("leftover of an interrupted write" if kind == "temp-file" else "a file recops did not write"))

    for id in _choose(stored, sample, seed):
        report.objects_checked += 1
        path = dataset.objects.path(id)
        try:
            actual = file_id(path)
        except OSError as exc:
            problem(path, "unreadable", f"cannot read object: {exc.strerror or exc}")
            continue
        if actual != id:
            problem(path, "object-mismatch", f"content hashes to {actual}, not to its name (damaged on disk or in transfer)")
    emitter.emit(report.record(dataset))
    return report


def _choose(ids: list[str], sample: float | int | None, seed: int | None) -> list[str]:
    if sample is None:
        return ids
    if isinstance(sample, float):
        count = max(1, round(len(ids) * sample)) if ids else 0
    else:
        count = min(len(ids), sample)
    return sorted(random.Random(seed).sample(ids, count))
