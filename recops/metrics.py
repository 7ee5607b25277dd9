"""deepface's four distances, exactly and from Annoy's two spaces.

cosine (1 - cos), euclidean_l2 (the distance of unit vectors, sqrt(2 (1 - cos))) and angular
(arccos(cos) / pi) all order neighbours as cos does, so one Annoy "angular" index (whose distance
is sqrt(2 (1 - cos))) serves the three; euclidean needs Annoy's "euclidean" space.
"""

from __future__ import annotations

import numpy as np

from .store.config import METRICS


def space(metric: str) -> str:
    """The Annoy space that orders neighbours as `metric` does."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    return "euclidean" if metric == "euclidean" else "angular"


def from_space(metric: str, distances: np.ndarray) -> np.ndarray:
    """Annoy's distances, in `metric`."""
    d = np.asarray(distances, dtype=np.float64)
    if metric in ("euclidean", "euclidean_l2"):
        return d
    cos = np.clip(1.0 - d * d / 2.0, -1.0, 1.0)
    return 1.0 - cos if metric == "cosine" else np.arccos(cos) / np.pi


def exact(metric: str, query: np.ndarray, matrix: np.ndarray, row_norms: np.ndarray | None = None) -> np.ndarray:
    """The distance of `query` to every row of `matrix`, as deepface computes it. `row_norms`,
    when the caller keeps them, spares recomputing every row's length on every query."""
    query = np.asarray(query, dtype=np.float32)
    if len(matrix) == 0:
        return np.zeros(0)
    if metric == "euclidean":
        return np.linalg.norm(matrix - query, axis=1).astype(np.float64)
    norms = (np.linalg.norm(matrix, axis=1) if row_norms is None else row_norms) * np.linalg.norm(query)
    cos = np.clip((matrix @ query) / np.where(norms == 0, 1, norms), -1.0, 1.0).astype(np.float64)
    if metric == "cosine":
        return 1.0 - cos
    if metric == "euclidean_l2":
        return np.sqrt(np.maximum(0.0, 2.0 - 2.0 * cos))
    return np.arccos(cos) / np.pi
