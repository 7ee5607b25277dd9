"""One folder of face crops per cluster, as the original dataset-cluster-faces wrote them:

    DIR/cluster-<label>/<face id>.jpg

The folders are written beside DIR under a temporary name and renamed into place when done, so
DIR holds a whole export or nothing. Crops are faces: folders are made 0700 and files 0600.
"""

from __future__ import annotations

import os
import shutil

from ..crops import crop, jpeg
from ..errors import InputError, UsageError
from ..faces import FaceCatalog
from ..outputs import open_private, private_folders
from ..parallel import ordered_map
from ..pixels import Picture, face_pictures
from ..store.dataset import Dataset
from ..stream import Emitter
from .naming import STAGE

SHARP_CROP = 200
"""Faces are decoded at this many pixels across at most: enough for a crop a person can judge."""


def _crops(task) -> list[tuple[str, str, bytes]] | InputError:
    """(folder, face, JPEG bytes) for the faces of one image."""
    path, faces = task
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        return [
            (faces[index]["folder"], faces[index]["id"], jpeg(crop(pixels, face["box"])))
            for indices, pixels, on in face_pictures(data, faces, sharp=SHARP_CROP)
            for index, face in zip(indices, on)
        ]
    except OSError as exc:
        return InputError("no-pixels", f"cannot read {path}: {exc.strerror or exc}")
    except Exception as exc:  # one photo must not end the export
        return InputError("unreadable", f"{type(exc).__name__}: {exc}")


def check_target(directory: str) -> None:
    """Refuse a target that holds anything: an export never mixes with another."""
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise UsageError(f"-o {directory}: exists and is not an empty folder")


def write_folders(dataset: Dataset, clusters: list[dict], directory: str, out: Emitter, jobs: int = 1) -> int:
    """Write the crops of `clusters` (labelled records); returns how many were written."""
    check_target(directory)
    catalog = FaceCatalog.of(dataset)
    width = len(str(max((c["label"] for c in clusters), default=0)))
    by_image: dict[str, list[dict]] = {}
    for cluster in clusters:
        folder = f"cluster-{cluster['label']:0{width}d}"
        for face in cluster["faces"]:
            record = catalog.get(face)
            if record is None:
                out.fail(face, STAGE, f"face {face} has no face record", "unknown-face")
                continue
            by_image.setdefault(record["image"], []).append(
                {"id": face, "box": record["box"], "folder": folder, **Picture.of(record).fields}
            )
    parent = os.path.dirname(os.path.abspath(directory))
    temp = os.path.join(parent, f".tmp-{os.path.basename(os.path.abspath(directory))}-{os.urandom(4).hex()}")
    private_folders(parent)
    os.mkdir(temp, 0o700)
    written = 0
    try:
        for cluster in clusters:
            os.makedirs(os.path.join(temp, f"cluster-{cluster['label']:0{width}d}"), mode=0o700, exist_ok=True)
        tasks = [(dataset.objects.path(image), faces) for image, faces in sorted(by_image.items())]
        for task, result in ordered_map(tasks, _crops, jobs, lambda task: task):
            if isinstance(result, InputError):
                for face in task[1]:
                    out.fail(face["id"], STAGE, result.reason, result.kind)
                continue
            for folder, face, data in result:
                with open_private(os.path.join(temp, folder, f"{face}.jpg"), "wb") as handle:
                    handle.write(data)
                written += 1
        if os.path.isdir(directory):
            os.rmdir(directory)
        os.rename(temp, directory)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return written
