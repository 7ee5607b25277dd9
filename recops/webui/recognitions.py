"""A photo uploaded to the web interface is recognised as `recops recognize` does it, and its
report is rx-report's recognize report of that one photo, rendered from what the dataset kept."""

from __future__ import annotations

import os
import re
import shutil
import tempfile

from ..errors import InputError
from ..recognize import recognize
from ..report.context import Builder
from ..report.gather import Gathered, from_dataset
from ..report.pictures import Pictures
from ..report.render import render_html
from ..store.dataset import Dataset
from ..stream import Emitter

MAX_UPLOAD = 64 << 20
_UNSAFE = re.compile(r"[^\w.() -]+")


def upload_name(filename: str | None) -> str:
    """The uploaded file's own name, reduced to a plain file name (it is kept among the image's paths)."""
    name = _UNSAFE.sub("_", os.path.basename((filename or "").replace("\\", "/"))).strip(" .")[:120]
    return name or "upload.jpg"


def recognize_upload(dataset: Dataset, filename: str | None, data: bytes) -> str:
    """Recognise an uploaded photo against the dataset, which keeps it as a query with its faces
    and matches; returns its image id. The photo is written to a private temporary folder named
    after the web interface, whose path the image record keeps as where it came from."""
    if not data:
        raise InputError("empty", "the uploaded file is empty: choose a photo")
    folder = tempfile.mkdtemp(prefix="recops-webui-upload-")
    try:
        path = os.path.join(folder, upload_name(filename))
        with open(path, "wb") as handle:
            handle.write(data)
        records: list[dict] = []
        recognize(dataset, [path], Emitter(records.append))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    errors = [r for r in records if r.get("type") == "error"]
    image = next((r["id"] for r in records if r.get("type") == "image"), None)
    if image is None:
        raise InputError(errors[0].get("kind", "failed") if errors else "failed",
                         errors[0].get("reason", "not recognised") if errors else "the photo was not recognised")
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
        "recognize", f"Recognition of {name}")
    return render_html(variables)
