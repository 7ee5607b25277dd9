"""Sharded search: 4 datasets of 250,000 faces searched as one vs. one dataset of the same 1,000,000.

Claim (issue 18): the shards searched as one give the same top-10 as the one dataset for at least
SAME_TARGET of the queries, and rx-match over the 4 shards fanned out and merged by rx-merge
gives what one rx-match over the 4 gives. The faces are bench search's generated ones (the
identity structure of LFW's Dlib vectors, --lfw), written once as 4 shards; the one dataset
holds the very same record files (hard links). Every searcher is a whole process answering the
same queries, each timed on its own (FaceSearch, as bench search times it); the tools are timed
end to end.

    python bench/run.py --only shards                     # Annoy indexes
    python bench/run.py --only shards --index-kind hnsw   # HNSW indexes (rx-index --kind hnsw)
    python bench/run.py --only shards --index-kind hnsw --index-links 32
"""

from __future__ import annotations

import heapq
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from pipeline_speed import tool
from search_speed import calibrated_model, exact_top, process, write_dataset

SAME_TARGET = 0.95
RECALL_SLACK = 0.005
"""1,000 queries' recall@10 differs by about 0.002 between two searches of equal quality."""
SHARDS = 4
FACES = 1_000_000
QUERIES = 1000
K = 10
SEARCH_KS = (0, 40_000, 80_000)  # 0: FaceSearch's default (20,000 nodes a query in each shard's index; HNSW: ef 400)
ROUND = 6  # match records round distances so; ties within it order by face id
# argv: datasets (comma-separated), search_k (0: the default), queries .npy, k. Several datasets
# are searched as rx-match searches them (shards.ShardedSearch).
SEARCH = """import json, sys, time
import numpy as np
from recops.search import FaceSearch
from recops.shards import ShardedSearch
from recops.store.dataset import Dataset
roots, search_k, queries, k = sys.argv[1].split(","), int(sys.argv[2]) or None, np.load(sys.argv[3]), int(sys.argv[4])
start = time.perf_counter()
parts = [(d, FaceSearch(d, "Dlib", "cosine", search_k=search_k)) for d in map(Dataset.open, roots)]
search = parts[0][1] if len(parts) == 1 else ShardedSearch(parts)
opened, times, found = time.perf_counter() - start, [], []
for query in queries:
    start = time.perf_counter()
    hits = search.nearest(query, k)
    times.append(time.perf_counter() - start)
    found.append([[hit.face, hit.distance] for hit in hits])
print(json.dumps({"open_s": opened, "times": times, "found": found}))
"""


def command(name: str) -> list[str] | None:
    """A tool's script, or (one added since the environment was installed) its module's main."""
    from recops.cli import TOOLS

    found = tool(name)
    if found or name not in TOOLS:
        return [found] if found else None
    return [sys.executable, "-c", f"import sys; sys.argv[0] = {name!r}; from {TOOLS[name]} import main; main()"]


def whole_from_shards(path: str, shards: list[str]) -> None:
    """One dataset holding every shard's embedding records: the same segment files, hard-linked,
    and the marks that they passed the door."""
    from recops.datasets import create_dataset

    create_dataset(path).close()
    for sub in ("records/embeddings", "cache/admitted/embeddings"):
        os.makedirs(os.path.join(path, sub), mode=0o700, exist_ok=True)
        for shard in shards:
            folder = os.path.join(shard, sub)
            for name in os.listdir(folder) if os.path.isdir(folder) else ():
                os.link(os.path.join(folder, name), os.path.join(path, sub, name))


def top_sets(found: list[list]) -> list[frozenset]:
    return [frozenset(face for face, *_ in hits[:K]) for hits in found]


def merged(answers: list[list[list]]) -> list[list]:
    """The shards' answers to each query as one ranking, as rx-merge ranks them."""
    out = []
    for hits in zip(*answers):
        ranked = heapq.merge(*hits, key=lambda h: (round(h[1], ROUND), h[0]))
        out.append(list(dict((h[0], h) for h in ranked).values())[:K])
    return out


def same(a: list[frozenset], b: list[frozenset]) -> float:
    return float(np.mean([x == y for x, y in zip(a, b)]))


def recall(found: list[frozenset], truth: list[frozenset]) -> float:
    return float(np.mean([len(f & t) / len(t) for f, t in zip(found, truth)]))


def latency(label: str, ms: np.ndarray, found: list[frozenset], truth, whole, **extra) -> dict:
    return {
        "searcher": label,
        **extra,
        "p50 ms": float(np.percentile(ms, 50)),
        "p95 ms": float(np.percentile(ms, 95)),
        "p99 ms": float(np.percentile(ms, 99)),
        "recall@10": recall(found, truth),
        "top-10 = exact": same(found, truth),
        "top-10 = one dataset": same(found, whole) if whole is not None else None,
    }


def query_stream(path: str, queries: np.ndarray, ids: list[str]) -> None:
    with open(path, "w") as out:
        for face, vector in zip(ids, queries):
            record = {"type": "embedding", "face": face, "image": face, "model": "Dlib", "vector": vector.tolist()}
            out.write(json.dumps(record) + "\n")


def tool_tops(stdout: str) -> dict[str, frozenset]:
    ranked: dict[str, list] = {}
    for line in stdout.splitlines():
        record = json.loads(line)
        if record.get("type") == "match":
            ranked.setdefault(record["query"], []).append(record["candidate"])
    return {query: frozenset(faces[:K]) for query, faces in ranked.items()}


def run(opts) -> dict:
    kind = getattr(opts, "index_kind", None) or "annoy"
    links = getattr(opts, "index_links", None)
    settings = ["--links", str(links)] if links and kind == "hnsw" else []
    title = f"Sharded search: {SHARDS} datasets searched as one vs. one dataset of the same faces ({kind} indexes)"
    total = max(int(s) for s in str(getattr(opts, "sizes", None) or FACES).split(","))
    n_queries = getattr(opts, "queries", None) or QUERIES
    model, lfw, photos = calibrated_model(opts)
    if model is None:
        return {"title": title, "skipped": photos}
    rx_index, rx_match, rx_merge = tool("rx-index"), command("rx-match"), command("rx-merge")
    if not (rx_index and rx_match and rx_merge and shutil.which("parallel")):
        return {"title": title, "skipped": "rx-index, rx-match, rx-merge or GNU parallel is not installed"}

    matrix, _, queries, _ = model.generate(total, n_queries, seed=total)
    load = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="recops-bench-shards-", dir="/tmp")
    builds, searches, tools, failures = [], [], [], []
    try:
        query_path, stream_path = os.path.join(tmp, "queries.npy"), os.path.join(tmp, "queries.jsonl")
        np.save(query_path, queries)
        rng = np.random.default_rng(total)
        query_stream(stream_path, queries, [rng.bytes(16).hex() for _ in queries])
        start, faces, shards = time.perf_counter(), [], []
        for n, part in enumerate(np.array_split(matrix, SHARDS)):
            shards.append(os.path.join(tmp, f"shard{n + 1}.rx"))
            faces += write_dataset(shards[-1], part, rng)
        whole = os.path.join(tmp, "whole.rx")
        whole_from_shards(whole, shards)
        written = time.perf_counter() - start
        truth = [frozenset(faces[r] for r in rows) for rows in exact_top(matrix, queries, K)]
        del matrix
        for root in [whole, *shards]:
            built, seconds, error = process([rx_index, "-d", root, "--kind", kind, *settings])
            failures += [f"rx-index {os.path.basename(root)}: {error}"] if error else []
            if built:
                builds.append({"dataset": os.path.basename(root), "faces": built["count"], "trees": built.get("trees")})
                builds[-1]["rx-index s"] = seconds
        builds.append({"dataset": "all, written as records", "faces": total, "rx-index s": None, "write s": written})

        def searched(roots: list[str], search_k: int) -> dict | None:
            out, _, error = process([sys.executable, "-c", SEARCH, ",".join(roots), str(search_k), query_path, str(K)])
            failures.extend([f"search {len(roots)} dataset(s), search_k {search_k}: {error}"] if error else [])
            return out

        for search_k in SEARCH_KS:
            setting = {"search_k": search_k or "default (20,000)"}
            one = searched([whole], search_k)
            together = searched(shards, search_k)
            alone = [searched([shard], search_k) for shard in shards]
            if one is None or together is None or None in alone:
                continue
            one_top = top_sets(one["found"])
            searches.append(
                latency(f"one dataset of {total:,}", np.array(one["times"]) * 1e3, one_top, truth, None, **setting)
            )
            searches.append(
                latency(
                    f"{SHARDS} shards as one (one process, rx-match -d x {SHARDS})",
                    np.array(together["times"]) * 1e3,
                    top_sets(together["found"]),
                    truth,
                    one_top,
                    **setting,
                )
            )
            slowest = np.max([a["times"] for a in alone], axis=0) * 1e3
            searches.append(
                latency(
                    f"{SHARDS} shards fanned out, one a host (the slowest shard of each query; merged)",
                    slowest,
                    top_sets(merged([a["found"] for a in alone])),
                    truth,
                    one_top,
                    **setting,
                )
            )
            searches[-1]["shard p50 ms"] = [round(float(np.percentile(a["times"], 50)) * 1e3, 2) for a in alone]

        shard_list = " ".join(shards)
        match, merge = shlex.join(rx_match), shlex.join(rx_merge)
        pipelines = {
            f"rx-match -d whole ({total:,})": f"{match} -d {whole} --threshold 2 --no-join",
            f"rx-match -d shard x {SHARDS}": f"{match} {' '.join('-d ' + s for s in shards)} --threshold 2 --no-join",
            f"parallel --pipe --tee rx-match -d SHARD ::: {SHARDS} shards | rx-merge --shards {SHARDS}": (
                f"parallel --pipe --tee {shlex.quote(match + ' -d {} --threshold 2 --no-join --searched')} "
                f"::: {shard_list} | {merge} --shards {SHARDS}"
            ),
        }
        answers, ids = {}, _ids(stream_path)
        for label, line in pipelines.items():
            start = time.perf_counter()
            with open(stream_path) as stdin:
                done = subprocess.run(
                    ["bash", "-o", "pipefail", "-c", line], stdin=stdin, capture_output=True, text=True
                )
            seconds = time.perf_counter() - start
            if done.returncode:
                failures.append(f"{label}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
                continue
            found = answers[label] = tool_tops(done.stdout)
            tools.append(
                {
                    "command": label,
                    "wall s": seconds,
                    "ms a query, end to end": seconds * 1e3 / n_queries,
                    "queries answered": len(found),
                    "recall@10": recall([found.get(q, frozenset()) for q in ids], truth),
                }
            )
        labels = list(pipelines)
        if len(answers) == 3:
            one, together, fanned = (answers[label] for label in labels)
            tools[1]["top-10 = rx-match -d whole"] = float(np.mean([together[q] == one.get(q) for q in together]))
            tools[2]["top-10 = rx-match -d x 4"] = float(np.mean([fanned.get(q) == together[q] for q in together]))
    finally:
        if opts.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    checks, agreed, recalls = [], [], []
    for search_k in SEARCH_KS:
        rows = [r for r in searches if r["search_k"] == (search_k or "default (20,000)")]
        if len(rows) < 3:
            continue
        one, together, fanned = rows[:3]
        same = together["top-10 = one dataset"]
        agreed.append(
            (
                same >= SAME_TARGET,
                f"search_k {search_k or 'default'}: {same:.3f} (exact top-10: the one dataset "
                f"{one['top-10 = exact']:.3f}, the shards {together['top-10 = exact']:.3f}; "
                f"p50 one {one['p50 ms']:.2f} ms, shards in one process {together['p50 ms']:.2f} ms, "
                f"one a host {fanned['p50 ms']:.2f} ms)",
            )
        )
        recalls.append(
            (
                together["recall@10"] >= one["recall@10"] - RECALL_SLACK,
                f"search_k {search_k or 'default'}: {together['recall@10']:.3f} against {one['recall@10']:.3f}",
            )
        )
    checks += [
        {
            "check": f"at some search_k, {SHARDS} shards as one give the same top-10 as one dataset for ≥ "
            f"{SAME_TARGET} of queries",
            "result": any(ok for ok, _ in agreed),
            "detail": "; ".join(f"{'PASS' if ok else 'below'} {text}" for ok, text in agreed),
        },
        {
            "check": f"at every search_k the shards find what the one dataset finds (recall@10 within {RECALL_SLACK})",
            "result": bool(recalls) and all(ok for ok, _ in recalls),
            "detail": "; ".join(text for _, text in recalls),
        },
    ]
    merge_exact = len(tools) == 3 and tools[2].get("top-10 = rx-match -d x 4") == 1.0
    checks += [
        {
            "check": f"rx-match fanned out to {SHARDS} shards and merged by rx-merge = one rx-match over the {SHARDS}",
            "result": merge_exact,
            "detail": f"{tools[2].get('top-10 = rx-match -d x 4') if len(tools) == 3 else 'not run'}",
        },
        {"check": "every process exited 0", "result": not failures, "detail": "; ".join(failures)},
    ]
    for check in checks:
        check["result"] = "PASS" if check["result"] else "FAIL"
    notes = [
        f"{total:,} generated faces (bench search's generator, calibrated on {photos} LFW Dlib vectors of "
        f"{lfw}), written as {SHARDS} shards of {total // SHARDS:,} (write_dataset); the one dataset holds the same "
        f"record files, hard-linked; each indexed by {shlex.join(['rx-index', '--kind', kind, *settings])}",
        f"{n_queries:,} queries: new faces of existing identities, not stored; 'exact': numpy's cosine top-10; "
        "'top-10 = ...': the share of queries whose 10 nearest faces are the same set",
        "searchers: python -c SCRIPT opens the dataset(s) and times each FaceSearch.nearest(v, 10) alone "
        "(perf_counter), as bench search does; several datasets are searched by shards.ShardedSearch, each with "
        "its own index, as rx-match -d A -d B ... searches them",
        "fanned out: each shard alone in its own process; a query's latency is its slowest shard's (as if each "
        "shard were on a host of its own, the merge's cost left out), its answer the shards' top-10s merged as "
        "rx-merge merges them",
        "tools: the queries as embedding records (JSON lines) through each command, timed end to end by wall "
        "clock (start-up, index load, JSON); --threshold 2 keeps every candidate so each answer has 10; the "
        f"fan-out runs its {SHARDS} rx-match at once on this machine's {os.cpu_count()} CPUs",
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the start and {os.getloadavg()[0]:.1f} at the end "
        "(the machine was shared: others' work shows in the p95s and p99s)",
    ]
    return {
        "title": title,
        "notes": notes,
        "tables": {"datasets": builds, "search": searches, "tools": tools, "checks": checks},
        "ok": all(c["result"] == "PASS" for c in checks),
        "faces": total,
        "queries": n_queries,
        "failures": failures,
    }


def _ids(stream_path: str) -> list[str]:
    with open(stream_path) as lines:
        return [json.loads(line)["face"] for line in lines]
