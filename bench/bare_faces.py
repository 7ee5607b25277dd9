"""rx-match on face records that come without their embedding: the time per face as the dataset grows.

rx-match embeds such a face itself (rx-detect | rx-match, or a stream cut before rx-embed). It
used to build a new embedding stage per face, which read every stored embedding each time: a
second per face at 100k stored embeddings. Now one embedding stage serves the stream and the
dataset's embeddings are folded once per process (state.py), on the first bare face. Claim: the
time per bare face after the first, at the largest size, is within FLAT_WITHIN times the time at
the smallest (flat). Beside it, the first face (which pays for that one read) and the time of one
read of every stored embedding: what each bare face used to cost.

The stored embeddings are generated (no model runs) under a stand-in 128-d model, and indexed,
so the search itself stays an Annoy lookup; the bare faces are boxes on one generated photo.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time

import numpy as np

SIZES = (10_000, 100_000, 1_000_000)
BARE = 50
FLAT_WITHIN = 2.0
DIM = 128
MODEL = "BenchVectors"


class _Model:
    """A stand-in recogniser: the mean colour of the box spread over 128 numbers (what it returns
    does not matter here, only that it is cheap and the same for the same face)."""

    name = MODEL
    dim = DIM
    version = "bench-1"
    normalization = "base"

    def embed(self, image, faces, align, flip=False):
        rows = []
        for face in faces:
            left, top, right, bottom = (int(v) for v in face["box"])
            mean = image[top:bottom, left:right].reshape(-1, 3).mean(axis=0)
            rows.append(np.resize(mean / 255.0, DIM) + np.arange(DIM) / DIM)
        return np.asarray(rows, np.float32).reshape(len(faces), DIM)


def _photo() -> bytes:
    from PIL import Image

    rng = np.random.default_rng(7)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


def generate(root: str, size: int) -> tuple[str, list[dict]]:
    """A dataset of `size` stored embeddings, indexed, and one photo with BARE faces not embedded."""
    from recops.datasets import create_dataset
    from recops.index import build_index
    from recops.logs import EMBEDDINGS, IMAGES
    from recops.records import image_record, timestamp
    from recops.store.dataset import Dataset
    from recops.store.objects import content_id

    rng = np.random.default_rng(size)
    create_dataset(root, detector="dlib", model=MODEL, threshold=0.5).close()
    with Dataset.open(root) as dataset:
        embeddings = dataset.log(EMBEDDINGS)
        embeddings.flush_every = 10_000
        for n in range(size):
            embeddings.append(
                {
                    "type": "embedding",
                    "face": f"{n:032x}",
                    "image": f"{n // 2 + (1 << 100):032x}",
                    "model": MODEL,
                    "model_version": "bench-1",
                    "dim": DIM,
                    "normalization": "base",
                    "vector": rng.normal(size=DIM).astype(np.float32),
                    "ts": timestamp(),
                }
            )
        data = _photo()
        image = content_id(data)
        dataset.objects.put(image, data)
        dataset.log(IMAGES).append(image_record(image, len(data), "image/jpeg", 640, 480, ["bench.jpg"], True))
        dataset.flush()
        build_index(dataset, MODEL, "cosine")
    faces = [
        {
            "type": "face",
            "id": f"{(1 << 120) + n:032x}",
            "image": image,
            "dataset": root,
            "box": [10 * (n % 40), 10 * (n // 40), 10 * (n % 40) + 60, 10 * (n // 40) + 60],
            "aligned": False,
        }
        for n in range(BARE)
    ]
    return image, faces


def run(opts) -> dict:
    from recops import models
    from recops.logs import EMBEDDINGS
    from recops.stages.matching import FaceMatching, Matcher
    from recops.store.dataset import Dataset
    from recops.stream import Emitter
    from recops.vectors import Embeddings

    models.register_embedder(MODEL, _Model)
    sizes = [s for s in SIZES if not opts.limit or s <= opts.limit] or [opts.limit]
    rows = []
    for size in sizes:
        work = tempfile.mkdtemp(prefix="recops-bench-bare-")
        try:
            root = os.path.join(work, "case.rx")
            started = time.perf_counter()
            _, faces = generate(root, size)
            made = time.perf_counter() - started
            with Dataset.open(root) as dataset:
                started = time.perf_counter()
                Embeddings(MODEL, dataset.log(EMBEDDINGS).records())
                fold = time.perf_counter() - started
                started = time.perf_counter()
                matcher = Matcher(dataset)
                opened = time.perf_counter() - started
                out: list[dict] = []
                matching = FaceMatching(Emitter(out.append), matcher)
                started = time.perf_counter()
                matching.run(faces[:1])
                first = time.perf_counter() - started
                started = time.perf_counter()
                matching.run(faces[1:])
                per_face = (time.perf_counter() - started) / (len(faces) - 1)
            embedded = sum(r["type"] == "embedding" for r in out)
            rows.append(
                {
                    "stored embeddings": size,
                    "generate and index s": made,
                    "open the search s": opened,
                    "first bare face s": first,
                    "per bare face after it ms": per_face * 1000,
                    "bare faces embedded": embedded,
                    "read of every embedding s (what each bare face cost before)": fold,
                }
            )
        finally:
            if not opts.keep:
                shutil.rmtree(work, ignore_errors=True)
    ok = rows[-1]["per bare face after it ms"] <= FLAT_WITHIN * rows[0]["per bare face after it ms"] and all(
        r["bare faces embedded"] == BARE for r in rows
    )
    return {
        "title": "rx-match on faces without an embedding, as the dataset grows",
        "notes": [
            f"{BARE} bare faces on one photo matched at each size, the first alone; the search is indexed",
            f"claim: the time per bare face at {rows[-1]['stored embeddings']:,} stored embeddings is within "
            f"{FLAT_WITHIN:g}x the time at {rows[0]['stored embeddings']:,}: {'met' if ok else 'NOT met'}",
        ],
        "tables": {"sizes": rows},
        "ok": ok,
    }
