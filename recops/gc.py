"""rx-gc: give back the space deletions free, and merge small record files, under the exclusive lock.

Every step can be interrupted and re-run: a compacted segment is written (atomically) before the
segments it replaces are removed, so a crash in between leaves the same records twice, which
every view folds into one. Tombstones are kept: a copy of the dataset elsewhere may still hold
what they hide.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from . import images
from .deletions import Deletions
from .errors import DamagedError
from .index import INDEX_REL, build_index
from .logs import EMBEDDINGS
from .records import timestamp
from .store import layout
from .store.dataset import Dataset
from .store.segments import SegmentDamaged, encode_segments

logger = logging.getLogger("recops")
SMALL = 4 << 20
"""Segments below this size are merged; larger ones are rewritten only to drop deleted records."""
CHUNK = 64 << 20
"""Merged records are written in segments of about this size."""
LEFTOVERS = ("temp-file", "sync-leftover")


@dataclass
class GcReport:
    temp_files: int = 0
    objects_removed: int = 0
    bytes_freed: int = 0
    segments_before: int = 0
    segments_after: int = 0
    records_dropped: int = 0
    indexes_rebuilt: int = 0

    def record(self, dataset: Dataset) -> dict:
        return {"type": "gc", "dataset": dataset.root, **asdict(self), "ts": timestamp()}


def _hidden(record: dict, deleted: Deletions) -> bool:
    """Whether a record only speaks of deleted faces or images (tombstones never are)."""
    kind = record.get("type")
    if kind == "deletion":
        return False
    if kind == "image":
        return record.get("id") in deleted.images
    if kind == "face" and record.get("id") in deleted.faces:
        return True
    faces = [record.get(k) for k in ("face", "query", "candidate") if record.get(k)]
    pictures = [record.get(k) for k in ("image", "query_image", "candidate_image") if record.get(k)]
    return any(f in deleted.faces for f in faces) or any(i in deleted.images for i in pictures)


def collect_garbage(dataset: Dataset) -> GcReport:
    """Run on a dataset opened with exclusive=True."""
    report = GcReport()
    _refuse_damage(dataset)
    deleted = Deletions.of(dataset)
    for finding in layout.scan(dataset.tree):
        if finding.kind in LEFTOVERS:
            info = dataset.tree.lstat(finding.rel)
            dataset.tree.remove(finding.rel)
            report.bytes_freed += info.st_size if info else 0
            report.temp_files += 1
    recorded = {i["id"] for i in images.ImageCatalog.of(dataset)}
    for id in list(dataset.objects.ids()):
        # An object nobody recorded is what an interrupted import leaves; the import re-stores it.
        if id in deleted.images or id not in recorded:
            report.bytes_freed += dataset.objects.remove(id)
            report.objects_removed += 1
    embeddings_changed = False
    for record_log in dataset.logs():
        segments = record_log.segments()
        report.segments_before += len(segments)
        rewrite, kept, dropped = [], [], 0
        for segment in segments:
            records = segment.records()
            keep = [r for r in records if not _hidden(r, deleted)]
            if len(keep) < len(records) or segment.size() < SMALL:
                rewrite.append(segment)
                kept.extend(keep)
                dropped += len(records) - len(keep)
        report.records_dropped += dropped
        if len(rewrite) < 2 and not dropped:
            report.segments_after += len(segments)
            continue
        written = [record_log.write(data) for data in encode_segments(kept, CHUNK)]
        for segment in rewrite:
            segment.remove()
        record_log.forget_gone()
        report.segments_after += len(segments) - len(rewrite) + len(written)
        embeddings_changed |= record_log.name == EMBEDDINGS
    if embeddings_changed:
        report.indexes_rebuilt = _rebuild_indexes(dataset)
    return report


def _refuse_damage(dataset: Dataset) -> None:
    """A damaged record file hides records, and the objects they name would look like garbage; a
    link or special file must not be gone through (a linked objects/ab would lose another
    dataset's photos)."""
    for finding in layout.scan(dataset.tree):
        if finding.problem:
            raise DamagedError(
                f"{finding.path}: {finding.reason}; rx-gc removes nothing from a damaged dataset (run rx-fsck)"
            )
    for record_log in dataset.logs():
        for segment in record_log.segments():
            try:
                segment.records()
            except SegmentDamaged as exc:
                raise DamagedError(f"{exc}; rx-gc removes nothing from a damaged dataset (run rx-fsck)") from None


def _rebuild_indexes(dataset: Dataset) -> int:
    """Compaction renames the record files an index covers: rebuild the indexes there were."""
    rebuilt = 0
    for entry in dataset.tree.entries(INDEX_REL):
        if entry.is_file and entry.name.endswith(".meta") and entry.name.count(".") >= 2:
            model, space = entry.name[: -len(".meta")].rsplit(".", 1)
            if model == dataset.config.model:
                build_index(dataset, model, "euclidean" if space == "euclidean" else "cosine")
                rebuilt += 1
    return rebuilt
