"""One real photo in every format recops reads, through import, detect and embed: the time of each
step and whether the face comes out as from the JPEG.

Claim: every format finds the photo's one face and embeds it within cosine TARGET of the JPEG
original's. Times are in this process with the models loaded (a warm-up run first), best of
--repeat, each run into a fresh dataset, so the time is the format's own: reading it through at
import, decoding it to search it, decoding it again to embed.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time

import numpy as np

TARGET = 0.03
FORMATS = {
    "JPEG": ("JPEG", {"quality": 95}),
    "PNG": ("PNG", {}),
    "WebP": ("WEBP", {"quality": 95}),
    "HEIC": ("HEIF", {"quality": 95}),
    "AVIF": ("AVIF", {"quality": 95}),
    "TIFF (deflate)": ("TIFF", {"compression": "tiff_deflate"}),
    "GIF": ("GIF", {}),
    "BMP": ("BMP", {}),
}


def encoded(image, kind: str) -> bytes:
    out = io.BytesIO()
    name, options = FORMATS[kind]
    image.copy().save(out, name, **options)
    return out.getvalue()


def steps(folder: str, path: str) -> tuple[dict[str, float], list]:
    """Seconds of each step for one file into a fresh dataset, and its embeddings."""
    from recops.datasets import create_dataset
    from recops.stages.detection import DetectOptions, FaceDetection
    from recops.stages.embedding import EmbedOptions, FaceEmbedding
    from recops.stages.importing import Importer
    from recops.store.dataset import Dataset
    from recops.stream import Emitter

    root = tempfile.mkdtemp(dir=folder)
    os.rmdir(root)
    create_dataset(root).close()
    imported, detected, embedded, seconds = [], [], [], {}
    with Dataset.open(root) as dataset:
        start = time.perf_counter()
        with Importer(dataset, Emitter(imported.append)) as importer:
            importer.add_path(path)
        seconds["import s"] = time.perf_counter() - start
        start = time.perf_counter()
        FaceDetection(Emitter(detected.append), DetectOptions("dlib"), dataset).run(imported)
        seconds["detect s"] = time.perf_counter() - start
        start = time.perf_counter()
        FaceEmbedding(Emitter(embedded.append), EmbedOptions("Dlib"), dataset).run(detected)
        seconds["embed s"] = time.perf_counter() - start
    shutil.rmtree(root)
    return seconds, [np.asarray(r["vector"], np.float64) for r in embedded if r["type"] == "embedding"]


def run(opts) -> dict:
    title = "one photo in every format: import, detect, embed"
    source = os.path.join(os.path.dirname(os.path.abspath(opts.faces)), "face_recognition", "obama", "obama.jpg")
    if not os.path.exists(source):
        return {"title": title, "skipped": f"no photo at {source}"}
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    photo = Image.open(source).convert("RGB")
    folder = tempfile.mkdtemp(prefix="recops-bench-formats-", dir="/tmp")
    rows, reference = [], None
    try:
        for kind in FORMATS:
            path = os.path.join(folder, f"photo.{FORMATS[kind][0].lower()}")
            with open(path, "wb") as out:
                out.write(encoded(photo, kind))
            if reference is None:
                steps(folder, path)  # loads the models
            runs = [steps(folder, path) for _ in range(opts.repeat)]
            vectors = runs[0][1]
            reference = reference if reference is not None else vectors[0]
            best = {step: min(r[0][step] for r in runs) for step in runs[0][0]}
            distance = 1 - float(vectors[0] @ reference / np.linalg.norm(vectors[0]) / np.linalg.norm(reference))
            rows.append(
                {
                    "format": kind,
                    "bytes": os.path.getsize(path),
                    **best,
                    "total s": sum(best.values()),
                    "faces": len(vectors),
                    "cosine to JPEG": round(distance, 4),
                    "verdict": "PASS" if len(vectors) == 1 and distance < TARGET else "FAIL",
                }
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    notes = [
        f"{source}: {photo.width}x{photo.height}, written in each format by Pillow (pillow-heif for HEIC)",
        f"in-process, models loaded, best of {opts.repeat}; each run into a fresh dataset",
        f"claim: one face, cosine to the JPEG's embedding < {TARGET}",
    ]
    return {
        "title": title,
        "notes": notes,
        "tables": {"formats": rows},
        "ok": all(row["verdict"] == "PASS" for row in rows),
    }
