"""recops webui over tens of thousands of faces: how long its pages take, against rx-ls reading the same records.

Claims, at each size (SIZES faces; --limit N runs only the sizes up to N): a page served from the
current snapshot answers in under PAGE_TARGET_MS (median over the pages below), and the first
page after a change (the snapshot read again from the records) in under CHANGE_TARGET times what
`rx-ls faces` takes, as a whole process, to read and print the same faces. Thumbnails are timed
made and cached, and the proposals (rx-review propose, computed in the background) are timed up
to PROPOSALS_UP_TO faces; both are reported, not judged. The faces are generated straight into
the records (no model runs): PHOTOS_WITH_PIXELS photos get real JPEG bytes for the thumbnails,
and the vectors have an identity structure (IDENTITIES people, FACES_PER_IDENTITY linked faces
each, the rest near them or near no one).
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np

SIZES = (10_000, 50_000)
PROPOSALS_UP_TO = 50_000
"""rx-review propose searches the identified faces for each face of nobody: timed up to this size."""
PAGE_TARGET_MS = 150.0
CHANGE_TARGET = 2.0
IDENTITIES = 200
FACES_PER_IDENTITY = 10
PHOTOS_WITH_PIXELS = 120
DIM = 128


def generate(root: str, faces: int, seed: int = 0) -> dict:
    """A dataset of `faces` faces, two to a photo; returns ids for the pages to ask for."""
    from PIL import Image

    from recops.datasets import create_dataset
    from recops.logs import EMBEDDINGS, FACES, IMAGES, LINKS
    from recops.logs import IDENTITIES as IDENTITY_LOG
    from recops.records import image_record, timestamp
    from recops.store.dataset import Dataset
    from recops.store.objects import content_id

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(IDENTITIES * 2, DIM)).astype(np.float32)
    create_dataset(root, threshold=0.07).close()
    with Dataset.open(root) as ds:
        people = []
        for n in range(IDENTITIES):
            now = timestamp()
            people.append(
                {
                    "type": "identity",
                    "id": f"{n:032x}",
                    "name": f"person {n}",
                    "description": "",
                    "color": "#00ff01",
                    "created": now,
                    "ts": now,
                }
            )
            ds.log(IDENTITY_LOG).append(people[-1])
        for n in range(faces // 2):
            image = f"{n + 1:032x}"
            if n < PHOTOS_WITH_PIXELS:
                pixels = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
                out = io.BytesIO()
                pixels.save(out, "JPEG", quality=80)
                data = out.getvalue()
                image = content_id(data)
                ds.objects.put(image, data)
            ds.log(IMAGES).append(image_record(image, 1, "image/jpeg", 640, 480, [f"/photos/{n}.jpg"], False))
            for side in range(2):
                face = 2 * n + side
                id = f"f{face:031x}"
                box = [40 + 300 * side, 100, 240 + 300 * side, 300]
                ds.log(FACES).append(
                    {
                        "type": "face",
                        "id": id,
                        "image": image,
                        "box": box,
                        "confidence": 1.0,
                        "detector": "dlib",
                        "ts": timestamp(),
                    }
                )
                person = face % (IDENTITIES * 2)
                vector = centres[person] + rng.normal(scale=0.25, size=DIM).astype(np.float32)
                ds.log(EMBEDDINGS).append(
                    {
                        "type": "embedding",
                        "face": id,
                        "image": image,
                        "model": "Dlib",
                        "vector": vector,
                        "ts": timestamp(),
                    }
                )
                if person < IDENTITIES and face < IDENTITIES * 2 * FACES_PER_IDENTITY:
                    ds.log(LINKS).append(
                        {
                            "type": "link",
                            "face": id,
                            "image": image,
                            "identity": f"{person:032x}",
                            "op": "link",
                            "source": "manual",
                            "ts": timestamp(),
                        }
                    )
    return {"face": "f" + "0" * 31, "image": image, "identity": f"{0:032x}"}


def fetch(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        response.read()
        assert response.status == 200, url
    return time.perf_counter() - start


def run(opts) -> dict:
    from recops.identities import IdentityEditor
    from recops.store.dataset import Dataset
    from recops.webui import make_server, url_of
    from recops.webui.sites import Sites, site_key

    title = "recops webui pages over generated datasets vs. rx-ls faces reading the same records"
    rows, timings, ok = [], [], True
    rx_ls = os.path.join(os.path.dirname(sys.executable), "rx-ls")
    sizes = [s for s in SIZES if not opts.limit or s <= opts.limit] or [opts.limit]
    for size in sizes:
        work = tempfile.mkdtemp(prefix="recops-bench-webui-")
        root = os.path.join(work, "case.rx")
        started = time.perf_counter()
        ids = generate(root, size)
        made = time.perf_counter() - started
        server, app = make_server(Sites(dataset=root), "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        base = url_of(server).rstrip("/") + f"/d/{site_key(root)}/"
        try:
            first = fetch(base)
            pages = {
                "overview": "",
                "images, page 2": "images?page=2",
                "faces of nobody, last page": f"faces?identity=none&page={size}",
                "faces of an identity": f"faces?identity={ids['identity']}",
                "identities": "identities",
                "identity": f"identities/{ids['identity']}",
                "image": f"images/{ids['image']}",
            }
            served = {}
            for name, path in pages.items():
                served[name] = min(fetch(base + path) for _ in range(opts.repeat))
            face_first = fetch(base + f"faces/{ids['face']}")
            face_cached = min(fetch(base + f"faces/{ids['face']}") for _ in range(opts.repeat))
            thumbs = [f"thumbs/faces/f{2 * n:031x}.jpg" for n in range(PHOTOS_WITH_PIXELS - 20, PHOTOS_WITH_PIXELS)]
            made_thumbs = [fetch(base + t) for t in thumbs]
            cached_thumbs = [fetch(base + t) for t in thumbs]
            with Dataset.open(root) as ds:
                IdentityEditor(ds).link(f"f{1:031x}", ids["identity"])
            after_change = fetch(base + "faces?identity=none")
            proposals_s = shown = None
            if size <= PROPOSALS_UP_TO:
                started = time.perf_counter()
                while "reloads by itself" in (
                    page := urllib.request.urlopen(base + "proposals", timeout=600).read().decode()
                ):
                    time.sleep(0.5)
                proposals_s, shown = time.perf_counter() - started, page.count('<tr id="proposal-')
            listed = []
            for _ in range(opts.repeat):
                started = time.perf_counter()
                subprocess.run([rx_ls, "faces", "-d", root], stdout=subprocess.DEVNULL, check=True)
                listed.append(time.perf_counter() - started)
            median_ms = statistics.median(served.values()) * 1000
            ratio = after_change / min(listed)
            ok &= median_ms < PAGE_TARGET_MS and ratio < CHANGE_TARGET
            rows.append(
                {
                    "faces": size,
                    "photos": size // 2,
                    "generate s": made,
                    "first page s": first,
                    "page median ms": median_ms,
                    "page max ms": max(served.values()) * 1000,
                    "after a change s": after_change,
                    "rx-ls faces s": min(listed),
                    "ratio": ratio,
                    "face page first s": face_first,
                    "face page ms": face_cached * 1000,
                    "thumbnail made ms": statistics.median(made_thumbs) * 1000,
                    "thumbnail cached ms": statistics.median(cached_thumbs) * 1000,
                    "proposals s": proposals_s,
                    "proposals on page 1": shown,
                }
            )
            timings += [{"faces": size, "page": name, "ms": seconds * 1000} for name, seconds in served.items()]
        finally:
            server.shutdown()
            server.server_close()
            if not opts.keep:
                shutil.rmtree(work, ignore_errors=True)
    return {
        "title": title,
        "notes": [
            f"claim: median page under {PAGE_TARGET_MS:g} ms and the first page after a change under "
            f"{CHANGE_TARGET:g}x rx-ls faces, at each size up to {sizes[-1]:,} faces: {'met' if ok else 'NOT met'}",
            "pages are fetched over HTTP from a server in this process, best of --repeat",
        ],
        "tables": {"sizes": rows, "pages": timings},
        "ok": ok,
    }
