"""rx-fsck's core: check the dataset's structure, re-hash objects against their names, check
every record file, every record and every reference.

Damage (an object whose bytes changed, a torn or altered segment, a record that fails the door of
shapes.py, a record pointing at a missing object) and danger (a link, a FIFO, a device, a file
too large for what its name says it is) are error records. Leftovers that a crash, an
interrupted import or an interrupted sync leaves behind (temp files, rsync's temporary files,
objects not yet recorded) and files recops did not write are warnings: harmless, and a re-run or
rx-gc clears the leftovers. Nothing is followed or opened that is not a regular file, and no
object is read for longer than a time limit, so a check never hangs.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from . import images, models, shapes
from .records import timestamp, warning_record
from .store import layout
from .store.dataset import Dataset
from .store.objects import TooSlow, hash_fd
from .store.segments import SegmentDamaged
from .store.tree import ForeignEntry
from .stream import Emitter

STAGE = "fsck"
FILE_SECONDS = 60.0
"""An object still being read after this long is reported, not waited for."""
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


def fsck(
    dataset: Dataset,
    emitter: Emitter,
    sample: float | int | None = None,
    seed: int | None = None,
    seconds_per_file: float = FILE_SECONDS,
) -> FsckReport:
    """Check the dataset's structure, every record file and record, and (a sample of) the objects.
    Open the dataset with inspect=True so one holding a link can be looked at."""
    report = FsckReport()

    def problem(input: str, kind: str, reason: str) -> None:
        report.problems += 1
        emitter.fail(input, STAGE, reason, kind)

    def warning(input: str, kind: str, reason: str) -> None:
        report.warnings += 1
        emitter.emit(warning_record(input, STAGE, reason, kind))

    reported = set()
    for finding in layout.scan(dataset.tree):
        (problem if finding.problem else warning)(finding.path, finding.kind, finding.reason)
        reported.add(finding.path)

    catalog = images.ImageCatalog()
    dims = _Dims(dataset.config.model)
    for record_log in dataset.logs():
        for segment in record_log.segments():
            report.segments += 1
            if segment.path in reported:
                continue
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
                where = f"{segment.path}#{number}"
                why = shapes.problem(record) or _missing(record)
                if why is None and record["type"] == "embedding":
                    why = dims.problem(record)
                if why is not None:
                    problem(where, "invalid-record", f"{why} (every tool skips it)")
                elif record["type"] == "image":
                    catalog.add(record)

    stored = list(dataset.objects.ids())
    report.objects = len(stored)
    stored_set = set(stored)
    for image in catalog:
        if image["id"] not in stored_set:
            problem(
                image["id"],
                "missing-object",
                f"image recorded but its object {dataset.objects.path(image['id'])} is missing",
            )
    for id in stored:
        if id not in catalog:
            warning(
                dataset.objects.path(id),
                "unrecorded-object",
                "object without an image record (an interrupted import; re-importing records it)",
            )

    for id in _choose(stored, sample, seed):
        path = dataset.objects.path(id)
        if path in reported:
            continue
        report.objects_checked += 1
        try:
            fd = dataset.objects.open(id)
        except ForeignEntry as exc:
            problem(path, exc.kind, exc.reason)
            continue
        except OSError as exc:
            problem(path, "unreadable", f"cannot read object: {exc.strerror or exc}")
            continue
        try:
            actual = hash_fd(fd, seconds=seconds_per_file)
        except TooSlow as exc:
            problem(path, "too-slow", f"{exc}: not checked (a stalled disk or mount?)")
            continue
        except OSError as exc:
            problem(path, "unreadable", f"cannot read object: {exc.strerror or exc}")
            continue
        finally:
            os.close(fd)
        if actual != id:
            problem(
                path, "object-mismatch", f"content hashes to {actual}, not to its name (damaged on disk or in transfer)"
            )
    emitter.emit(report.record(dataset))
    return report


def _missing(record: dict) -> str | None:
    missing = [f for f in _REQUIRED.get(record["type"], ()) if f not in record]
    return f"{record['type']} record lacks {', '.join(missing)}" if missing else None


class _Dims:
    """The one length every embedding of a model must have: the model's own when known, else the
    first one seen."""

    def __init__(self, model: str):
        self.expected: dict[str, int] = {}
        known = models.embedding_dim(model)
        if known:
            self.expected[model] = known

    def problem(self, record: dict) -> str | None:
        vector = record["vector"]
        length = len(vector) // 4 if isinstance(vector, (bytes, bytearray, memoryview)) else len(vector)
        expected = self.expected.setdefault(record["model"], length)
        if length != expected:
            return f"a {record['model']} vector of {length} numbers; that model's have {expected}"
        return None


def _choose(ids: list[str], sample: float | int | None, seed: int | None) -> list[str]:
    if sample is None:
        return ids
    if isinstance(sample, float):
        count = max(1, round(len(ids) * sample)) if ids else 0
    else:
        count = min(len(ids), sample)
    return sorted(random.Random(seed).sample(ids, count))
