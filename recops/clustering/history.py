"""Cluster records and the `clusters` log, where the last clustering is kept for the next one.

    clusters log: cluster records of each run, then the run's `clustering` record, last: a run
                  whose clustering record is missing (a crash) is ignored. A full run states
                  every cluster; an incremental run (or naming a cluster) states again the
                  clusters it changed, under their ids, and the new ones.

The current clustering is the latest full run and every complete run after it, folded in the
order of their clustering records (timestamp, then content), so copies merged by copying files
agree: a cluster is what its latest record says, and a face listed by two clusters belongs to the
later record's. Deleted faces are left out when it is read.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Callable

import xxhash

from ..folding import order
from ..logs import CLUSTERS
from ..records import timestamp
from ..store.dataset import Dataset
from ..store.segments import RecordLog, Segment, SegmentDamaged

logger = logging.getLogger("recops")


def cluster_id(faces: list[str], identity: str | None = None) -> str:
    """Stable: an identity's cluster is named after the identity, any other after its faces."""
    key = f"identity:{identity}" if identity else "\n".join(sorted(faces))
    return xxhash.xxh3_128_hexdigest(key.encode())


def new_run() -> str:
    return os.urandom(16).hex()


def cluster_record(id: str, faces: list[str], identity: dict | None, settings: dict, run: str) -> dict:
    return {
        "type": "cluster",
        "id": id,
        "faces": sorted(faces),
        "size": len(faces),
        "identity": identity["id"] if identity else None,
        "identity_name": identity.get("name") if identity else None,
        "label": None,
        **settings,
        "run": run,
        "ts": timestamp(),
    }


def ranked(clusters: list[dict]) -> list[dict]:
    """The clusters largest first, ties by id: label 0 is the first."""
    return sorted(clusters, key=lambda c: (-len(c["faces"]), c["id"]))


def labelled(clusters: list[dict]) -> list[dict]:
    """The clusters largest first, each with its label (0 = the largest; ties by id)."""
    return [{**c, "size": len(c["faces"]), "label": label} for label, c in enumerate(ranked(clusters))]


@dataclass
class Clustering:
    """The current clustering: the settings of its runs and its clusters by id."""

    summary: dict
    """The clustering record of the latest run folded in."""
    full: dict
    """The clustering record of the full run it starts from."""
    clusters: dict[str, dict]


def _read(record_log: RecordLog, segment: Segment) -> list[dict]:
    try:
        return record_log.admitted(segment)
    except (SegmentDamaged, FileNotFoundError) as exc:  # rx-gc may compact segments meanwhile
        logger.warning("skipping record file %s: %s (run rx-fsck)", segment.path, exc)
        return []


def _runs(dataset: Dataset) -> tuple[list[dict], dict[str, list[str]]]:
    """Every clustering record, and the segments holding each run's records."""
    summaries, segments_of = [], {}
    clusters = dataset.log(CLUSTERS)
    for segment in clusters.segments():
        for record in _read(clusters, segment):
            if record.get("type") == "clustering":
                summaries.append(record)
            if record.get("run") or record.get("type") == "clustering":
                run = record.get("run") or record.get("id")
                if not segments_of.get(run) or segments_of[run][-1] != segment:
                    segments_of.setdefault(run, []).append(segment)
    return summaries, segments_of


def current(dataset: Dataset, hidden: Callable[[str], bool]) -> Clustering | None:
    """The current clustering, without the faces `hidden` says are gone; None before any run."""
    summaries, segments_of = _runs(dataset)
    summaries.sort(key=order)
    fulls = [i for i, s in enumerate(summaries) if s.get("full")]
    if not fulls:
        return None
    runs = summaries[fulls[-1] :]
    wanted = {s["id"]: rank for rank, s in enumerate(runs)}
    stated: list[tuple[int, dict]] = []
    for segment in dict.fromkeys(segment for run in wanted for segment in segments_of.get(run, [])):
        for record in _read(dataset.log(CLUSTERS), segment):
            if record.get("type") == "cluster" and record.get("run") in wanted:
                stated.append((wanted[record["run"]], record))
    stated.sort(key=lambda s: s[0])  # a run states each cluster and each face once: runs give the order
    clusters: dict[str, dict] = {}
    owner: dict[str, str] = {}
    for _, record in stated:
        clusters[record["id"]] = record
        for face in record["faces"]:
            owner[face] = record["id"]
    live = {}
    for id, record in clusters.items():
        faces = [f for f in record["faces"] if owner.get(f) == id and not hidden(f)]
        if faces:
            live[id] = {**record, "faces": faces, "size": len(faces)}
    return Clustering(runs[-1], runs[0], live)


def store_run(dataset: Dataset, records: list[dict], summary: dict) -> None:
    """Append a run: its cluster records, then its clustering record, flushed."""
    clusters = dataset.log(CLUSTERS)
    for record in records:
        clusters.append(record)
    clusters.append(summary)
    clusters.flush()
