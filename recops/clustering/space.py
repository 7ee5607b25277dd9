"""The distance clustering works in: half the squared distance of the vectors compared.

For the cosine family (cosine, euclidean_l2, angular) the vectors are made unit length and half
their squared distance is the cosine distance; for euclidean they stay as they are. Either way
the mean of this distance over every pair of two groups of faces follows from each group's size,
vector sum and sum of squared norms, so average linkage costs one dot product per pair of groups
whatever their sizes.
"""

from __future__ import annotations

import math

import numpy as np

from .. import model_names
from ..metrics import METRICS

BLOCK = 1 << 16
"""Rows normalised at once: norm's temporaries are the size of what it is given."""
MEASURED_SHARE = 0.055 / 0.07
"""The default threshold as a share of deepface's verification threshold (cosine distance): Dlib's
cosine threshold is 0.07, and 0.055 is where clustering LFW with Dlib scores best (bench cluster).
Clustering needs a stricter threshold than verification: every face meets thousands of strangers."""


def unit_vectors(metric: str) -> bool:
    return metric != "euclidean"


def prepare(metric: str, matrix: np.ndarray, copy: bool = True) -> np.ndarray:
    """The vectors as clustering compares them (a new float32 array, or `matrix` itself made so
    when not `copy`)."""
    vectors = np.array(matrix, dtype=np.float32) if copy else np.asarray(matrix, dtype=np.float32)
    if unit_vectors(metric) and len(vectors):
        for start in range(0, len(vectors), BLOCK):
            block = vectors[start : start + BLOCK]
            norms = np.linalg.norm(block, axis=1, keepdims=True)
            block /= np.where(norms == 0, 1, norms)
    return vectors


def to_half_square(metric: str, distance: float) -> float:
    """A distance in `metric` as half a squared distance of prepared vectors."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    if metric == "cosine":
        return float(distance)
    if metric == "angular":
        return 1.0 - math.cos(min(1.0, distance) * math.pi)
    return float(distance) ** 2 / 2.0


def from_half_square(metric: str, value: float) -> float:
    if metric == "cosine":
        return float(value)
    if metric == "angular":
        return math.acos(max(-1.0, min(1.0, 1.0 - value))) / math.pi
    return math.sqrt(max(0.0, 2.0 * value))


def default_threshold(model: str, metric: str) -> float:
    """MEASURED_SHARE of deepface's verification threshold for the model, in `metric`."""
    if metric == "euclidean":  # raw vectors: no cosine to start from
        return model_names.default_threshold(model, "euclidean") * math.sqrt(MEASURED_SHARE)
    return round(from_half_square(metric, model_names.default_threshold(model, "cosine") * MEASURED_SHARE), 6)


CLUSTER_FMR = (0.015, 0.6)
"""The calibrated default: a false-match rate of 0.015 x N^-0.6 for N faces. The more faces, the
more strangers each one meets, so the stricter the threshold: fitted on LFW (the best threshold
of rx-cluster at 240, 1,024, 3,000, 6,000 and 13,231 faces, bench calibration), it matches the
best in each to within 0.005 of pairwise F."""


def calibrated_threshold(curve, faces: int) -> float:
    """The default threshold for clustering `faces` faces, from a calibration's curve. The count
    is taken to the nearest power of two, so a growing dataset keeps one threshold (and its
    incremental runs) until it doubles."""
    rounded = 2 ** round(math.log2(max(faces, 2)))
    fmr = min(CLUSTER_FMR[0] * rounded ** -CLUSTER_FMR[1], 1e-2)
    return round(curve.threshold_for(fmr), 6)
