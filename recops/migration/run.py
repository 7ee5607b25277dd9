"""recops migrate's core: every dataset of an original recops database into a recops dataset
of its own, then rx-fsck over each, and a tally of what came over."""

from __future__ import annotations

import logging
import os
import re
import sqlite3

from .. import model_names, models
from ..errors import DatasetError, InputError, UsageError
from ..fsck import fsck
from ..store.dataset import Dataset, is_dataset
from ..stream import Emitter
from .carry import KINDS, STAGE, DatasetMigration, Tally
from .original import Original, guid
from .storage import Storage

logger = logging.getLogger("recops")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")


def safe_name(name: object) -> str:
    """A dataset name made of the original's: letters, digits and `_.+-`, other runs of
    characters as one `-`, no leading dot or dash, at most 64 characters."""
    text = _UNSAFE.sub("-", name if isinstance(name, str) else "").strip(".-")[:64].rstrip(".-")
    return text or "dataset"


def target(folder: str, row: dict, taken: set[str]) -> tuple[str, bool]:
    """Where an original dataset goes, and whether an earlier migration of it is there: its
    safe name, else that name with -2, -3, ... while the name is another dataset's or a file's."""
    base = safe_name(row["name"])
    for n in range(1, 10_000):
        name = base if n == 1 else f"{base}-{n}"
        root = os.path.join(folder, name)
        if name in taken:
            continue
        if not os.path.lexists(root) or (os.path.isdir(root) and not os.listdir(root)):
            return root, False
        if is_dataset(root):
            try:
                with Dataset.open(root, inspect=True) as dataset:
                    if dataset.config.id == row["id"]:
                        return root, True
            except DatasetError:
                continue  # a config no recops reads: nobody's to resume
    raise DatasetError(f"{folder}: no free name for the dataset {row['name']!r}")


def settings(row: dict, model: str | None) -> tuple[str, str, str]:
    """Today's detector, model and metric for an original dataset; InputError where none fits."""
    try:
        detector = model_names.from_original("detector", str(row["detector_backend"]))[0]
        chosen = model or model_names.from_original("model", str(row["basemodel_backend"]))[0]
    except ValueError as exc:
        raise InputError("no-equivalent", f"{exc}; give --model to migrate it with one") from None
    for kind, value, choices in (
        ("detector", detector, model_names.detectors() + models.registered("detector")),
        ("model", chosen, model_names.recognition_models() + models.registered("embedder")),
        ("metric", row["distance_metric"], list(model_names.METRICS)),
    ):
        if value not in choices:
            raise InputError("unknown-model", f"its {kind} {value!r} is none recops knows ({', '.join(choices)})")
    return detector, chosen, row["distance_metric"]


def description(row: dict) -> str:
    said = row["description"] if isinstance(row["description"], str) and row["description"] else ""
    origin = (
        f"migrated from the original recops: dataset {row['name']!r} ({row['id']}), detector "
        f"{row['detector_backend']}, model {row['basemodel_backend']}, metric {row['distance_metric']}, "
        f"threshold {row['threshold']}"
    )
    return f"{said}\n\n{origin}" if said else origin


def migrate(
    database: str,
    storage_folder: str,
    folder: str,
    emitter: Emitter,
    model: str | None = None,
    check: bool = True,
) -> list[Tally]:
    """Carry each dataset of the original database (and the files of its storage folder) into
    `folder`; emits an error record for each thing that cannot come over, and what rx-fsck finds.
    Returns what came over of each dataset (Tally.records() says it as records)."""
    storage = Storage(storage_folder)
    inside = os.path.realpath(folder)
    if os.path.commonpath([inside, storage.root_real]) == storage.root_real:
        storage.close()
        raise UsageError(
            f"{folder}: inside the storage folder {storage.root}, which migrate never writes to; give --into DIR "
            "or set RECOPS_HOME (without it, the original's STORAGE_URI names recops's home too)"
        )
    tallies: list[Tally] = []
    try:
        with Original.open(database) as original:
            for table, count in original.orphans().items():
                emitter.fail(
                    table,
                    STAGE,
                    f"{count} row(s) of {table} belong to no dataset: not migrated",
                    "no-dataset",
                    table=table,
                )
            taken: set[str] = set()
            for row in original.datasets():
                tallies.append(_dataset(original, storage, row, folder, taken, emitter, model, check))
    except sqlite3.Error as exc:
        raise DatasetError(f"{database}: cannot be read: {exc} (what was migrated so far is stored)") from None
    finally:
        storage.close()
    return tallies


def _refused(original: Original, row: dict, name: str) -> Tally:
    """The tally of a dataset that did not come over: all it holds, none of it migrated."""
    tally = Tally(name, "")
    tally.original.update(original.counts(row["id"]) if guid(row["id"]) else {})
    return tally


def _opened(root: str, resumed: bool, row: dict, detector: str, model: str, metric: str) -> Dataset:
    """The dataset an earlier run began (refused when it holds another model), or a new one."""
    if not resumed:
        os.makedirs(os.path.dirname(root), mode=0o700, exist_ok=True)
        return Dataset.create(root, detector, model, metric, None, description(row), id=row["id"])
    dataset = Dataset.open(root)
    if dataset.config.model != model or dataset.config.detector != detector:
        dataset.close()
        raise InputError(
            "model-differs",
            f"{root} holds an earlier migration of it with model {dataset.config.model}, not {model}: "
            f"give --model {dataset.config.model}, or move that dataset away",
        )
    return dataset


def _dataset(
    original: Original,
    storage: Storage,
    row: dict,
    folder: str,
    taken: set[str],
    emitter: Emitter,
    model: str | None,
    check: bool,
) -> Tally:
    name = row["name"] if isinstance(row["name"], str) else str(row["id"])
    try:
        if guid(row["id"]) is None:
            raise InputError("bad-id", f"its id {row['id']!r} is not an id of the original")
        detector, chosen, metric = settings(row, model)
        root, resumed = target(folder, row, taken)
        taken.add(os.path.basename(root))
        dataset = _opened(root, resumed, row, detector, chosen, metric)
    except (InputError, DatasetError) as exc:
        reason = exc.reason if isinstance(exc, InputError) else str(exc)
        kind = exc.kind if isinstance(exc, InputError) else "dataset"
        emitter.fail(
            str(row["id"]), STAGE, f"dataset {name!r}: {reason}: nothing of it migrated", kind, table="dataset"
        )
        return _refused(original, row, name)
    logger.info("%s: %s %r", root, "resuming the migration of" if resumed else "migrating", name)
    with dataset:
        tally = DatasetMigration(original, storage, row, dataset, emitter, Tally(name, root)).run()
        if check:
            # rx-fsck's problems and warnings go out as they come; its counts go in the tally's table
            found = Emitter(lambda record: emitter.emit(record) if record.get("type") != "fsck" else None)
            report = fsck(dataset, found)
            tally.checked = (report.problems, report.warnings)
            if report.problems:
                logger.error("%s: rx-fsck finds %d problem(s)", root, report.problems)
    left = {kind: tally.original[kind] - tally.migrated[kind] for kind in KINDS}
    logger.info("%s: %s", root, ", ".join(f"{kind} {tally.migrated[kind]}/{tally.original[kind]}" for kind in KINDS))
    if any(left.values()):
        logger.warning("%s: not migrated: %s", root, ", ".join(f"{n} {kind}" for kind, n in left.items() if n))
    return tally
