"""Creating and describing datasets (rx-init, rx-ls datasets)."""

from __future__ import annotations

import logging
import os

from . import model_names
from .errors import DatasetError, UsageError
from .store.config import Config, finite_positive
from .store.dataset import Dataset, find_datasets, is_dataset
from .stream import Emitter
from .thresholds import calibration_of, convert, default_threshold, effective_threshold, threshold_source

logger = logging.getLogger("recops")


def create_dataset(
    root: str,
    detector: str = model_names.DEFAULT_DETECTOR,
    model: str = model_names.DEFAULT_MODEL,
    metric: str = model_names.DEFAULT_METRIC,
    threshold: float | None = None,
    description: str = "",
    flip: bool = False,
) -> Dataset:
    """A new dataset at `root`, with the out-of-the-box detector, model and metric unless given
    (names unchecked: init_dataset checks them against deepface's)."""
    return Dataset.create(root, detector, model, metric, threshold, description, flip)


def settings(root: str | None) -> Config:
    """The detector, model, metric, threshold and flip setting of the dataset at `root`; with
    none, the out-of-the-box ones."""
    if root is None:
        return Config(model_names.DEFAULT_DETECTOR, model_names.DEFAULT_MODEL, model_names.DEFAULT_METRIC)
    with Dataset.open(root) as dataset:
        return dataset.config


def dataset_record(dataset: Dataset, counts: bool = False) -> dict:
    config = dataset.config
    record = {
        "type": "dataset",
        "path": dataset.root,
        "id": config.id,
        "description": config.description,
        "detector": config.detector,
        "model": config.model,
        "metric": config.metric,
        "threshold": effective_threshold(config),
        "threshold_source": threshold_source(config)[0],
        "threshold_note": threshold_source(config)[1],
        "flip": config.flip,
        "format": config.format,
        "created": config.created,
    }
    if counts:
        from .images import ImageCatalog

        record["images"] = len(ImageCatalog.of(dataset))
    return record


def _today(kind: str, name: str | None) -> str | None:
    """A name a person typed, in the original recops's spelling or today's; a dataset's recops.json
    always names today's, so only here are the original's names mapped."""
    if name is None:
        return None
    today, note = model_names.from_original(kind, name)
    if note:
        logger.warning("%s: using %r", note, today)
    return today


def init_dataset(
    root: str,
    detector: str | None = None,
    model: str | None = None,
    metric: str | None = None,
    threshold: float | None = None,
    description: str | None = None,
    flip: bool | None = None,
) -> tuple[Dataset, bool]:
    """Create the dataset at `root`, or update an existing one; returns (dataset, created).

    On an existing dataset only the description, threshold and metric may change: detections and
    embeddings are only comparable under the detector, model and flip setting they were made with.
    """
    try:
        detector, model = _today("detector", detector), _today("model", model)
        if detector is not None:
            model_names.check_choice("detector", detector, model_names.detectors())
        if model is not None:
            model_names.check_choice("model", model, model_names.recognition_models())
        if metric is not None:
            model_names.check_choice("metric", metric, model_names.METRICS)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if threshold is not None and not finite_positive(threshold):
        raise UsageError(f"threshold must be a positive number, not {threshold}")
    if not is_dataset(root):
        detector = detector or model_names.DEFAULT_DETECTOR
        model = model or model_names.DEFAULT_MODEL
        metric = metric or model_names.DEFAULT_METRIC
        if threshold is None:
            try:
                default_threshold(Config(detector, model, metric, flip=bool(flip)))
            except KeyError as exc:
                raise UsageError(f"{exc.args[0]}; give --threshold") from None
        return create_dataset(root, detector, model, metric, threshold, description or "", bool(flip)), True
    dataset = Dataset.open(root)
    for what, wanted, current in (
        ("detector", detector, dataset.config.detector),
        ("model", model, dataset.config.model),
        ("flip setting", flip, dataset.config.flip),
    ):
        if wanted is not None and wanted != current:
            dataset.close()
            raise DatasetError(
                f"{root}: the {what} is {current} and cannot change (faces found or embedded with another "
                f"{what} are not comparable); create a new dataset for {wanted}"
            )
    changes: dict = {} if description is None else {"description": description}
    if metric is not None and metric != dataset.config.metric:
        changes.update(_rethreshold(dataset, metric), metric=metric)
    if threshold is not None:
        changes.update(threshold=threshold, threshold_source="set by a person", threshold_fmr=None)
    if changes:
        dataset.update(**changes)
    return dataset, False


def _rethreshold(dataset: Dataset, metric: str) -> dict:
    """What becomes of a set threshold when the metric changes: a calibrated one is chosen again
    for its false-match rate, a person's converted where it can be, else the default holds."""
    config = dataset.config
    if config.threshold is None:
        return {}
    calibration = calibration_of(dataset) if config.threshold_fmr is not None else None
    if calibration is not None:
        return {"threshold": round(calibration.curve(metric).threshold_for(config.threshold_fmr), 6)}
    converted = convert(config.threshold, config.metric, metric)
    if converted is None:
        logger.warning(
            "the threshold %g (%s) has no %s equivalent: the default threshold holds now",
            config.threshold,
            config.metric,
            metric,
        )
        return {"threshold": None, "threshold_source": "", "threshold_fmr": None}
    return {"threshold": converted}


def open_or_create(root: str) -> tuple[Dataset, bool]:
    """The dataset at `root`, created with the defaults when the folder does not exist yet."""
    if os.path.exists(root) and not is_dataset(root):
        raise DatasetError(f"{root}: exists but is not a recops dataset (no recops.json); give another -d")
    return init_dataset(root)


def list_datasets(folder: str, emitter: Emitter) -> None:
    """A `dataset` record, with counts, for each dataset in or below `folder`."""
    if not os.path.isdir(folder):
        raise UsageError(f"{folder}: no such folder")
    for root in find_datasets(folder):
        try:
            with Dataset.open(root) as dataset:
                emitter.emit(dataset_record(dataset, counts=True))
        except DatasetError as exc:
            emitter.fail(root, "list", str(exc), "bad-dataset")
