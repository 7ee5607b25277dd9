"""rx-calibrate's core: measure how a dataset's own people's faces lie, and choose its threshold.

The labelled faces are the dataset's identities (every face linked to one, and every other face of
their photos, which is nobody of theirs), or a folder tree of photos (`people/NAME/*.jpg`) run
through the dataset's detector and model without being stored. Every pair of them is counted
(calibration.measure); the calibration is kept as a record of the `calibrations` log, and the
dataset's threshold becomes the one for the target false-match rate (or the best accuracy),
with where it came from.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass

import numpy as np

from .calibration import DEFAULT_FMR, FEW_FALSE, FEW_GENUINE, Calibration, measure
from .errors import UsageError
from .faces import FaceCatalog
from .identities import IdentityView
from .logs import CALIBRATIONS
from .records import timestamp, warning_record
from .stages.chain import Chain
from .stages.detection import DetectOptions, FaceDetection
from .stages.embedding import EmbedOptions, FaceEmbedding
from .stages.folder_imports import identity_files
from .state import state_of
from .store.dataset import Dataset
from .stream import Emitter
from .thresholds import source_of
from .vectors import Embeddings, as_vector

logger = logging.getLogger("recops")
STAGE = "calibrate"


@dataclass(frozen=True)
class CalibrateOptions:
    folders: str | None = None
    """A folder of one folder per person; None: the dataset's identities."""
    target_fmr: float | None = None
    """The false-match rate the threshold is chosen for; None: DEFAULT_FMR, unless best_accuracy."""
    best_accuracy: bool = False
    set_threshold: bool = True
    workers: int = 1


@dataclass
class Labelled:
    vectors: list
    people: list
    images: list

    def add(self, vector, person: str | None, image: str) -> None:
        self.vectors.append(np.asarray(vector, np.float64))
        self.people.append(person)
        self.images.append(image)


def from_identities(dataset: Dataset) -> Labelled:
    """Every embedded face linked to an identity, and the other faces of their photos (as nobody's)."""
    view = IdentityView.of(dataset)
    faces = FaceCatalog.of(dataset)
    embeddings = Embeddings.of(dataset, dataset.config.model)
    photos = {faces.get(face)["image"] for face in view.face_identity if faces.get(face)}
    found = Labelled([], [], [])
    for face in faces:
        embedding = embeddings.get(face["id"])
        if face["image"] in photos and embedding is not None and view.deletions.current(face["id"]) == face["id"]:
            found.add(as_vector(embedding["vector"]), view.face_identity.get(face["id"]), face["image"])
    return found


def from_folders(dataset: Dataset, folder: str, out: Emitter, workers: int) -> Labelled:
    """The faces of `folder`'s photos, each photo's labelled by its folder when it has exactly one."""
    config = dataset.config
    paths = {os.path.abspath(path): name for path, name in identity_files(folder)}
    records: list[dict] = []
    chain = Chain()
    chain.add(lambda e: FaceDetection(e, DetectOptions(config.detector), None, workers))
    chain.add(lambda e: FaceEmbedding(e, EmbedOptions(config.model, config.flip), None, workers))
    records = chain.run(list(paths))
    for record in records:
        if record.get("type") == "error":
            out.emit(record)
    count = {}
    for record in records:
        if record.get("type") == "face":
            count[record["image"]] = count.get(record["image"], 0) + 1
    person_of = {r["id"]: paths.get(r.get("path") or "") for r in records if r.get("type") == "image"}
    found = Labelled([], [], [])
    for record in records:
        if record.get("type") == "embedding":
            image = record["image"]
            found.add(as_vector(record["vector"]), person_of.get(image) if count.get(image) == 1 else None, image)
    return found


def calibrate(dataset: Dataset, out: Emitter, options: CalibrateOptions = CalibrateOptions()) -> dict:
    """Measure, keep the calibration, choose the threshold; returns the summary record."""
    config = dataset.config
    if options.folders:
        labelled = from_folders(dataset, options.folders, out, options.workers)
        where = f"the photos of {os.path.abspath(options.folders)} (a folder per person)"
    else:
        labelled = from_identities(dataset)
        where = f"the faces linked to identities in {dataset.root}"
    people = {p for p in labelled.people if p is not None}
    if len(people) < 2:
        raise UsageError(f"calibrating needs faces of two people at least; {where} hold {len(people)}")
    curves = measure(np.asarray(labelled.vectors), labelled.people, labelled.images)
    id = os.urandom(16).hex()
    labelled_faces = sum(p is not None for p in labelled.people)
    calibration = Calibration(
        f"{os.path.basename(dataset.root)} {dt.date.today().isoformat()} {id[:8]}",
        config.detector,
        config.model,
        config.flip,
        curves,
        len(people),
        labelled_faces,
        f"{where}; every pair of their faces",
        dt.date.today().isoformat(),
    )
    state_of(dataset).append(
        CALIBRATIONS, {"type": "calibration", "id": id, **calibration.to_dict(), "ts": timestamp()}
    )
    curve = calibration.curve(config.metric)
    genuine, impostor = calibration.pairs(config.metric)
    if options.best_accuracy:
        threshold, fmr = curve.best_accuracy(), None
    else:
        fmr = options.target_fmr if options.target_fmr is not None else DEFAULT_FMR
        threshold = curve.threshold_for(fmr)
        if fmr * impostor < FEW_FALSE:
            _warn(
                out,
                id,
                "too-few-labels",
                f"a false-match rate of {fmr:g} rests on {fmr * impostor:.1f} of {impostor:,} stranger pairs: too few "
                f"to trust; label more people (at least {int(FEW_FALSE / fmr):,} stranger pairs)",
            )
    if genuine < FEW_GENUINE:
        _warn(
            out,
            id,
            "too-few-labels",
            f"only {genuine} pairs of one person's faces: the false-non-match rates "
            "are rough; link more faces to each person",
        )
    threshold = round(threshold, 6)
    measured = curve.fmr(threshold)
    if options.set_threshold:
        source = (
            source_of(calibration, fmr) if fmr is not None else f"calibration {calibration.name} at its best accuracy"
        )
        dataset.update(
            threshold=threshold, threshold_source=source, threshold_fmr=fmr if fmr is not None else None, calibration=id
        )
    return {
        "type": "calibrated",
        "id": id,
        "name": calibration.name,
        "people": len(people),
        "faces": labelled_faces,
        "genuine_pairs": genuine,
        "impostor_pairs": impostor,
        "metric": config.metric,
        "threshold": threshold,
        "fmr": float(f"{measured:.3g}"),
        "fnmr": float(f"{curve.fnmr(threshold):.3g}"),
        "false_matches": round(curve.false_matches(threshold), 1),
        "set": options.set_threshold,
        "dataset": dataset.root,
        "ts": timestamp(),
    }


def _warn(out: Emitter, id: str, kind: str, reason: str) -> None:
    logger.warning("%s", reason)
    out.emit(warning_record(id, STAGE, reason, kind))
