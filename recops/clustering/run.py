"""rx-cluster's core: group a dataset's faces into people, all of them or only the new ones.

A full run clusters every face. After that a run is incremental: the faces embedded since join
the stored clusters or form new ones, and the stored clusters stay as they are (two of them
never merge). A run is full again when asked (--full), when the settings differ from those of
the stored clustering, or when a person's link, rejection or deleted identity contradicts it.

The faces clustered are those rx-match searches: every embedded face of the dataset's model but
deleted ones and those of recognitions' query photos that nobody linked to an identity.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .. import images
from ..deletions import Deletions
from ..errors import UsageError
from ..faces import FaceCatalog
from ..id_arrays import id_keys, sorting
from ..identities import IdentityView
from ..quality import score_of
from ..records import timestamp
from ..store.dataset import Dataset
from ..stream import BadInput, Emitter
from ..thresholds import calibration_of
from . import history, space
from .folders import check_target, write_folders
from .graph import Neighbourhood, Nodes
from .groups import Group, Rules, parts
from .linkage import GUARD, average_linkage
from .naming import STAGE
from .whispers import chinese_whispers

logger = logging.getLogger("recops")
METHODS = ("average", "chinese-whispers")
NEIGHBOURS = 20


@dataclass(frozen=True)
class ClusterOptions:
    threshold: float | None = None
    """In the dataset's metric; None: the calibrated default for the number of faces clustered
    (space.calibrated_threshold), else a share of deepface's for the model and metric."""
    method: str = "average"
    neighbours: int = NEIGHBOURS
    seed: int = 0
    full: bool = False
    search_k: int | None = None
    jobs: int = 1
    min_quality: float | None = None
    """Faces of a lower quality score stay out of every cluster."""


@dataclass
class Outcome:
    clusters: list[dict]
    """Every current cluster, labelled (0 = the largest)."""
    summary: dict
    """The run's clustering record."""


def cluster_and_write(
    dataset: Dataset,
    options: ClusterOptions,
    out: Emitter,
    skip_single_faces: bool = False,
    directory: str | None = None,
    items: Iterable = (),
) -> Outcome:
    """rx-cluster and dataset-cluster-faces: records of `items` pass on, then the clusters (those
    of two faces or more with `skip_single_faces`), written to folders of crops in `directory`,
    then the run's clustering record."""
    if directory:
        check_target(directory)
    for item in items:
        if isinstance(item, BadInput):
            out.bad_input(item)
        elif isinstance(item, dict):
            out.emit(item)
        else:
            out.fail(
                item, STAGE, "rx-cluster reads records, not paths: it clusters the dataset's faces", "not-a-record"
            )
    outcome = cluster_dataset(dataset, options)
    shown = [c for c in outcome.clusters if c["size"] > 1 or not skip_single_faces]
    for cluster in shown:
        out.emit(cluster)
    if directory:
        write_folders(dataset, shown, directory, out, options.jobs)
    out.emit(outcome.summary)
    return outcome


def settings_of(dataset: Dataset, options: ClusterOptions, faces: int) -> dict:
    model, metric = dataset.config.model, dataset.config.metric
    calibration = calibration_of(dataset)
    if options.threshold is not None:
        threshold = options.threshold
    elif calibration is not None:
        threshold = space.calibrated_threshold(calibration.curve(metric), faces)
    else:
        try:
            threshold = space.default_threshold(model, metric)
        except KeyError:
            raise UsageError(f"deepface has no threshold for model {model!r} to start from: give --threshold") from None
    return {
        "threshold": threshold,
        "metric": metric,
        "method": options.method,
        "model": model,
        "neighbours": options.neighbours,
    }


def _shared_pictures(dataset: Dataset, nodes: Nodes) -> dict[int, str]:
    """Node -> what two faces of one person never share (a photo, or a frame of a video: a
    video's faces at other times may be one person, as the sightings of one track are), for the
    nodes that share one with another node."""
    order = sorting(nodes.images.raw)
    keys = id_keys(nodes.images.raw)[order]
    same = keys[1:] == keys[:-1]
    shared = np.zeros(len(nodes), bool)
    shared[order[1:][same]] = shared[order[:-1][same]] = True
    candidates = np.flatnonzero(shared).tolist()
    if not candidates:
        return {}
    catalog = FaceCatalog.of(dataset)
    pictures = {}
    for node in candidates:
        image, time = nodes.images[node], (catalog.get(nodes.faces[node]) or {}).get("time")
        pictures[node] = image if time is None else f"{image}@{time}"
    count = Counter(pictures.values())
    return {node: picture for node, picture in pictures.items() if count[picture] > 1}


def cluster_dataset(dataset: Dataset, options: ClusterOptions = ClusterOptions()) -> Outcome:
    started = time.monotonic()
    if options.method not in METHODS:
        raise ValueError(f"unknown method {options.method!r}; choose from {', '.join(METHODS)}")
    deletions = Deletions.of(dataset)
    view = IdentityView.of(dataset)
    queries = {i["id"] for i in images.ImageCatalog.of(dataset) if i.get("query")}

    faces = FaceCatalog.of(dataset) if options.min_quality is not None else None

    def eligible(face: str, image: str) -> bool:
        score = score_of(faces.get(face) or {}) if faces is not None else None
        if score is not None and score < options.min_quality:
            return False
        return not deletions.hides(face, image) and (image not in queries or face in view.face_identity)

    hood = Neighbourhood(dataset, dataset.config.model, dataset.config.metric, eligible, options.search_k)
    nodes, node_of = hood.nodes, hood.node_of
    settings = settings_of(dataset, options, len(nodes))
    phases = {"read": time.monotonic() - started}
    logger.info("%d faces read in %.1f s", len(nodes), phases["read"])
    stored = None if options.full else history.current(dataset, lambda face: face not in node_of)
    reason = _why_full(stored, settings, view) if not options.full else "--full"
    if reason:
        logger.info("clustering all %d faces (%s)", len(nodes), reason)
        stored = None
    linked = dict(_by_node(node_of, list(view.face_identity.items())))
    rejected: dict[int, set[str]] = {}
    for node, identity in _by_node(node_of, list(view.rejected)):
        rejected.setdefault(node, set()).add(identity)
    stored_clusters = list(stored.clusters.items()) if stored else []
    members = node_of.positions([f for _, c in stored_clusters for f in c["faces"]])
    bounds = np.cumsum([0] + [len(c["faces"]) for _, c in stored_clusters])
    previous = [
        Group(members[start:end].tolist(), c.get("identity"), id)
        for (id, c), start, end in zip(stored_clusters, bounds[:-1].tolist(), bounds[1:].tolist())
    ]
    waiting = np.ones(len(nodes), bool)
    waiting[members] = False
    asked = np.flatnonzero(waiting)
    run = history.new_run()
    if stored and not len(asked):
        summary = _summary(run, False, settings, nodes, stored.clusters, 0, 0, 0, started, phases)
        return Outcome(history.labelled(list(stored.clusters.values())), summary)
    logger.info("clustering %d of %d faces", len(asked), len(nodes))
    rules = Rules.of(_shared_pictures(dataset, nodes), linked, rejected, previous)
    limit = space.to_half_square(settings["metric"], settings["threshold"])
    mark = time.monotonic()
    edges = hood.edges(asked, options.neighbours, limit, options.jobs)
    phases["graph"] = time.monotonic() - mark
    logger.info("%d edges found in %.1f s", len(edges.a), phases["graph"])
    mark = time.monotonic()
    groups = _cluster(nodes, edges, rules, limit, options)
    phases["group"] = time.monotonic() - mark
    logger.info("%d groups made in %.1f s", len(groups), phases["group"])
    current, changed = _records(groups, nodes, view, stored, settings, run)
    labelled = _label(current)
    summary = _summary(
        run, stored is None, settings, nodes, labelled, len(changed), len(asked), len(edges.a), started, phases
    )
    history.store_run(dataset, changed, summary)
    return Outcome(labelled, summary)


def _by_node(node_of, pairs: list[tuple[str, str]]) -> list[tuple[int, str]]:
    """(face, identity) pairs as (node, identity), for the faces among the nodes."""
    at = node_of.positions([face for face, _ in pairs]).tolist()
    return [(node, identity) for node, (_, identity) in zip(at, pairs) if node >= 0]


def _why_full(stored: history.Clustering | None, settings: dict, view: IdentityView) -> str | None:
    """Why the stored clustering cannot simply grow (None: it can)."""
    if stored is None:
        return "no clustering stored yet"
    differ = [k for k, v in settings.items() if k != "threshold" and stored.full.get(k) != v]
    if differ or abs(stored.full.get("threshold", -1) - settings["threshold"]) > 1e-9:
        return "the settings differ from the stored clustering's"
    seen: set[str] = set()
    for c in stored.clusters.values():
        identity = c.get("identity")
        held = {view.face_identity[f] for f in c["faces"] if f in view.face_identity}
        if held - {identity} or (identity and (identity not in view.identities or identity in seen)):
            return "identity links changed since the stored clustering"
        if identity and any((f, identity) in view.rejected for f in c["faces"]):
            return "rejections changed since the stored clustering"
        seen.add(identity)
    return None


def _cluster(nodes: Nodes, edges, rules: Rules, limit: float, options: ClusterOptions) -> list[Group]:
    part_of = np.full(len(nodes), -1, np.int64)
    found = parts(len(nodes), edges.a, edges.b, rules.seeds)
    for number, part in enumerate(found):
        part_of[part] = number
    order = np.argsort(part_of[edges.a], kind="stable")
    a, b = edges.a[order], edges.b[order]
    bounds = np.searchsorted(part_of[a], np.arange(len(found) + 1))
    seeds_of: dict[int, list[Group]] = {}
    groups: list[Group] = []
    for seed in rules.seeds:
        if part_of[seed.nodes[0]] >= 0:
            seeds_of.setdefault(int(part_of[seed.nodes[0]]), []).append(seed)
        else:
            groups.append(seed)
    rng = np.random.default_rng(options.seed)
    for number, part in enumerate(found):
        span = slice(bounds[number], bounds[number + 1])
        seeds = seeds_of.get(number, [])
        if options.method == "average":
            groups += average_linkage(part, a[span], b[span], nodes.vectors, rules, seeds, limit)
        else:
            groups += chinese_whispers(part, a[span], b[span], rules, seeds, rng)
    alone = np.flatnonzero(part_of < 0)
    seeded = {n for g in groups for n in g.nodes}
    groups += [Group([int(n)]) for n in alone if n not in seeded]
    return groups


def _records(
    groups: list[Group], nodes: Nodes, view: IdentityView, stored, settings: dict, run: str
) -> tuple[list[dict], list[dict]]:
    """Every current cluster, and those this run states (all of them in a full run); `groups` is
    emptied on the way."""
    current, changed = [], []
    for at, group in enumerate(groups):
        groups[at] = None  # each group goes as its record comes: both at once would double the peak
        faces = [nodes.faces[n] for n in group.nodes]
        before = stored.clusters.get(group.cluster) if stored and group.cluster else None
        if before is not None and len(before["faces"]) == len(faces):
            current.append(before)
            continue
        identity = view.identities.get(group.identity) if group.identity else None
        id = group.cluster or history.cluster_id(faces, group.identity)
        record = history.cluster_record(id, faces, identity, settings, run)
        current.append(record)
        changed.append(record)
    return current, changed


def _label(current: list[dict]) -> list[dict]:
    """The clusters labelled as history.labelled labels them, but in place: they are this run's
    own records (those it states among them), and a copy of them all takes gigabytes at ten
    million faces."""
    ranked = history.ranked(current)
    for label, cluster in enumerate(ranked):
        cluster["size"], cluster["label"] = len(cluster["faces"]), label
    return ranked


def _summary(
    run: str,
    full: bool,
    settings: dict,
    nodes: Nodes,
    clusters,
    changed: int,
    asked: int,
    edges: int,
    started: float,
    phases: dict,
) -> dict:
    return {
        "type": "clustering",
        "id": run,
        "full": full,
        **settings,
        "guard": GUARD,
        "faces": len(nodes),
        "clusters": len(clusters),
        "changed": changed,
        "clustered": asked,
        "edges": edges,
        "seconds": round(time.monotonic() - started, 3),
        "phases": {k: round(v, 3) for k, v in phases.items()},
        "ts": timestamp(),
    }
