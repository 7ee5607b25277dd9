"""A dataset's threshold and the calibration that says what it means.

The threshold is, in order: one a person set (rx-init --threshold), one rx-calibrate chose from
the dataset's own people (for a false-match rate, kept in `threshold_fmr`), or the default: the
shipped calibration's for the dataset's pipeline at DEFAULT_FMR, else deepface's for its model
and metric. A threshold belongs to a metric: when the metric changes, a calibrated one is chosen
again for the same FMR, a person's is converted where the metrics are of one family (cosine,
euclidean_l2 and angular all order neighbours as the cosine does), and otherwise falls back to
the default, saying so.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from . import model_names
from .calibration import DEFAULT_FMR, Calibration, Calibrations, shipped

if TYPE_CHECKING:
    from .store.config import Config
    from .store.dataset import Dataset

logger = logging.getLogger("recops")


def default_threshold(config: "Config") -> tuple[float, str]:
    """The default threshold of a pipeline and metric, and where it comes from."""
    calibration = shipped(config.detector, config.model, config.flip)
    if calibration is not None:
        return calibration.curve(config.metric).threshold_for(DEFAULT_FMR), source_of(calibration, DEFAULT_FMR)
    return model_names.default_threshold(config.model, config.metric), "deepface"


def effective_threshold(config: "Config") -> float:
    """The farthest distance that matches in this dataset."""
    return config.threshold if config.threshold is not None else default_threshold(config)[0]


def set_by_person(config: "Config") -> bool:
    return config.threshold is not None and not config.threshold_source


def threshold_source(config: "Config") -> tuple[str, str]:
    """Where the threshold comes from: a slug ("dataset": set in it, by a person or rx-calibrate;
    "calibration": the shipped calibration's default; "deepface") and, in words, how."""
    if config.threshold is not None:
        return "dataset", config.threshold_source or "set by a person"
    source = default_threshold(config)[1]
    return ("deepface" if source == "deepface" else "calibration"), source


def source_of(calibration: Calibration, fmr: float) -> str:
    return f"calibration {calibration.name} at a false-match rate of {fmr:g}"


def calibration_of(dataset: "Dataset") -> Calibration | None:
    """The calibration that tells a distance's false-match rate here: the dataset's own (made by
    rx-calibrate), else the one recops ships for its pipeline, else none."""
    config = dataset.config
    if config.calibration:
        own = Calibrations.of(dataset).get(config.calibration)
        if own is not None:
            return own
        logger.warning(
            "the calibration %s that recops.json names is not among the dataset's records", config.calibration
        )
    return shipped(config.detector, config.model, config.flip)


_FAMILY = {
    "cosine": (lambda d: 1.0 - d, lambda c: 1.0 - c),
    "euclidean_l2": (lambda d: 1.0 - d * d / 2.0, lambda c: math.sqrt(max(0.0, 2.0 - 2.0 * c))),
    "angular": (lambda d: math.cos(d * math.pi), lambda c: math.acos(max(-1.0, min(1.0, c))) / math.pi),
}


def convert(threshold: float, metric: str, to: str) -> float | None:
    """The same threshold in another metric of the cosine family; None for raw euclidean distances."""
    if metric == to:
        return threshold
    if metric not in _FAMILY or to not in _FAMILY:
        return None
    return round(_FAMILY[to][1](_FAMILY[metric][0](threshold)), 6)
