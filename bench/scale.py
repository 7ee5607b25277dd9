"""Cost at scale: rx-index, search and rx-cluster over millions of generated faces, and how each grows.

    python bench/run.py --only scale                                # 1,000,000 and 3,000,000 faces
    python bench/run.py --only scale --scale-sizes 10000000         # ten million, apart (over an hour)
    python bench/run.py --only scale --index-kind hnsw              # the HNSW index (rx-index --kind hnsw)

Claim: at ten million faces (measured, or projected by the fit over the sizes run) every step's
peak memory stays within MEMORY_LIMIT, so that it runs on a 24 GiB machine that still works.

For each size, faces with the identity structure of LFW's Dlib vectors (bench search's FaceModel)
are generated block by block into a fresh dataset, and the exact top 10 of each query is found
block by block from the same draws, so that no matrix of every face is ever held here. Then, each
a process of its own: rx-index (wall time, peak memory, size of the index), FaceSearch over it
(each query timed alone; recall@10 against the exact top 10), rx-cluster (wall time, peak memory).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from cluster_quality import fitted_exponent
from pipeline_speed import tool
from search_speed import SEARCH, FaceModel, K, append_embeddings, calibrated_model, process, unit

SIZES = "1000000,3000000"
QUERIES = 1000
MEMORY_LIMIT = 16 * 2**30
"""What a step may take at ten million faces: 24 GiB less room for the rest of the machine."""
PROJECTED = 10_000_000
TRUTH_ROWS = 25_000
"""Faces scored against every query at once (100 MB of float32 for 1,000 queries)."""
MB = 1e6

# Runs a command to its end, sampling the proportional anonymous memory (Pss_Anon) of it and of its
# descendants twice a second: forked workers share their parent's pages, which RSS counts in each,
# and the index's pages are shared page cache, which RSS counts too (peak RSS: ru_maxrss of the
# largest single process, file pages included).
WATCH = """import json, os, sys, threading, time
report, stdout, command = sys.argv[1], sys.argv[2], sys.argv[3:]
def tree(pid):
    pids, todo = [], [pid]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                todo += [int(c) for c in open(f"/proc/{pid}/task/{task}/children").read().split()]
        except OSError:
            pass
    return pids
def anon_kb(pid):
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss_Anon:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
peak, done = [0], threading.Event()
def watch(pid):
    while not done.wait(0.5):
        peak[0] = max(peak[0], sum(anon_kb(p) for p in tree(pid)))
start = time.perf_counter()
with open(stdout, "wb") as out:
    pid = os.posix_spawn(command[0], command, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1)])
threading.Thread(target=watch, args=(pid,), daemon=True).start()
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
done.set()
json.dump({"code": os.waitstatus_to_exitcode(status), "seconds": seconds, "maxrss_kb": usage.ru_maxrss,
           "anon_kb": peak[0]}, open(report, "w"))
"""


def watched(command: list[str], tmp: str) -> tuple[dict, dict | None]:
    """Run a tool, its memory watched: (seconds, peak RSS and anonymous memory, exit code; its last record)."""
    report, stdout, stderr = (os.path.join(tmp, f"watch.{x}") for x in ("json", "out", "err"))
    with open(stderr, "wb") as err:
        subprocess.run([sys.executable, "-S", "-c", WATCH, report, stdout, *command], stderr=err, check=True)
    with open(report) as f:
        usage = json.load(f)
    last = None
    with open(stdout, "rb") as out:
        out.seek(max(0, os.path.getsize(stdout) - (1 << 16)))
        lines = out.read().splitlines()
        if usage["code"] == 0 and lines:
            last = json.loads(lines[-1])
    if usage["code"]:
        with open(stderr, "rb") as err:
            usage["error"] = err.read().decode(errors="replace")[-600:]
    os.unlink(stdout)
    return usage, last


def write_faces(path: str, model: FaceModel, n: int, queries: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A fresh dataset of n generated faces, written block by block: (their face ids as n x 16
    bytes, the query vectors, seconds)."""
    from recops.datasets import create_dataset
    from recops.id_arrays import hex_ids
    from recops.logs import EMBEDDINGS

    rng = np.random.default_rng(n + 1)
    ids = np.empty((n, 16), np.uint8)
    _, _, blocks = model.stream(n, queries, seed=n)
    start = time.perf_counter()
    with create_dataset(path) as ds:
        log, at = ds.log(EMBEDDINGS), 0
        while at < n:
            block = next(blocks)
            ids[at : at + len(block)] = np.frombuffer(rng.bytes(16 * len(block)), np.uint8).reshape(-1, 16)
            images = hex_ids(np.frombuffer(rng.bytes(16 * len(block)), np.uint8).reshape(-1, 16))
            append_embeddings(log, hex_ids(ids[at : at + len(block)]), images, block)
            at += len(block)
    written = time.perf_counter() - start
    return ids, np.concatenate(list(blocks)) if queries else np.zeros((0, 128), np.float32), written


def exact_truth(model: FaceModel, n: int, queries: np.ndarray) -> np.ndarray:
    """The rows of the K nearest faces (cosine) to each query, from the same draws as write_faces,
    block by block."""
    _, _, blocks = model.stream(n, len(queries), seed=n)
    asked = unit(queries)
    best = np.full((len(queries), K), -np.inf, np.float32)
    rows = np.zeros((len(queries), K), np.int64)
    at = 0
    while at < n:
        block = next(blocks)
        for start in range(0, len(block), TRUTH_ROWS):
            part = unit(block[start : start + TRUTH_ROWS])
            scores = np.concatenate([best, asked @ part.T], axis=1)
            found = np.concatenate(
                [rows, np.broadcast_to(at + start + np.arange(len(part)), (len(asked), len(part)))], 1
            )
            top = np.argpartition(-scores, K - 1, axis=1)[:, :K]
            best, rows = np.take_along_axis(scores, top, 1), np.take_along_axis(found, top, 1)
        at += len(block)
    return rows


def index_command(kind: str) -> list[str] | None:
    """rx-index for an index of `kind`; None when rx-index is not installed."""
    rx_index = tool("rx-index")
    return [rx_index, "--kind", kind] if rx_index else None


def step(name: str, command: list[str], n: int, tmp: str, row: dict, failures: list[str]) -> dict | None:
    """Run one tool on the faces: its time and peak memory go in `row`; returns its last record."""
    usage, last = watched(command, tmp)
    print(f"scale: {n:,} faces, {name}: {json.dumps(usage)}", file=sys.stderr, flush=True)
    if last is None:
        failures.append(f"{name} at {n:,}: exit {usage['code']}: {usage.get('error', '')}")
        return None
    row.update(
        {
            f"{name} s": usage["seconds"],
            f"{name} peak RSS MB": usage["maxrss_kb"] * 1024 / MB,
            f"{name} peak anon MB": usage["anon_kb"] * 1024 / MB,
        }
    )
    return last


def at_size(n: int, model: FaceModel, queries: int, index: list[str], tmp: str) -> tuple[dict, list[str]]:
    dataset, query_path = os.path.join(tmp, f"{n}.rx"), os.path.join(tmp, f"{n}.queries.npy")
    ids, asked, written = write_faces(dataset, model, n, queries)
    truth = exact_truth(model, n, asked)
    np.save(query_path, asked)
    truth_faces = [[bytes(ids[r]).hex() for r in row] for row in truth]
    del ids
    row, failures = {"faces": n, "write records s": written}, []

    built = step("rx-index", [*index, "-d", dataset], n, tmp, row, failures)
    if built is not None:
        row.update({"index MB": os.path.getsize(built["file"]) / MB, "trees": built.get("trees")})
        out, _, error = process([sys.executable, "-c", SEARCH, dataset, "0", query_path, str(K)])
        if out is None:
            failures.append(f"search at {n:,}: {error}")
        else:
            ms = np.array(out["times"]) * 1000
            row.update(
                {
                    "search open s": out["open_s"],
                    "search p50 ms": float(np.percentile(ms, 50)),
                    "search p95 ms": float(np.percentile(ms, 95)),
                    "recall@10": float(np.mean([len(set(f) & set(t)) / K for f, t in zip(out["found"], truth_faces)])),
                }
            )

    summary = step("rx-cluster", [tool("rx-cluster"), "-d", dataset], n, tmp, row, failures)
    if summary is not None:
        row.update({"edges": summary["edges"], "clusters": summary["clusters"]})
    shutil.rmtree(dataset, ignore_errors=True)
    os.unlink(query_path)
    return row, failures


GROWING = (
    "rx-index s",
    "rx-index peak RSS MB",
    "rx-index peak anon MB",
    "index MB",
    "search p50 ms",
    "search p95 ms",
    "rx-cluster s",
    "rx-cluster peak RSS MB",
    "rx-cluster peak anon MB",
)


def growth(rows: list[dict]) -> list[dict]:
    """a * n^b fitted to each measure over the sizes run (least squares on log-log), and what it
    gives at PROJECTED faces."""
    fits = []
    for measure in GROWING:
        sizes = [r["faces"] for r in rows if r.get(measure)]
        values = [r[measure] for r in rows if r.get(measure)]
        b = fitted_exponent(sizes, values)
        if b is None:
            continue
        a = float(np.exp(np.mean(np.log(values) - b * np.log(sizes))))
        fits.append({"measure": measure, "b": b, "a": a, f"at {PROJECTED:,}": a * PROJECTED**b})
    return fits


def run(opts) -> dict:
    kind = getattr(opts, "index_kind", None) or "annoy"
    title = f"cost at scale: rx-index ({kind}), search and rx-cluster over millions of generated faces"
    sizes = sorted(int(s) for s in str(getattr(opts, "scale_sizes", None) or SIZES).split(","))
    queries = getattr(opts, "queries", None) or QUERIES
    model, lfw, photos = calibrated_model(opts)
    if model is None:
        return {"title": title, "skipped": photos}
    index = index_command(kind)
    if index is None:
        return {"title": title, "skipped": "rx-index is not installed"}
    load = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="recops-bench-scale-", dir="/tmp")
    rows, failures = [], []
    try:
        for n in sizes:
            row, failed = at_size(n, model, queries, index, tmp)
            rows.append(row)
            failures += failed
            print(f"scale: {json.dumps(row)}", file=sys.stderr, flush=True)
    finally:
        if opts.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    fits = growth(rows)
    at_most = [r for r in rows if r["faces"] == PROJECTED]
    peaks = {}
    for step in ("rx-index", "rx-cluster"):
        measured = [r[f"{step} peak RSS MB"] for r in at_most if f"{step} peak RSS MB" in r]
        fitted = [f[f"at {PROJECTED:,}"] for f in fits if f["measure"] == f"{step} peak RSS MB"]
        peaks[step] = (measured or fitted or [None])[0], "measured" if measured else "projected"
    checks = [
        {
            "check": f"{step}'s peak RSS at {PROJECTED:,} faces ≤ {MEMORY_LIMIT / 2**30:g} GiB",
            "result": peak is not None and peak * MB <= MEMORY_LIMIT,
            "detail": f"{how}: {peak / 1000:.1f} GB" if peak else "not measured",
        }
        for step, (peak, how) in peaks.items()
    ]
    checks.append({"check": "every process exited 0", "result": not failures, "detail": "; ".join(failures)})
    ok = all(c["result"] for c in checks)
    for check in checks:
        check["result"] = "PASS" if check["result"] else "FAIL"
    notes = [
        f"generated faces: bench search's FaceModel (128-d float32, identities of 10 faces), calibrated on the "
        f"{photos} LFW faces of {lfw}; written as embedding records, 1,000 a segment, random ids",
        f"index: {' '.join(os.path.basename(c) for c in index)} -d DS, its defaults (trees grow with the faces)",
        f"search: {queries:,} queries (new faces of existing identities), FaceSearch(...).nearest(q, {K}) at its "
        f"default search_k, each timed alone in one process; recall@{K} against the exact cosine top {K}",
        "rx-cluster -d DS after rx-index, its defaults (average linkage, 20 neighbours, calibrated threshold, "
        f"{os.cpu_count()} worker processes)",
        "peak RSS: ru_maxrss of the largest single process (the index's pages are shared page cache and count "
        "in every process that maps them); peak anon: the proportional anonymous memory of the process and its "
        "workers together, sampled every 0.5 s; MB = 10^6 bytes",
        "growth: b and a of a × n^b fitted by least squares on log-log over the sizes run, and what the fit gives "
        f"at {PROJECTED:,} faces",
        f"{os.cpu_count()} CPUs shared with other work: load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; times may be disturbed",
    ]
    return {
        "title": title,
        "notes": notes,
        "tables": {"cost by size": rows, "growth: a × n^b": fits, "checks": checks},
        "ok": ok,
        "sizes": sizes,
        "index_kind": kind,
        "failures": failures,
    }
