"""How likely a distance is to be a stranger's: error rates measured on labelled faces.

A calibration holds, for each metric, the distances of every pair of labelled faces, counted in
fine bins: genuine pairs (two faces of one person) and impostor pairs (two people; two faces of
one photo are always two people). From them:

    FMR(d)   false-match rate: the share of impostor pairs at distance d or nearer
    FNMR(d)  false-non-match rate: the share of genuine pairs farther than d

A threshold is chosen for a target FMR (or for the best accuracy), and every verdict can say how
likely it is to be wrong. In a search of a gallery of N faces, a stranger is expected to come
within d of the query N x FMR(d) times: what a match record calls `expected_false`.

Calibrations ship with recops for its default pipelines (recops/calibrations/, made from LFW by
`make calibration`), and rx-calibrate makes one from a dataset's own people.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .logs import CALIBRATIONS
from .state import state_of
from .store.config import METRICS

if TYPE_CHECKING:
    from .store.dataset import Dataset

BINS = 4000
RANGES = {"cosine": 1.0, "euclidean_l2": math.sqrt(2.0), "angular": 0.5}
"""Where each metric's bins end; farther pairs count in the last bin (they never match). Raw
euclidean distances have no natural end: their range is the farthest pair's."""
SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calibrations")
DEFAULT_FMR = 3e-3
"""The false-match rate of a dataset's default threshold: 1 stranger pair in about 330 comes this close
(1:1 verification; a 1:N search says how many strangers to expect, expected_false)."""
FEW_FALSE = 10
"""A target FMR that fewer impostor pairs than this reach rests on too little to trust."""
FEW_GENUINE = 100


@dataclass
class Curve:
    """One metric's pair counts, in BINS equal bins from 0 to `end`."""

    end: float
    genuine: np.ndarray
    impostor: np.ndarray

    @property
    def width(self) -> float:
        return self.end / len(self.genuine)

    def _below(self, counts: np.ndarray, distance: float) -> float:
        """How many of `counts`' pairs lie at `distance` or nearer, interpolated within a bin."""
        if distance < 0:
            return 0.0
        position = min(distance / self.width, len(counts))
        whole = int(position)
        total = float(counts[:whole].sum())
        if whole < len(counts):
            total += float(counts[whole]) * (position - whole)
        return total

    def fmr(self, distance: float) -> float:
        total = self.impostor.sum()
        return self._below(self.impostor, distance) / total if total else float("nan")

    def fnmr(self, distance: float) -> float:
        total = self.genuine.sum()
        return 1.0 - self._below(self.genuine, distance) / total if total else float("nan")

    def false_matches(self, distance: float) -> float:
        """How many impostor pairs the FMR at `distance` rests on."""
        return self._below(self.impostor, distance)

    def threshold_for(self, fmr: float) -> float:
        """The farthest distance whose FMR is at most `fmr`."""
        allowed = fmr * self.impostor.sum()
        cumulative = np.cumsum(self.impostor)
        whole = int(np.searchsorted(cumulative, allowed, side="right"))
        if whole >= len(cumulative):
            return self.end
        before = float(cumulative[whole - 1]) if whole else 0.0
        inside = float(self.impostor[whole])
        part = (allowed - before) / inside if inside else 0.0
        return (whole + min(1.0, max(0.0, part))) * self.width

    def best_accuracy(self) -> float:
        """The distance that makes the fewest errors when genuine and impostor pairs count alike
        (LFW's balanced pairs)."""
        genuine = self.genuine / max(1, self.genuine.sum())
        impostor = self.impostor / max(1, self.impostor.sum())
        errors = np.cumsum(impostor) + (1.0 - np.cumsum(genuine))
        return (int(np.argmin(errors)) + 1) * self.width

    def to_dict(self) -> dict:
        return {"end": self.end, "genuine": self.genuine.tolist(), "impostor": self.impostor.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "Curve":
        return cls(float(data["end"]), np.asarray(data["genuine"], np.int64), np.asarray(data["impostor"], np.int64))


@dataclass
class Calibration:
    name: str
    detector: str
    model: str
    flip: bool
    curves: dict[str, Curve]
    people: int
    faces: int
    source: str
    """Where the labelled faces came from, and how they were chosen (provenance)."""
    made: str = ""
    extra: dict = field(default_factory=dict)

    def curve(self, metric: str) -> Curve:
        return self.curves[metric]

    def pairs(self, metric: str) -> tuple[int, int]:
        curve = self.curves[metric]
        return int(curve.genuine.sum()), int(curve.impostor.sum())

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "detector": self.detector,
            "model": self.model,
            "flip": self.flip,
            "people": self.people,
            "faces": self.faces,
            "source": self.source,
            "made": self.made,
            "bins": BINS,
            "curves": {m: c.to_dict() for m, c in self.curves.items()},
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        known = {
            "name",
            "detector",
            "model",
            "flip",
            "people",
            "faces",
            "source",
            "made",
            "bins",
            "curves",
            "type",
            "id",
            "ts",
        }
        return cls(
            str(data["name"]),
            str(data["detector"]),
            str(data["model"]),
            bool(data["flip"]),
            {m: Curve.from_dict(c) for m, c in data["curves"].items()},
            int(data["people"]),
            int(data["faces"]),
            str(data["source"]),
            str(data.get("made", "")),
            {k: v for k, v in data.items() if k not in known},
        )


def _distances(metric: str, products: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Pair distances from the pairs' dot products and the vectors' lengths, as metrics.exact."""
    if metric == "euclidean":
        return np.sqrt(np.maximum(left**2 + right**2 - 2.0 * products, 0.0))
    cos = np.clip(products / np.maximum(left * right, 1e-12), -1.0, 1.0)
    if metric == "cosine":
        return 1.0 - cos
    if metric == "euclidean_l2":
        return np.sqrt(np.maximum(0.0, 2.0 - 2.0 * cos))
    return np.arccos(cos) / np.pi


def measure(vectors: np.ndarray, people: list[str | None], images: list[str], block: int = 2048) -> dict[str, Curve]:
    """Every pair's distance, counted per metric: genuine when both faces name one person (and
    come from two photos), impostor when they name two people or share a photo."""
    vectors = np.asarray(vectors, np.float64)
    label = {name: n for n, name in enumerate(sorted({p for p in people if p is not None}))}
    who = np.array([label[p] if p is not None else -1 for p in people], np.int64)
    photo_of = {image: n for n, image in enumerate(sorted(set(images)))}
    photo = np.array([photo_of[i] for i in images], np.int64)
    norms = np.linalg.norm(vectors, axis=1)
    ends = dict(RANGES, euclidean=float(2.0 * norms.max()) if len(norms) and norms.max() > 0 else 1.0)
    counts = {m: [np.zeros(BINS, np.int64), np.zeros(BINS, np.int64)] for m in METRICS}
    for start in range(0, len(vectors), block):
        left = slice(start, min(len(vectors), start + block))
        products = vectors[left] @ vectors[start:].T
        rows, cols = np.triu_indices(products.shape[0], 1, products.shape[1])
        same_photo = photo[left][rows] == photo[start:][cols]
        same_person = (who[left][rows] == who[start:][cols]) & (who[left][rows] >= 0)
        genuine = same_person & ~same_photo
        impostor = same_photo | (
            (who[left][rows] != who[start:][cols]) & (who[left][rows] >= 0) & (who[start:][cols] >= 0)
        )
        pair_products = products[rows, cols]
        for metric in METRICS:
            distances = _distances(metric, pair_products, norms[left][rows], norms[start:][cols])
            bins = np.minimum((distances / ends[metric] * BINS).astype(np.int64), BINS - 1)
            counts[metric][0] += np.bincount(bins[genuine], minlength=BINS)
            counts[metric][1] += np.bincount(bins[impostor], minlength=BINS)
    return {m: Curve(ends[m], *counts[m]) for m in METRICS}


class Calibrations:
    """The calibrations log's view: the calibrations rx-calibrate made of a dataset, by id."""

    def __init__(self, records=()):
        self._by_id: dict[str, dict] = {}
        for record in records:
            self.add(record)

    @classmethod
    def of(cls, dataset: "Dataset") -> "Calibrations":
        return state_of(dataset).view(
            CALIBRATIONS, lambda: cls(dataset.log(CALIBRATIONS).records()), folds=(CALIBRATIONS,), add=cls.add
        )

    def add(self, record: dict) -> None:
        if record.get("type") == "calibration":
            self._by_id[record["id"]] = record

    def get(self, id: str) -> Calibration | None:
        record = self._by_id.get(id)
        return Calibration.from_dict(record) if record else None


def error_rate(calibration: Calibration | None, metric: str, distance: float) -> dict:
    """A record's `fmr` at the distance and the `calibration` it comes from (nothing without one)."""
    if calibration is None:
        return {}
    return {"fmr": float(f"{calibration.curve(metric).fmr(distance):.3g}"), "calibration": calibration.name}


def shown_rate(record: dict) -> dict:
    """A verdict's error rate as a page shows it: `fmr`, `fmr_words` (in words), the strangers a
    gallery search expects that close (`expected_false`) and the `calibration`; None for each
    where the record carries no calibration."""
    fmr = record.get("fmr")
    fmr = float(fmr) if isinstance(fmr, (int, float)) and not isinstance(fmr, bool) else None
    expected = record.get("expected_false")
    return {
        "fmr": fmr,
        "fmr_words": in_words(fmr) if fmr is not None else None,
        "expected_false": float(expected) if isinstance(expected, (int, float)) else None,
        "calibration": record.get("calibration"),
    }


def shipped_name(detector: str, model: str, flip: bool) -> str:
    return f"{detector}-{model}" + ("-flip" if flip else "")


_shipped: dict[str, Calibration | None] = {}


def shipped(detector: str, model: str, flip: bool) -> Calibration | None:
    """The calibration recops ships for a pipeline, or None."""
    name = shipped_name(detector, model, flip)
    if name not in _shipped:
        path = os.path.join(SHIPPED, name + ".json")
        try:
            with open(path, encoding="utf-8") as handle:
                _shipped[name] = Calibration.from_dict(json.load(handle))
        except FileNotFoundError:
            _shipped[name] = None
    return _shipped[name]


def in_words(fmr: float | None) -> str:
    """An FMR as a person reads it: "about 1 in 10,000 strangers would match this closely"."""
    if fmr is None or not math.isfinite(fmr):
        return "no calibration says how often strangers come this close"
    if fmr <= 0:
        return "no stranger of the calibration came this close"
    if fmr >= 0.5:
        return "most strangers would match this closely"
    odds = 1 / fmr
    odds = round(odds, -int(math.floor(math.log10(odds)))) if odds >= 10 else round(odds)
    return f"about 1 in {int(odds):,} strangers would match this closely"
