"""rx-match's core: for each query face, the gallery faces within the threshold, nearest first.

The gallery is every embedded face of the dataset except deleted ones and the faces of query
images (those that `recops recognize` keeps), unless a person linked them to an identity. A face
never matches itself or another face of its own photo: two faces in one photo are two people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from .. import images
from ..calibration import error_rate
from ..deletions import Deletions
from ..errors import InputError, UsageError
from ..faces import FaceCatalog
from ..identities import IdentityView
from ..logs import MATCHES
from ..quality import score_of
from ..records import timestamp, warning_record
from ..search import FaceSearch
from ..shards import ShardedSearch
from ..state import state_of
from ..store.dataset import Dataset
from ..stream import Emitter
from ..thresholds import calibration_of, effective_threshold
from ..vectors import as_vector
from .base import Passing, Stage, followed, refuse_paths
from .embedding import EmbedOptions, FaceEmbedding

STAGE = "match"


def _its_embedding(face: dict, record: dict) -> bool:
    return record.get("type") == "embedding" and record.get("face") == face["id"]


@dataclass(frozen=True)
class MatchOptions:
    maximum: int = 10
    threshold: float | None = None
    """None: the dataset's threshold (its own, else deepface's for its model and metric)."""
    identified_only: bool = False
    exclude_identities: tuple[str, ...] = ()
    best_per_identity: bool = False
    search_k: int | None = None
    max_false_alarm: float | None = None
    """Instead of a distance: the chance of a stranger coming this close somewhere in the gallery
    searched; the threshold is the calibration's for that rate divided by the gallery's size."""
    min_quality: float | None = None
    """Faces whose quality score (quality.py) is lower are neither matched nor offered as candidates."""


@dataclass
class _Gallery:
    """What one searched dataset says of its own faces: which it deleted, which are of query
    photos, and (for --min-quality) their records."""

    deletions: Deletions
    query_images: set[str]
    faces: FaceCatalog | None

    @classmethod
    def of(cls, dataset: Dataset, min_quality: float | None) -> "_Gallery":
        return cls(
            Deletions.of(dataset),
            {i["id"] for i in images.ImageCatalog.of(dataset) if i.get("query")},
            FaceCatalog.of(dataset) if min_quality is not None else None,
        )


class Matcher:
    def __init__(self, dataset: Dataset, options: MatchOptions = MatchOptions(), shards: Sequence[Dataset] = ()):
        """`shards`: more datasets searched with `dataset`, the home one (shards.py)."""
        self.dataset = dataset
        self.options = options
        self.model = dataset.config.model
        self.metric = dataset.config.metric
        self.calibration = calibration_of(dataset)
        self.curve = self.calibration.curve(self.metric) if self.calibration else None
        self.identities = IdentityView.of(dataset)
        only = set(self.identities.face_identity) if options.identified_only else None
        self.home = dataset.config.id
        self.galleries = {d.config.id: _Gallery.of(d, options.min_quality) for d in (dataset, *shards)}
        self.query_images = self.galleries[self.home].query_images
        """The home dataset's query photos: a recognition's, stored there, join them as they pass."""
        if shards:
            parts = [(d, FaceSearch(d, self.model, self.metric, options.search_k, only)) for d in (dataset, *shards)]
            self.search = ShardedSearch(parts)
        else:
            self.search = FaceSearch(dataset, self.model, self.metric, options.search_k, only)
        self.threshold = self._threshold(options)
        self.excluded = set()
        for name in options.exclude_identities:
            try:
                found = self.identities.find(name)
            except InputError as exc:
                raise UsageError(f"--exclude-identities: {exc.reason}") from None
            if found is None:
                raise UsageError(f"--exclude-identities: no identity {name!r} in {dataset.root}")
            self.excluded.add(found["id"])

    def _threshold(self, options: MatchOptions) -> float:
        if options.max_false_alarm is not None:
            if self.curve is None:
                raise UsageError(
                    f"no calibration tells false alarms for {self.dataset.config.model}: run rx-calibrate "
                    "on the dataset's people, or give --threshold"
                )
            if not 0 < options.max_false_alarm < 1:
                raise UsageError(f"a false-alarm rate is between 0 and 1, not {options.max_false_alarm}")
            return round(self.curve.threshold_for(options.max_false_alarm / max(1, self.search.size)), 6)
        threshold = options.threshold if options.threshold is not None else effective_threshold(self.dataset.config)
        if not (math.isfinite(threshold) and threshold >= 0):
            raise UsageError(f"a threshold is a distance, a finite number of 0 or more, not {threshold}")
        return threshold

    def low_quality(self, face: str, record: dict | None = None, dataset: str | None = None) -> float | None:
        """The quality score of a face (of the dataset of that id, else the home one) below
        --min-quality, else None (a face measured before quality was, without a score, is not
        held back)."""
        if self.options.min_quality is None:
            return None
        faces = self.galleries[dataset or self.home].faces
        score = score_of(record if record is not None else (faces.get(face) or {}))
        return score if score is not None and score < self.options.min_quality else None

    def _eligible(self, query_face: str, query_image: str, candidate) -> bool:
        if candidate.face == query_face or candidate.image == query_image:
            return False
        if self.low_quality(candidate.face, dataset=candidate.dataset) is not None:
            return False
        gallery = self.galleries[candidate.dataset or self.home]
        if gallery.deletions.hides(candidate.face, candidate.image):
            return False
        identity = self.identities.face_identity.get(candidate.face)
        if candidate.image in gallery.query_images and identity is None:
            return False
        if identity is None:
            return not self.options.identified_only
        return identity not in self.excluded and (query_face, identity) not in self.identities.rejected

    def matches(self, face: str, image: str, vector: np.ndarray) -> list[dict]:
        """Match records for one query face, best first, at most `maximum` of them."""
        wanted = self.options.maximum
        fetch = wanted * 4 + 8
        while True:
            neighbours = self.search.nearest(vector, fetch)
            kept, seen_identities = [], set()
            for n in neighbours:
                if not n.distance <= self.threshold:  # a NaN distance (a zero vector's cosine) ends it too
                    break
                if not self._eligible(face, image, n):
                    continue
                identity = self.identities.identity_of(n.face)
                if self.options.best_per_identity and identity:
                    if identity["id"] in seen_identities:
                        continue
                    seen_identities.add(identity["id"])
                kept.append((n, identity))
                if len(kept) == wanted:
                    break
            exhausted = len(neighbours) < fetch or not neighbours[-1].distance <= self.threshold
            if len(kept) == wanted or exhausted or fetch >= self.search.size:
                break
            fetch *= 4
        return [self._record(face, image, n, identity, rank) for rank, (n, identity) in enumerate(kept, 1)]

    def _record(self, face: str, image: str, n, identity: dict | None, rank: int) -> dict:
        return {
            "type": "match",
            "query": face,
            "query_image": image,
            "candidate": n.face,
            "candidate_image": n.image,
            "candidate_dataset": n.dataset or self.home,
            "identity": identity["id"] if identity else None,
            "identity_name": identity.get("name") if identity else None,
            "distance": round(n.distance, 6),
            "metric": self.metric,
            "threshold": self.threshold,
            "rank": rank,
            "model": self.model,
            "gallery": self.search.size,
            **self.error_rates(n.distance),
            "ts": timestamp(),
        }

    def searched(self, face: str, image: str, found: int) -> dict:
        """What was searched for a face: the datasets (by id), the faces they hold, how many matched."""
        return {
            "type": "searched",
            "query": face,
            "query_image": image,
            "datasets": list(self.galleries),
            "gallery": self.search.size,
            "matches": found,
            "threshold": self.threshold,
            "ts": timestamp(),
        }

    def error_rates(self, distance: float) -> dict:
        """`fmr` (the calibrated false-match rate at the distance), the `calibration` it comes from,
        and `expected_false`: how many strangers of a gallery this size come that close."""
        rates = error_rate(self.calibration, self.metric, distance)
        if rates:
            rates["expected_false"] = float(f"{rates['fmr'] * self.search.size:.3g}")
        return rates


class FaceMatching(Stage):
    """Feed it records: each embedding (and each face without one, embedded here) is followed by
    its matches; everything passes on. Each face joins the gallery once matched, so the faces of
    one stream are matched with each other too (each pair once). With `save`, matches are kept
    in the dataset. With `searched`, each face's matches are followed by a `searched` record
    (rx-merge counts the shards that answered by them); without `join`, the faces of the stream
    do not join the gallery (shards of a fan-out, which all see the stream)."""

    stage = STAGE
    tool = "rx-match"

    def __init__(
        self, emitter: Emitter, matcher: Matcher, save: bool = False, searched: bool = False, join: bool = True
    ):
        super().__init__(emitter)
        self.matcher = matcher
        self.save = save
        self.searched = searched
        self.join = join
        self._embedded: list[dict] = []
        self._embedding: FaceEmbedding | None = None

    def path(self, path: str) -> Iterable[dict]:
        return refuse_paths(self.emitter, STAGE, self.tool, "embedding or face records")(path)

    def units(self, records: Iterable[dict]) -> Iterator:
        """A face with the embedding that follows it (or None: it is embedded here), an embedding
        alone; the rest passes."""
        for record, embedding in followed(records, "face", _its_embedding):
            if record.get("type") == "face":
                yield record, embedding
            elif record.get("type") == "embedding":
                yield None, record
            else:
                yield Passing(record)

    def passing(self, record: dict) -> None:
        self.emitter.emit(record)
        if record.get("type") == "image" and record.get("query"):
            self.matcher.query_images.add(record["id"])

    def finish(self, unit: tuple[dict | None, dict | None], result: None) -> None:
        face, embedding = unit
        if embedding is None:
            self._embed_and_match(face)
            return
        if face is not None:
            self.emitter.emit(face)
        self.emitter.emit(embedding)
        if embedding.get("model") == self.matcher.model:
            self._match(embedding["face"], embedding["image"], as_vector(embedding["vector"]), face)

    def _embed_and_match(self, face: dict) -> None:
        """A face record that arrived without its embedding: embed it (stored, memoised) first,
        by one embedding stage for the whole stream (one read of what the dataset holds)."""
        if self._embedding is None:
            dataset = self.matcher.dataset
            self._embedding = FaceEmbedding(
                Emitter(self._embedded.append), EmbedOptions(self.matcher.model, dataset.config.flip), dataset
            )
        self._embedding.run([face])
        produced, self._embedded[:] = list(self._embedded), []
        for record in produced:
            self.emitter.emit(record)
            if record.get("type") == "embedding":
                self._match(record["face"], record["image"], as_vector(record["vector"]), face)

    def _match(self, face: str, image: str, vector: np.ndarray, record: dict | None = None) -> None:
        """Match a face, then make it part of the gallery the rest of the stream searches; a face
        under --min-quality is neither (a warning says so)."""
        low = self.matcher.low_quality(face, record)
        if low is not None:
            reason = f"quality {low:g} is under --min-quality {self.matcher.options.min_quality:g}: not matched"
            self.emitter.emit(warning_record(face, STAGE, reason, "low-quality"))
            return
        dim = self.matcher.search.dim
        if dim is not None and len(vector) != dim:
            self.emitter.fail(
                face,
                STAGE,
                f"its vector has {len(vector)} numbers; the {self.matcher.model} "
                f"embeddings of {self.matcher.dataset.root} have {dim}",
                "malformed-input",
            )
            return
        found = self.matcher.matches(face, image, vector)
        for record in found:
            if self.save:
                state_of(self.matcher.dataset).append(MATCHES, record)
            self.emitter.emit(record)
        if self.searched:
            self.emitter.emit(self.matcher.searched(face, image, len(found)))
        if self.join:
            self.matcher.search.add(face, image, vector)
