"""A photo uploaded to the web interface is recognised as `recops recognize` does it, and its
report is rx-report's recognize report of that one photo, rendered from what the dataset kept."""

from __future__ import annotations

import os

from ..errors import InputError
from ..report.context import Builder
from ..report.gather import Gathered, from_dataset
from ..report.pictures import Pictures
from ..report.render import render_html
from ..stages.recognition import recognize
from ..store.dataset import Dataset
from ..stream import Emitter

MAX_UPLOAD = 64 << 20


def recognize_upload(dataset: Dataset, path: str) -> str:
    """Recognise an uploaded photo against the dataset, which keeps it with its faces and
    matches (as a query, unless the dataset holds it already); returns its image id. `path` is
    the upload's private temporary file, named after the uploaded file: the image record keeps
    it as where the photo came from."""
    if os.path.getsize(path) == 0:
        raise InputError("empty", "the uploaded file is empty: choose a photo")
    records: list[dict] = []
    recognize(dataset, [path], Emitter(records.append))
    errors = [r for r in records if r.get("type") == "error"]
    image = next((r["id"] for r in records if r.get("type") == "image"), None)
    if image is None:
        raise InputError(
            errors[0].get("kind", "failed") if errors else "failed",
            errors[0].get("reason", "not recognised") if errors else "the photo was not recognised",
        )
    return image


def recognition_report(dataset: Dataset, image: str) -> str:
    """rx-report's recognize report of one kept photo (a recognition, or a photo with stored
    matches), as one self-contained HTML page."""
    kept = from_dataset(dataset, "recognize")
    if image not in kept.images:
        raise KeyError(image)
    one = Gathered(dataset=dataset.root, order=[image])
    one.images = {image: kept.images[image]}
    one.faces = {id: f for id, f in kept.faces.items() if f.get("image") == image}
    one.detected = kept.detected & {image}
    one.matches = [m for m in kept.matches if m.get("query_image") == image]
    one.attributes = kept.attributes
    name = os.path.basename((kept.images[image].get("paths") or [image])[0])
    variables = Builder(one, dataset, Pictures(dataset), Emitter(lambda record: None)).build(
        "recognize", f"Recognition of {name}"
    )
    return render_html(variables)
