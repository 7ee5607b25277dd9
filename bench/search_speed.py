"""1:N search over up to a million stored faces: rx-index's Annoy and HNSW indexes vs. exact numpy
and DeepFace.find.

Claims, at 1,000,000 stored 128-d faces: FaceSearch over an index (rx-index --kind hnsw) answers a
query in at most P50_TARGET_MS (median) with recall@10 of at least RECALL_TARGET against exact
search, and over the default Annoy index the querying process holds at most ANON_SHARE of the raw
vector bytes as anonymous memory (that index is memory-mapped). The faces are generated with the
identity structure of real dlib embeddings of LFW (--lfw, a dataset of every LFW photo embedded);
each searcher is a whole process answering the same held-out queries, each timed on its own. Real
LFW faces then give the rank-1 identification rate (enrol one photo of a person, query with the
others), reported, not judged.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Iterator

import lfw_dataset
import numpy as np
from lfw_verify import PAIR_FILES, best_threshold, distances, read_pairs
from pipeline_speed import tool

P50_TARGET_MS = 3.0  # issue 18
RECALL_TARGET = 0.98
ANON_SHARE = 0.25
SIZES = "10000,100000,1000000"
QUERIES = 1000
K = 10
FACES_PER_ID = 10
BLOCK = 100_000
"""Faces generated at once: bounded temporaries at ten million."""
SEARCH_KS = (-1, 5000, 10000, 20000, 30000, 40000, 50000)
HNSW_SEARCH_KS = (5000, 10000, 20000, 40000)  # ef 100, 200, 400 (the default), 800
RX_MATCH_K = 4 * K + 8  # what rx-match --maximum 10 first asks of FaceSearch: Annoy's default search_k grows with it
ANNOY, EXACT_LABEL = "FaceSearch, rx-index", "exact numpy (matrix in RAM, argpartition)"
HNSW = "FaceSearch, rx-index --kind hnsw"
UNINDEXED_QUERIES = 200  # exact search over the records costs O(n) a query: a sample shows its latency
DEEPFACE_SIZES = (1000, 10_000, 100_000, 1_000_000)
FIND_LIMIT_S = 120
FIND_TIMEOUT_S = 600
LINKS_PER_FILE = 10_000  # ext4 allows 65,000 links to one inode
PAIRS_THRESHOLD = 0.0964  # what pairsDevTrain picks (bench lfw), when the pairs files are absent
MB = 1e6

# FilePmdMapped: file pages mapped 2 MB at a time (large page-cache folios), which RssFile counts whole.
STATUS = """
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
status.update(line.split(":", 1) for line in open("/proc/self/smaps_rollup") if line.startswith("FilePmdMapped"))
keys = ("VmRSS", "RssAnon", "RssFile", "VmHWM", "FilePmdMapped")
memory = {key: int(status.get(key, "0 kB").split()[0]) * 1024 for key in keys}
"""
# argv: dataset, search_k, queries .npy, k. A dataset without an index is searched exactly.
SEARCH = (
    """import json, sys, time
import numpy as np
from recops.search import FaceSearch
from recops.store.dataset import Dataset
root, search_k, queries, k = sys.argv[1], int(sys.argv[2]), np.load(sys.argv[3]), int(sys.argv[4])
start = time.perf_counter()
search = FaceSearch(Dataset.open(root), "Dlib", "cosine", search_k=search_k)
opened, times, found = time.perf_counter() - start, [], []
for query in queries:
    start = time.perf_counter()
    hits = search.nearest(query, k)
    times.append(time.perf_counter() - start)
    found.append([hit.face for hit in hits])
"""
    + STATUS
    + """print(json.dumps({"open_s": opened, "times": times, "found": found, **memory}))
"""
)
# argv: matrix .npy, queries .npy, k. Prints rows of the matrix.
EXACT = (
    """import json, sys, time
import numpy as np
k = int(sys.argv[3])
start = time.perf_counter()
matrix = np.load(sys.argv[1])
matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
opened, times, found = time.perf_counter() - start, [], []
for query in np.load(sys.argv[2]):
    start = time.perf_counter()
    scores = matrix @ (query / np.linalg.norm(query))
    top = np.argpartition(-scores, k)[:k]
    found.append(top[np.argsort(-scores[top])].tolist())
    times.append(time.perf_counter() - start)
"""
    + STATUS
    + """print(json.dumps({"open_s": opened, "times": times, "found": found, **memory}))
"""
)
# argv: photo, db_path, mode: "represent" prints the photo's embedding; "dict" or "default" (return_type
# None: pandas when installed) time one DeepFace.find after two DeepFace.represent of the same photo.
DEEPFACE = (
    """import json, sys, time
from deepface import DeepFace
photo, db, mode = sys.argv[1:4]
args = dict(model_name="Dlib", detector_backend="dlib", enforce_detection=False)
out = {}
for label in ("represent_cold_s", "represent_s"):
    start = time.perf_counter()
    out["vector"] = DeepFace.represent(img_path=photo, **args)[0]["embedding"]
    out[label] = time.perf_counter() - start
if mode != "represent":
    start = time.perf_counter()
    found = DeepFace.find(img_path=photo, db_path=db, distance_metric="cosine", silent=True,
                          return_type=None if mode == "default" else mode, **args)
    out["find_s"] = time.perf_counter() - start
    rows = found[0] if found else []
    out["hits"] = len(rows)
    out["top"] = None if not len(rows) else rows[0]["identity"] if isinstance(rows, list) else rows["identity"].iloc[0]
"""
    + STATUS
    + """print(json.dumps({**out, **memory}))
"""
)


def process(
    command: list[str], timeout: float | None = None, env: dict | None = None
) -> tuple[dict | None, float, str]:
    """Runs a contender (env: added to ours); its last stdout line is JSON. Returns (that, wall seconds, error)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env={**os.environ, **env} if env else None
        )
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start, f"killed after {timeout:g} s"
    seconds = time.perf_counter() - start
    if proc.returncode:
        return None, seconds, f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), seconds, ""


def lfw_faces(root: str) -> list[tuple[str, str, np.ndarray]]:
    """(path, person, Dlib vector) of each LFW photo with a face: the face whose box centre is
    nearest the image centre (LFW centres its person); the person is the photo's folder."""
    from recops.logs import EMBEDDINGS
    from recops.store.dataset import Dataset
    from recops.vectors import as_vector

    with Dataset.open(root) as ds:
        images = {r["id"]: r for r in ds.log("images").records()}
        boxes = {r["id"]: r["box"] for r in ds.log("faces").records()}
        latest = {r["face"]: r for r in ds.log(EMBEDDINGS).records() if r.get("model") == "Dlib"}
    faces = collections.defaultdict(list)
    for record in latest.values():
        faces[record["image"]].append((boxes[record["face"]], as_vector(record["vector"])))
    photos = []
    for image, found in faces.items():
        w, h, path = images[image]["width"], images[image]["height"], sorted(images[image]["paths"])[0]
        _, vector = min(found, key=lambda f: (f[0][0] + f[0][2] - w) ** 2 + (f[0][1] + f[0][3] - h) ** 2)
        photos.append((path, os.path.basename(os.path.dirname(path)), vector))
    return sorted(photos, key=lambda p: p[0])


def groups(labels) -> list[np.ndarray]:
    rows = collections.defaultdict(list)
    for row, label in enumerate(labels):
        rows[label].append(row)
    return [np.array(r) for r in rows.values()]


def root(covariance: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(covariance)
    return vectors * np.sqrt(np.clip(values, 0, None))


def calibrated_model(opts) -> tuple["FaceModel | None", str, str]:
    """The generator calibrated on LFW's Dlib vectors (--lfw, built from --faces when missing):
    (model, the LFW dataset, how many photos it holds), or (None, the LFW dataset, why not)."""
    lfw = os.path.abspath(getattr(opts, "lfw", None) or lfw_dataset.DEFAULT)
    if (why := lfw_dataset.ensure(lfw, os.path.abspath(opts.faces))) is not None:
        return None, lfw, f"{why}: the generated faces are calibrated on LFW's"
    photos = lfw_faces(lfw)
    return FaceModel(np.stack([v for _, _, v in photos]), [p for _, p, _ in photos]), lfw, f"{len(photos):,}"


class FaceModel:
    """Gaussian identity centres around the real mean (between-person covariance), faces around
    them (pooled within-person covariance, scaled per identity as spread varies among people)."""

    def __init__(self, vectors: np.ndarray, people: list[str]):
        vectors = vectors.astype(np.float64)
        shared = [g for g in groups(people) if len(g) > 1]
        deviations = [vectors[g] - vectors[g].mean(0) for g in shared]
        within = sum(d.T @ d for d in deviations) / sum(len(g) - 1 for g in shared)
        self.mean, self.within = vectors.mean(0), root(within)
        self.between = root(np.cov(vectors.T) - within)
        spread = [np.sqrt((d**2).sum() / (len(d) - 1)) for d in deviations if len(d) >= 4]
        self.spread = float(np.std(np.log(spread)))

    def stream(self, n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray, Iterator[np.ndarray]]:
        """generate's draws block by block, so that ten million faces need not be held at once:
        (labels, query labels, float32 blocks of at most BLOCK rows: the n faces, then the queries)."""
        rng = np.random.default_rng(seed)
        ids = max(1, n // FACES_PER_ID)
        centres = self.mean + rng.standard_normal((ids, len(self.mean))) @ self.between.T
        scale = rng.lognormal(0, self.spread, ids)
        scale /= np.sqrt(np.mean(scale**2))
        labels, query_labels = np.arange(n) % ids, rng.integers(0, ids, queries)

        def blocks() -> Iterator[np.ndarray]:
            for of in (labels, query_labels):
                for start in range(0, len(of), BLOCK):
                    part = of[start : start + BLOCK]
                    noise = rng.standard_normal((len(part), len(self.mean))) @ self.within.T
                    yield (centres[part] + scale[part, None] * noise).astype(np.float32)

        return labels, query_labels, blocks()

    def generate(self, n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """n faces of n/FACES_PER_ID identities, and query faces of those identities: both float32, with labels."""
        labels, query_labels, blocks = self.stream(n, queries, seed)
        faces, asked = (np.empty((len(of), len(self.mean)), np.float32) for of in (labels, query_labels))
        for out in (faces, asked):
            for start in range(0, len(out), BLOCK):
                out[start : start + BLOCK] = next(blocks)
        return faces, labels, asked, query_labels


def distance_stats(vectors: np.ndarray, labels) -> dict:
    """Norms, cosine distances within a person (first FACES_PER_ID photos, so no one person
    dominates) and between people (200,000 random pairs)."""
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / norms[:, None]
    same = np.concatenate(
        [
            (1 - u @ u.T)[np.triu_indices(len(u), 1)]
            for g in groups(labels)
            if len(g) > 1
            for u in [unit[g[:FACES_PER_ID]]]
        ]
    )
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(unit), (2, 200_000))
    labels = np.asarray(labels)
    other = 1 - (unit[i] * unit[j]).sum(1)[labels[i] != labels[j]]
    return {
        "norm mean": float(norms.mean()),
        "norm sd": float(norms.std()),
        "same-person distance p5 p50 p95": np.percentile(same, [5, 50, 95]).round(4).tolist(),
        "different-person distance p1 p5 p50 p95": np.percentile(other, [1, 5, 50, 95]).round(4).tolist(),
    }


def new_ids(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.bytes(16 * n)
    return [raw[i : i + 16].hex() for i in range(0, 16 * n, 16)]


def write_dataset(path: str, matrix: np.ndarray, rng: np.random.Generator) -> list[str]:
    """A fresh dataset holding one embedding record per row; returns the face ids, row for row."""
    from recops.datasets import create_dataset
    from recops.logs import EMBEDDINGS

    faces, images = new_ids(rng, len(matrix)), new_ids(rng, len(matrix))
    with create_dataset(path) as ds:
        append_embeddings(ds.log(EMBEDDINGS), faces, images, matrix)
    return faces


def append_embeddings(log, faces: list[str], images: list[str], matrix: np.ndarray) -> None:
    """One Dlib embedding record per row."""
    from recops.records import timestamp

    for face, image, vector in zip(faces, images, matrix):
        log.append(
            {"type": "embedding", "face": face, "image": image, "model": "Dlib", "vector": vector, "ts": timestamp()}
        )


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def exact_top(matrix: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k nearest (cosine) per query, as ground truth."""
    matrix, queries, out = unit(matrix), unit(queries), []
    for start in range(0, len(queries), 25):
        scores = queries[start : start + 25] @ matrix.T
        out.append(np.argpartition(-scores, k, axis=1)[:, :k])
    return np.concatenate(out)


def measured(label: str, n: int, out: dict | None, error: str, truth: np.ndarray, rows=None, **extra) -> dict:
    """A searcher's row: latency percentiles, recall@K against `truth`, its memory at the end."""
    row = {"faces": n, "searcher": label, **extra}
    if out is None:
        return {**row, "verdict": f"error: {error}"}
    found = [[rows[f] for f in faces if f in rows] for faces in out["found"]] if rows else out["found"]
    found = [f[: len(t)] for f, t in zip(found, truth)]  # a searcher asked for more than K: its first K
    ms = np.array(out["times"]) * 1000
    return {
        **row,
        "queries": len(ms),
        "open s": out["open_s"],
        "p50 ms": float(np.percentile(ms, 50)),
        "p99 ms": float(np.percentile(ms, 99)),
        "first ms": float(ms[0]),
        "recall@10": float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])),
        "RSS MB": out["VmRSS"] / MB,
        "RssAnon MB": out["RssAnon"] / MB,
        "RssFile MB": out["RssFile"] / MB,
        "of which 2 MB-mapped": out["FilePmdMapped"] / MB,
        "RssAnon ÷ raw": out["RssAnon"] / (n * 128 * 4),
    }


def deepface_store(db: str, photo: str, matrix: np.ndarray, planted: list[float]) -> str:
    """The datastore DeepFace.find keeps in db_path, as if it had embedded every image there: our
    vectors, each entry a hard link to one real JPEG (so its listing and hashes match); row 0 holds
    the query photo's own deepface embedding, which find must then return first."""
    identities, hashes = [], []
    for start in range(0, len(matrix), LINKS_PER_FILE):
        folder = os.path.join(db, f"{start // LINKS_PER_FILE:04d}")
        os.makedirs(folder)
        names = [os.path.join(folder, f"{i:07d}.jpg") for i in range(start, min(len(matrix), start + LINKS_PER_FILE))]
        shutil.copyfile(photo, names[0])
        for name in names[1:]:
            os.link(names[0], name)
        st = os.stat(names[0])  # after the last link (links change ctime); deepface's find_image_hash
        hashes += [hashlib.sha1(f"{st.st_size}-{st.st_ctime}-{st.st_mtime}".encode()).hexdigest()] * len(names)
        identities += names
    embedding = matrix.astype(np.float64)
    embedding[0] = planted
    zeros = np.zeros(len(matrix), np.int64)
    path = os.path.join(db, "ds_model_dlib_detector_dlib_aligned_normalization_base_expand_0.npz")
    np.savez(
        path,
        embedding=embedding,
        has_embedding=np.ones(len(matrix), bool),
        identity=np.array(identities),
        hash=np.array(hashes),
        target_x=zeros,
        target_y=zeros,
        target_w=zeros,
        target_h=zeros,
    )
    return path


def deepface_peer(photo: str, model: FaceModel, tmp: str, largest: int) -> tuple[list[dict], list[str]]:
    """DeepFace.find over its own datastore at growing sizes, until a query takes over FIND_LIMIT_S."""
    planted, _, error = process([sys.executable, "-c", DEEPFACE, photo, "", "represent"])
    if not planted:
        return [{"verdict": f"error: DeepFace.represent: {error}"}], [f"DeepFace.represent: {error}"]
    rows, failures, modes = [], [], ["dict", "default"]
    for n in [s for s in DEEPFACE_SIZES if s <= largest]:
        db = os.path.join(tmp, f"deepface-{n}")
        try:
            start = time.perf_counter()
            store = deepface_store(db, photo, model.generate(n, 0, seed=7)[0], planted["vector"])
            setup = time.perf_counter() - start
        except OSError as exc:
            rows.append({"faces": n, "verdict": f"setup failed: {exc}"})
            failures.append(f"setup at {n:,}: {exc}")
            break
        for mode in list(modes):
            written = os.stat(store).st_mtime_ns
            out, _, error = process([sys.executable, "-c", DEEPFACE, photo, db, mode], FIND_TIMEOUT_S)
            row = {
                "faces": n,
                "return_type": "None (pandas)" if mode == "default" else mode,
                "setup s": setup,
                "datastore MB": os.path.getsize(store) / MB,
            }
            if out is None:
                rows.append({**row, "verdict": f"error: {error}"})
                failures.append(f"find at {n:,}, {mode}: {error}")
                modes.remove(mode)
                continue
            used = out["top"] == os.path.join(db, "0000", "0000000.jpg") and os.stat(store).st_mtime_ns == written
            rows.append(
                {
                    **row,
                    "represent s": out["represent_s"],
                    "find s": out["find_s"],
                    "find − represent s": out["find_s"] - out["represent_s"],
                    "peak RSS MB": out["VmHWM"] / MB,
                    "used our datastore": "yes" if used else f"no (top {out['top']}, {out['hits']} hits)",
                    "verdict": f"> {FIND_LIMIT_S} s: stop" if out["find_s"] > FIND_LIMIT_S else "in time",
                }
            )
            if not used:
                failures.append(f"find at {n:,}, {mode}: did not answer from the prepared datastore")
            if out["find_s"] > FIND_LIMIT_S or not used:
                modes.remove(mode)
        shutil.rmtree(db, ignore_errors=True)
        if not modes:
            break
    return rows, failures


def identification(
    photos: list, tmp: str, thresholds: dict[str, float], searches: list[tuple[int, int]]
) -> tuple[list[dict], dict]:
    """Enrol each person's first photo (people with one photo stay as distractors), query with the rest."""
    from recops.index import build_index
    from recops.search import FaceSearch
    from recops.store.dataset import Dataset

    by_person = collections.defaultdict(list)
    for _path, person, vector in photos:
        by_person[person].append(vector)
    gallery = [(person, vectors[0]) for person, vectors in by_person.items()]
    queries = [(person, v) for person, vectors in by_person.items() for v in vectors[1:]]
    people, matrix = [p for p, _ in gallery], np.stack([v for _, v in gallery])
    asked, vectors = [p for p, _ in queries], np.stack([v for _, v in queries])
    d = 1 - unit(vectors) @ unit(matrix).T
    nearest = {"exact cosine (numpy)": (d.argmin(1), d.min(1))}
    root_ = os.path.join(tmp, "lfw-gallery")
    faces = write_dataset(root_, matrix, np.random.default_rng(3))
    row_of = {f: i for i, f in enumerate(faces)}
    with Dataset.open(root_) as ds:
        info = build_index(ds, "Dlib", "cosine")
        for search_k, k in searches:
            search = FaceSearch(ds, "Dlib", "cosine", search_k=search_k)
            hits = [search.nearest(v, k)[0] for v in vectors]
            nearest[f"FaceSearch, rx-index ({info.trees} trees), search_k {search_k}, k {k}"] = (
                np.array([row_of[h.face] for h in hits]),
                np.array([h.distance for h in hits]),
            )
    rows = []
    for label, (found, distance) in nearest.items():
        right = np.array([people[f] == p for f, p in zip(found, asked)])
        row = {"search": label, "gallery": len(gallery), "queries": len(queries), "rank-1": float(right.mean())}
        for name, t in thresholds.items():
            row[f"nearest ≤ {t:.4g} ({name})"] = float((distance <= t).mean())
            row[f"right and ≤ {t:.4g}"] = float((right & (distance <= t)).mean())
        rows.append(row)
    counts = {"people": len(by_person), "enrolled": sum(len(v) > 1 for v in by_person.values())}
    return rows, counts


def meets(row: dict) -> bool:
    return row.get("recall@10", 0) >= RECALL_TARGET and row.get("p50 ms", 1e9) <= P50_TARGET_MS


def build_row(n: int, write_s: float, seconds: float, built: dict) -> dict:
    size = os.path.getsize(built["file"])
    return {
        "faces": n,
        "kind": built["kind"],
        "write records s": write_s,
        "rx-index s": seconds,
        "trees": built.get("trees"),
        "index file MB": size / MB,
        "raw vectors MB": n * 128 * 4 / MB,
        "file ÷ raw": size / (n * 512),
    }


def at_size(n: int, model: FaceModel, n_queries: int, tmp: str, rx_index: str) -> tuple[list, list, list]:
    """n generated faces in a fresh dataset: FaceSearch before and after rx-index, over a sweep of
    search_k, and exact numpy; returns rows of builds, rows of searches, failures."""
    builds, searches, failures = [], [], []
    matrix, _, queries, _ = model.generate(n, n_queries, seed=n)
    dataset, matrix_path, query_path, sample_path = (
        os.path.join(tmp, f"{n}.{x}") for x in ("rx", "matrix.npy", "queries.npy", "sample.npy")
    )
    np.save(matrix_path, matrix)
    np.save(query_path, queries)
    np.save(sample_path, queries[:UNINDEXED_QUERIES])
    start = time.perf_counter()
    faces = write_dataset(dataset, matrix, np.random.default_rng(n))
    write_s = time.perf_counter() - start
    truth, row_of = exact_top(matrix, queries, K), {f: i for i, f in enumerate(faces)}
    del matrix, faces

    def searched(label: str, command: list[str], truth: np.ndarray, rows=None, env=None, **extra) -> dict:
        out, _, error = process(command, env=env)
        failures.extend([f"{label} at {n:,}, search_k {extra.get('search_k')}: {error}"] if error else [])
        searches.append(measured(label, n, out, error, truth, rows, **extra))
        return searches[-1]

    search = [sys.executable, "-c", SEARCH, dataset]
    searched(
        "FaceSearch, before rx-index (exact over the records)",
        search + ["-1", sample_path, str(K)],
        truth[:UNINDEXED_QUERIES],
        row_of,
    )
    trees = None
    while True:
        built, seconds, error = process([rx_index, "-d", dataset] + (["--trees", str(trees)] if trees else []))
        if not built:
            failures.append(f"rx-index at {n:,}: {error}")
            break
        builds.append(build_row(n, write_s, seconds, built))
        searched(
            f"{ANNOY}, k {RX_MATCH_K}, first {K}",
            search + ["-1", query_path, str(RX_MATCH_K)],
            truth,
            row_of,
            trees=built["trees"],
            search_k=-1,
        )
        swept = [
            searched(
                ANNOY,
                search + [str(search_k), query_path, str(K)],
                truth,
                row_of,
                trees=built["trees"],
                search_k=search_k,
            )
            for search_k in SEARCH_KS
        ]
        if trees or any(meets(r) for r in swept):
            break
        trees = min(2 * built["trees"], 400)  # more trees: the usual fix for recall
    built, seconds, error = process([rx_index, "-d", dataset, "--kind", "hnsw"])
    if built:
        builds.append(build_row(n, write_s, seconds, built))
        for search_k in HNSW_SEARCH_KS:
            searched(HNSW, search + [str(search_k), query_path, str(K)], truth, row_of, search_k=search_k)
    else:
        failures.append(f"rx-index --kind hnsw at {n:,}: {error}")
    searched(EXACT_LABEL, [sys.executable, "-c", EXACT, matrix_path, query_path, str(K)], truth)
    searched(
        EXACT_LABEL + ", 1 BLAS thread",
        [sys.executable, "-c", EXACT, matrix_path, query_path, str(K)],
        truth,
        env={"OPENBLAS_NUM_THREADS": "1"},
    )
    shutil.rmtree(dataset, ignore_errors=True)
    return builds, searches, failures


def claimed(judged: list[dict]) -> dict | None:
    """The fastest row that meets the recall target, else the one with the best recall."""
    judged = [r for r in judged if "recall@10" in r]
    passing = [r for r in judged if r["recall@10"] >= RECALL_TARGET]
    return (
        min(passing, key=lambda r: r["p50 ms"]) if passing else max(judged, key=lambda r: r["recall@10"], default=None)
    )


def run(opts) -> dict:
    title = "1:N search: FaceSearch over rx-index's Annoy and HNSW indexes vs. exact numpy and DeepFace.find"
    sizes = sorted(int(s) for s in str(getattr(opts, "sizes", None) or SIZES).split(","))
    n_queries = getattr(opts, "queries", None) or QUERIES
    lfw = os.path.abspath(getattr(opts, "lfw", None) or os.path.join(os.path.dirname(__file__), "out", "lfw.rx"))
    folder = os.path.abspath(opts.faces)
    if (why := lfw_dataset.ensure(lfw, folder)) is not None:
        return {"title": title, "skipped": f"{why}: the generated faces are calibrated on LFW's"}
    rx_index = tool("rx-index")
    if not rx_index:
        return {"title": title, "skipped": "rx-index not installed (make install)"}

    photos = lfw_faces(lfw)
    real, people = np.stack([v for _, _, v in photos]), [p for _, p, _ in photos]
    model = FaceModel(real, people)
    sample = model.generate(20_000, 0, seed=1)
    calibration = [
        {"faces": f"LFW, {len(photos):,} photos of {len(set(people)):,} people", **distance_stats(real, people)},
        {
            "faces": f"generated, {len(sample[0]):,} faces of {len(sample[0]) // FACES_PER_ID:,} identities",
            **distance_stats(sample[0], sample[1]),
        },
    ]

    load = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="recops-bench-search-", dir="/tmp")
    builds, searches, failures = [], [], []
    try:
        for n in sizes:
            size_builds, size_searches, size_failures = at_size(n, model, n_queries, tmp, rx_index)
            builds, searches, failures = builds + size_builds, searches + size_searches, failures + size_failures
        largest = sizes[-1]
        chosen = claimed([r for r in searches if r["faces"] == largest and r["searcher"] in (ANNOY, HNSW)])
        annoy = claimed([r for r in searches if r["faces"] == largest and r["searcher"] == ANNOY])
        for row, verdict in ((annoy, "Annoy's best"), (chosen, "claimed setting")):
            if row:
                row["verdict"] = verdict
        lfw_photo = photos[0][0] if os.path.exists(photos[0][0]) else None
        deepface_rows, deepface_failures = (
            deepface_peer(lfw_photo, model, tmp, largest)
            if lfw_photo
            else ([{"verdict": f"skipped: {photos[0][0]} is gone"}], [])
        )

        thresholds = {"deepface Dlib cosine": 0.07, "pairsDevTrain": PAIRS_THRESHOLD}
        pairs_file = os.path.join(folder, PAIR_FILES["train"])
        if os.path.exists(pairs_file):
            same, pairs = read_pairs(pairs_file, folder)
            d = distances({path: v.astype(float) for path, _, v in photos}, pairs, "cosine")
            if not np.isnan(d).all():
                thresholds["pairsDevTrain"] = round(best_threshold(d, same), 4)
        settings = [(-1, K), (-1, RX_MATCH_K)] + (
            [(chosen["search_k"], K)] if chosen and chosen["search_k"] > 0 else []
        )
        lfw_rows, lfw_counts = identification(photos, tmp, thresholds, settings)
    finally:
        if opts.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    fast = chosen is not None and chosen["p50 ms"] <= P50_TARGET_MS and chosen["recall@10"] >= RECALL_TARGET
    lean = annoy is not None and annoy["RssAnon ÷ raw"] <= ANON_SHARE
    at = f"{largest:,} faces" + ("" if largest == 1_000_000 else " (the claim is at 1,000,000; this run stops here)")
    claim = (
        f"{chosen['searcher']}, trees {chosen.get('trees') or '-'}, search_k {chosen['search_k']}: p50 "
        f"{chosen['p50 ms']:.2f} ms, p99 {chosen['p99 ms']:.2f} ms, recall@10 {chosen['recall@10']:.4f}"
        if chosen
        else "no index was built"
    )
    exact = [r for r in searches if r["searcher"].startswith(EXACT_LABEL)]
    managed = [r for r in deepface_rows if "find s" in r and r["find s"] <= FIND_LIMIT_S]
    checks = [
        {
            "check": f"claim at {at}: p50 ≤ {P50_TARGET_MS:g} ms with recall@10 ≥ {RECALL_TARGET}",
            "result": fast,
            "detail": claim,
        },
        {
            "check": f"claim at {at}: over the Annoy index, RssAnon of the querying process ≤ {ANON_SHARE:.0%} of "
            "the raw vectors",
            "result": lean,
            "detail": (
                f"RssAnon {annoy['RssAnon MB']:.1f} MB = {annoy['RssAnon ÷ raw']:.1%} of "
                f"{largest * 512 / MB:,.0f} MB; RSS with file pages {annoy['RSS MB']:.1f} MB "
                f"(RssFile {annoy['RssFile MB']:.1f} MB)"
            )
            if annoy
            else "",
        },
        {
            "check": "exact numpy peer agrees with the ground truth (recall@10 = 1)",
            "result": all(r.get("recall@10", 0) > 0.999 for r in exact),
            "detail": ", ".join(
                f"{r['faces']:,}{r['searcher'][len(EXACT_LABEL) :]}: {r.get('recall@10')}" for r in exact
            ),
        },
        {"check": "every recops process exited 0", "result": not failures, "detail": "; ".join(failures)},
        {
            "check": "DeepFace.find answered from the prepared datastore at every size tried",
            "result": not deepface_failures,
            "detail": "; ".join(deepface_failures),
        },
    ]
    for check in checks:
        check["result"] = "PASS" if check["result"] else "FAIL"
    ok = fast and lean and not failures
    notes = [
        f"generated faces: 128-d float32, identities of {FACES_PER_ID} faces; calibrated on {len(photos):,} real "
        f"Dlib embeddings of LFW ({lfw}): centres ~ N(LFW mean, between-person covariance), faces = centre + "
        f"per-identity scale (lognormal, σ {model.spread:.3f}, as spread varies among LFW people) × N(0, pooled "
        "within-person covariance); see the calibration table",
        f"{n_queries:,} queries: new faces of random existing identities, not stored; ground truth: exact cosine "
        "top-10 in this process (numpy)",
        "each searcher is its own process: python -c SCRIPT opens the dataset (or loads the matrix), then times "
        "every query alone (perf_counter); memory from its /proc/self/status after the last query; MB = 10^6 bytes",
        "RssFile is shared, reclaimable page cache; this kernel maps the .ann in 2 MB folios ('of which 2 MB-mapped': "
        "FilePmdMapped), so a few hundred queries map nearly all of it; datasets and index were just written, so "
        "their files are in the page cache; "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the start and {os.getloadavg()[0]:.1f} at the end "
        "(other work on this machine shows in the p99s)",
        f"FaceSearch(Dataset.open(DS), 'Dlib', 'cosine', search_k=K).nearest(v, {K}); search_k -1 is Annoy's "
        f"default (trees × k); 'k 48, first {K}': rx-match --maximum 10 first asks FaceSearch for 48 (so Annoy's "
        f"default search_k is trees × 48), recall of its first {K}; 'before rx-index': the same call before any "
        f"index exists (it reads every record and searches exactly), over the first {UNINDEXED_QUERIES} queries",
        "rx-index -d DS as a subprocess, wall time; trees: its default for the size; where no search_k met both "
        "targets, rebuilt once with twice the trees (rx-index --trees N) and swept again; then rx-index --kind hnsw "
        "(M 16, ef_construction 100, all cores), searched with search_k 5,000-40,000, i.e. ef 100-800; an HNSW "
        "index is read whole into the searching process: its 'open s' and RssAnon say what that costs",
        "exact numpy: np.load of the matrix, rows normalised once, then per query matrix @ q and argpartition; "
        "also with OPENBLAS_NUM_THREADS=1, as a second BLAS thread can wait ~8 ms for a core on a busy machine",
        f"DeepFace.find(img_path=PHOTO, db_path=DB, model_name='Dlib', detector_backend='dlib', distance_metric="
        f"'cosine', silent=True, enforce_detection=False), PHOTO = {lfw_photo}; DB holds deepface 0.0.103's own "
        "datastore (ds_model_dlib_detector_dlib_aligned_normalization_base_expand_0.npz: an npz, not a pickle, in "
        f"this version) of generated vectors, every entry a hard link to a copy of PHOTO ({LINKS_PER_FILE:,} "
        "links a copy), hashed as deepface hashes files, so find embeds nothing; row 0 holds PHOTO's own deepface "
        "embedding, which find must return first; return_type None (pandas, as installed here) and 'dict'; "
        f"sizes {', '.join(f'{s:,}' for s in DEEPFACE_SIZES)} up to this run's largest, stopping a return_type "
        f"once a query takes over {FIND_LIMIT_S} s; 'represent s' is DeepFace.represent of PHOTO, warm",
        f"DeepFace.find managed up to {max((r['faces'] for r in managed), default=0):,} faces within {FIND_LIMIT_S} s",
        f"LFW identification: {lfw_counts['people']:,} people with a face found; each of the "
        f"{lfw_counts['enrolled']:,} with two or more photos enrolled with their first photo (sorted path), "
        "queried with the others; one photo of every other person in the gallery as a distractor; thresholds: "
        f"deepface's Dlib cosine, and the one pairsDevTrain picks (bench lfw's method, on these vectors: "
        f"{thresholds['pairsDevTrain']:.4f})",
    ]
    return {
        "title": title,
        "notes": notes,
        "tables": {
            "calibration: generated vs. real LFW faces": calibration,
            "index builds": builds,
            "search (generated faces)": searches,
            "DeepFace.find over its own datastore": deepface_rows,
            "LFW identification (real faces)": lfw_rows,
            "checks": checks,
        },
        "ok": ok,
        "sizes": sizes,
        "queries": n_queries,
        "claimed": chosen,
        "failures": failures + deepface_failures,
    }
