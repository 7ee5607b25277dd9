"""The datasets a web interface serves, each with the snapshot of it that pages read.

A site opens its dataset for each read or change (holding the dataset's shared lock only that
long, so rx-gc is not shut out while the interface runs) and reads a new snapshot whenever the
record files changed, whoever changed them: the interface, a cron job, a sync.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Iterator

import xxhash

from ..datasets import dataset_record
from ..errors import RecopsError
from ..review import ReviewOptions, match_faces
from ..stages.matching import Matcher, MatchOptions
from ..store.dataset import Dataset, find_datasets
from ..vectors import Vectors
from .snapshot import SegmentCache, Snapshot, signature
from .thumbs import Thumbnails

PROPOSALS_WAIT = 3.0
"""Seconds a page waits for proposals being computed before it says so and reloads itself."""


def site_key(root: str) -> str:
    """A dataset's key in addresses: from its path, so two copies of one dataset stay apart."""
    return xxhash.xxh3_128_hexdigest(os.path.abspath(root).encode())


class Site:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.key = site_key(self.root)
        self.thumbs = Thumbnails(self.root)
        self._lock = threading.RLock()
        self._snapshot: Snapshot | None = None
        self._segments = SegmentCache()
        self._proposals: tuple[tuple, float, list[dict]] | None = None
        self._nearest: tuple[tuple, Matcher, Vectors, dict[str, int]] | None = None
        self._state = threading.Lock()
        self._computing: threading.Thread | None = None
        self._failed: Exception | None = None
        self._nearest_lock = threading.Lock()

    @contextlib.contextmanager
    def opened(self) -> Iterator[Dataset]:
        """The dataset, opened for one read or change; its appends are on disk when this ends."""
        with self._lock, Dataset.open(self.root, wait=False) as dataset:
            yield dataset

    def snapshot(self, fresh: bool = True) -> Snapshot:
        """The current snapshot; with `fresh`, read again first when the record files changed."""
        held = self._snapshot
        if held is not None and (not fresh or signature(self.root) == held.signature):
            return held
        with self.opened() as dataset:
            return self._read(dataset)

    def _read(self, dataset: Dataset) -> Snapshot:
        previous = self._snapshot
        seen = signature(self.root)
        if previous is not None and previous.signature == seen:
            return previous
        self._segments.forget_missing()
        snap = Snapshot.read(dataset, seen, self._segments)
        if previous is None or previous.deletions.tombstones.keys() != snap.deletions.tombstones.keys():
            self.thumbs.prune(snap.faces, snap.images)
        self._snapshot = snap
        return snap

    def changed(self, dataset: Dataset) -> Snapshot:
        """After a change made through `dataset`: write it out and read the new state."""
        dataset.flush()
        return self._read(dataset)

    def reading(self) -> Dataset:
        """The dataset, opened for a long read that need not wait for changes (records are
        append-only: a read sees each record file whole or not at all)."""
        return Dataset.open(self.root, wait=False)

    def proposals(self, refresh: bool = False) -> tuple[float, list[dict]] | None:
        """rx-review's proposals and when they were computed, or None while they are being
        computed (in the background: a search per face of nobody known takes a while in a large
        dataset, and a page asks again). They are computed again only when faces were embedded
        or imported since, or when asked: a page leaves out those that a link, rejection or
        deletion since has settled, so reviewing costs no search per click."""
        wanted = tuple(s for s in signature(self.root) if s[0] in ("embeddings", "images"))
        with self._state:
            held = self._proposals
            if held is None or held[0] != wanted or refresh:
                if self._computing is None or not self._computing.is_alive():
                    self._computing = threading.Thread(target=self._compute_proposals, args=(wanted,), daemon=True)
                    self._computing.start()
            computing = self._computing
        if computing is not None:
            computing.join(PROPOSALS_WAIT)
            if computing.is_alive():
                return None
        if self._failed:
            raise self._failed
        return self._proposals[1], self._proposals[2]

    def _compute_proposals(self, wanted: tuple) -> None:
        try:
            with self.reading() as dataset:
                found = match_faces(dataset, ReviewOptions())
            self._proposals, self._failed = (wanted, time.time(), found), None
        except Exception as exc:  # kept for the page that asks next: a thread's exception is otherwise lost
            self._failed = exc

    def cached_proposals(self) -> list[dict]:
        """The proposals computed last, without computing any."""
        return self._proposals[2] if self._proposals else []

    def nearest(self, face: str, count: int) -> list[dict]:
        """The nearest faces of an embedded face, as rx-match finds them (within the threshold,
        no photo-mate, no rejected pair); none for a face not embedded."""
        with self._nearest_lock:
            seen = signature(self.root)
            if self._nearest is None or self._nearest[0] != seen:
                with self.reading() as dataset:
                    matcher = Matcher(dataset, MatchOptions(count))
                    vectors = Vectors.of(dataset, matcher.model)
                self._nearest = (seen, matcher, vectors, {f: row for row, f in enumerate(vectors.faces)})
            _, matcher, vectors, rows = self._nearest
            if face not in rows:
                return []
            row = rows[face]
            return matcher.matches(face, vectors.images[row], vectors.matrix[row])

    def record(self) -> dict:
        with self.opened() as dataset:
            return dataset_record(dataset, counts=True)


class Sites:
    """One dataset (-d), or every dataset under a folder, found again when the list is asked for."""

    def __init__(self, dataset: str | None = None, folder: str | None = None):
        if dataset is None and folder is None:
            raise ValueError("give a dataset or a folder of datasets")
        self.single = dataset
        self.folder = folder
        self._sites: dict[str, Site] = {}
        self._lock = threading.Lock()
        if dataset is not None:
            with Dataset.open(dataset):
                pass  # a missing or unreadable dataset fails at start, not at the first page
            self._add(dataset)

    def _add(self, root: str) -> Site:
        key = site_key(root)
        with self._lock:
            if key not in self._sites:
                self._sites[key] = Site(root)
            return self._sites[key]

    def all(self) -> list[Site]:
        if self.single is None:
            for root in find_datasets(self.folder):
                self._add(root)
        return sorted(self._sites.values(), key=lambda s: s.root)

    def get(self, key: str) -> Site | None:
        if key not in self._sites and self.single is None:
            self.all()
        return self._sites.get(key)

    def listing(self) -> list[dict]:
        """A dataset record with counts for each site; an unreadable dataset says why."""
        rows = []
        for site in self.all():
            try:
                rows.append({"key": site.key, **site.record()})
            except RecopsError as exc:
                rows.append({"key": site.key, "path": site.root, "error": str(exc)})
        return rows
