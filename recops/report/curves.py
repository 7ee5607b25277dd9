"""A calibration as a page: the distance histograms of genuine and impostor pairs, the DET and
ROC curves, and the threshold on each, drawn as SVG polylines (no script, nothing fetched)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from .. import __version__
from ..calibration import Calibration, Calibrations, in_words
from ..outputs import atomic_output
from ..store.dataset import Dataset
from .context import UNKNOWN_COLOR
from .render import render_html

WIDTH, HEIGHT, MARGIN = 520, 300, 44
FLOOR = 1e-6
"""The smallest rate the log axes show."""


def _points(xs, ys) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))


def _x(value: float, low: float, high: float, log: bool = False) -> float:
    if log:
        value, low, high = (math.log10(max(v, FLOOR)) for v in (value, low, high))
    return MARGIN + (value - low) / (high - low) * (WIDTH - 2 * MARGIN)


def _y(value: float, low: float, high: float, log: bool = False) -> float:
    if log:
        value, low, high = (math.log10(max(v, FLOOR)) for v in (value, low, high))
    return HEIGHT - MARGIN - (value - low) / (high - low) * (HEIGHT - 2 * MARGIN)


def _ticks(low: float, high: float, log: bool) -> list[float]:
    if log:
        return [10.0**e for e in range(int(math.log10(low)), int(math.log10(high)) + 1)]
    step = (high - low) / 4
    return [low + step * n for n in range(5)]


def _axes(x_range, y_range, x_log: bool, y_log: bool, x_label: str, y_label: str) -> dict:
    return {
        "x_ticks": [{"at": _x(t, *x_range, x_log), "label": f"{t:g}"} for t in _ticks(*x_range, x_log)],
        "y_ticks": [{"at": _y(t, *y_range, y_log), "label": f"{t:g}"} for t in _ticks(*y_range, y_log)],
        "x_label": x_label,
        "y_label": y_label,
    }


def histogram(calibration: Calibration, metric: str, threshold: float) -> dict:
    curve = calibration.curve(metric)
    shown = max(np.flatnonzero(curve.genuine + curve.impostor).max(initial=0) + 1, 10)
    width = curve.width
    centres = (np.arange(shown) + 0.5) * width
    groups = max(1, shown // 120)  # about 120 bars across, whatever the bins
    lines = {}
    top = 0.0
    densities = {}
    for name, counts in (("genuine", curve.genuine), ("impostor", curve.impostor)):
        summed = np.add.reduceat(counts[:shown], np.arange(0, shown, groups))
        densities[name] = summed / max(1, counts.sum())
        top = max(top, float(densities[name].max(initial=0)))
    xs = np.add.reduceat(centres, np.arange(0, shown, groups)) / np.diff(np.append(np.arange(0, shown, groups), shown))
    x_range = (0.0, shown * width)
    for name, density in densities.items():
        lines[name] = _points((_x(x, *x_range) for x in xs), (_y(d, 0.0, top or 1.0) for d in density))
    return {
        "lines": lines,
        "threshold": _x(threshold, *x_range),
        "mark": None,
        **_axes(x_range, (0.0, top or 1.0), False, False, f"{metric} distance", "share of pairs"),
    }


def det(calibration: Calibration, metric: str, threshold: float) -> dict:
    curve = calibration.curve(metric)
    fmr = np.cumsum(curve.impostor) / max(1, curve.impostor.sum())
    fnmr = 1 - np.cumsum(curve.genuine) / max(1, curve.genuine.sum())
    keep = (fmr >= FLOOR) & (fnmr >= FLOOR)
    x_range, y_range = (FLOOR, 1.0), (FLOOR, 1.0)
    points = _points((_x(v, *x_range, True) for v in fmr[keep]), (_y(v, *y_range, True) for v in fnmr[keep]))
    roc = _points((_x(v, *x_range, True) for v in fmr[fmr >= FLOOR]), (_y(1 - v, 0.0, 1.0) for v in fnmr[fmr >= FLOOR]))
    at = (curve.fmr(threshold), curve.fnmr(threshold))
    return {
        "det": {
            "line": points,
            "mark": (_x(at[0], *x_range, True), _y(at[1], *y_range, True)),
            **_axes(x_range, y_range, True, True, "false-match rate", "false-non-match rate"),
        },
        "roc": {
            "line": roc,
            "mark": (_x(at[0], *x_range, True), _y(1 - at[1], 0.0, 1.0)),
            **_axes(x_range, (0.0, 1.0), True, False, "false-match rate", "true-match rate"),
        },
    }


def variables(calibration: Calibration, summary: dict, dataset: dict | None) -> dict:
    """What templates/report/calibration.html.j2 renders."""
    metric, threshold = summary["metric"], summary["threshold"]
    curves = det(calibration, metric, threshold)
    return {
        "kind": "calibration",
        "title": f"Calibration {calibration.name}",
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": __version__,
        "blurred": False,
        "dataset": dataset,
        "legend": [],
        "unknown_color": UNKNOWN_COLOR,
        "attribute_warning": None,
        "problems": [],
        "calibration": {
            "name": calibration.name,
            "source": calibration.source,
            "people": calibration.people,
            "faces": calibration.faces,
            "detector": calibration.detector,
            "model": calibration.model,
        },
        "summary": {**summary, "in_words": in_words(summary["fmr"])},
        "size": {"width": WIDTH, "height": HEIGHT, "margin": MARGIN},
        "histogram": histogram(calibration, metric, threshold),
        "det": curves["det"],
        "roc": curves["roc"],
    }


def write_page(dataset: Dataset, summary: dict, output: str) -> None:
    """The page of the calibration `summary` names, written atomically, private (0600)."""
    calibration = Calibrations.of(dataset).get(summary["id"])
    config = dataset.config
    shown = {
        "path": dataset.root,
        "description": config.description,
        "detector": config.detector,
        "model": config.model,
        "metric": config.metric,
        "threshold": summary["threshold"],
    }
    page = render_html(variables(calibration, summary, shown))
    with atomic_output(output) as temp, open(temp, "w", encoding="utf-8") as handle:
        handle.write(page)
