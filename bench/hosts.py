"""The same LFW photos through the local pipeline and through bin/recops-parallel on one and two
ssh "hosts": real sshd servers on 127.0.0.2 and 127.0.0.3 (tests/ssh_hosts.py, as tests/test_hosts.py
uses them) that cannot see the photos or the datasets.

Both hosts are this machine: they share its cores, so two hosts bring no more cores than one. What
the ratios show is the cost of ssh, of the photos travelling inline and of the collector (rx-detect
-d | rx-embed -d) that stores what comes back; wall seconds and CPU seconds (the jobs on the hosts
included) are both reported, as the wall time of a machine others use varies from run to run.

Claim: the three runs store the same faces (the same face ids, embeddings within 1e-5 of the local
run's), none twice, and every run exits 0.
"""

from __future__ import annotations

import math
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter

import numpy as np
from import_speed import collect

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TESTS = os.path.join(REPO, "tests")
LIMIT = 500
ADDRESSES = {"host1": "127.0.0.2", "host2": "127.0.0.3"}
BLOCKS = 8
"""The stream is cut into about this many jobs (RECOPS_BLOCK): the default 20M would give 500 LFW
photos (about 6 MB inline) to one job, and so to one host."""
ATOL = 1e-5


def _tool(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


def _reaped_cpu(pids: list[int]) -> float:
    """CPU seconds of what these processes ran and reaped (their children's times in /proc): for
    an sshd, every connection it served, with the jobs it ran, once the connection is over."""
    total = 0
    for pid in pids:
        children = f"/proc/{pid}/task/{pid}/children"
        for _ in range(100):  # a connection whose client is done may take a moment to end
            if not os.path.exists(children) or not open(children).read().strip():
                break
            time.sleep(0.05)
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def _timed(command: list[str], env: dict | None = None, servers: list[int] = ()) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (of the command's processes and of the servers' jobs), exit code, stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    served = _reaped_cpu(servers)
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime + _reaped_cpu(servers) - served
    return seconds, cpu, proc.returncode, proc.stderr.decode(errors="replace")[-300:]


def _faces(dataset: str) -> tuple[Counter, dict]:
    """How often each face is stored, and its embedding (as stored, or None when it has none)."""
    from recops.store.dataset import Dataset

    with Dataset.open(dataset) as ds:
        counts = Counter(r["id"] for r in ds.log("faces").records())
        vectors = {r["face"]: np.frombuffer(r["vector"], dtype="<f4") for r in ds.log("embeddings").records()}
    return counts, vectors


def _compare(label: str, datasets: list[str], local: dict) -> dict:
    """Whether every dataset of a run stored the local run's faces, once each, and their embeddings."""
    details, same = [], True
    for dataset in datasets:
        counts, vectors = _faces(dataset)
        twice = sum(n > 1 for n in counts.values())
        worst = max((float(np.max(np.abs(vectors[f] - v))) for f, v in local.items() if f in vectors), default=0.0)
        same &= set(counts) == set(local) == set(vectors) and not twice and worst <= ATOL
        details.append(
            f"{len(counts):,} faces ({len(set(counts) ^ set(local)):,} not in both), {twice} stored twice, "
            f"{len(vectors):,} embeddings, largest difference {worst:.2g}"
        )
    return {
        "check": f"{label}: every run stored the first local run's faces, once each, embeddings within {ATOL:g}",
        "result": "PASS" if same and datasets else "FAIL",
        "detail": "; ".join(dict.fromkeys(details)),
    }


def run(opts) -> dict:
    title = "the same photos on this machine, on one ssh host and on two (bin/recops-parallel)"
    folder = os.path.abspath(opts.faces)
    if not os.path.isdir(folder):
        return {"title": title, "skipped": f"no LFW folder at {folder} (give one with --faces DIR)"}
    sys.path.insert(0, TESTS)
    from ssh_hosts import missing, ssh_hosts

    if lacking := missing():
        return {"title": title, "skipped": f"needs {', '.join(lacking)} (make test installs openssh-server, parallel)"}
    if not all(os.path.exists(_tool(n)) for n in ("rx-import", "rx-detect", "rx-embed")):
        return {"title": title, "skipped": "rx-import, rx-detect or rx-embed not installed (make install)"}
    paths = collect(folder, opts.limit or LIMIT)
    if not paths:
        return {"title": title, "skipped": f"no JPEG files under {folder}"}
    n, size = len(paths), sum(os.path.getsize(p) for p in paths)
    block = max(64 * 1024, math.ceil(size * 4 / 3 / BLOCKS))  # inline bytes are base64
    for path in paths:  # the page cache warmed: every run reads the photos from memory
        with open(path, "rb") as handle:
            handle.read()

    tmp = tempfile.mkdtemp(prefix="recops-bench-hosts-", dir="/tmp")
    datasets = os.path.join(tmp, "datasets")  # hidden from the hosts, as the photos are
    os.makedirs(datasets)
    q = shlex.quote
    local_command = (
        f'set -o pipefail; {q(_tool("rx-import"))} -d "$1" {" ".join(map(q, paths))} | '
        f"{q(_tool('rx-detect'))} | {q(_tool('rx-embed'))}"
    )
    runs: dict[str, list[float]] = {}
    cpus_s: dict[str, list[float]] = {}
    stored: dict[str, list[str]] = {}
    failures: dict[str, str] = {}
    jobs: dict[str, int] = {}
    LOCAL, ONE, TWO = (
        "rx-import | rx-detect | rx-embed here (a)",
        "recops-parallel, one host (b)",
        "same, two hosts (c)",
    )
    NAMES = {LOCAL: "here", ONE: "one-host", TWO: "two-hosts"}
    try:
        with ssh_hosts(tmp, ADDRESSES, hide=[folder, datasets]) as (ssh_config, hosts):
            env = {
                **os.environ,
                "PATH": f"{os.path.dirname(_tool('rx-import'))}:{os.environ['PATH']}",
                "PARALLEL_SSH": f"ssh -F {ssh_config}",
                "PARALLEL": "--env PATH --env PYTHONPATH",  # the hosts run this checkout's tools
                "RECOPS_BLOCK": str(block),
            }
            servers = [int((host / "sshd.pid").read_text()) for host in hosts.values()]
            hosts_files = {ONE: os.path.join(tmp, "one-host"), TWO: os.path.join(tmp, "two-hosts")}
            with open(hosts_files[ONE], "w") as out:
                out.write("1/host1\n")
            with open(hosts_files[TWO], "w") as out:
                out.write("1/host1\n1/host2\n")
            # Untimed: each host runs one photo, which provides its models in its HOME and checks it works.
            for name in hosts:
                with open(os.path.join(tmp, f"only-{name}"), "w") as out:
                    out.write(f"1/{name}\n")
                command = [os.path.join(REPO, "bin", "recops-parallel"), os.path.join(datasets, f"warm-{name}.rx")]
                code, err = _timed([*command, os.path.join(tmp, f"only-{name}"), paths[0]], env)[2:]
                if code:
                    failures[f"warming {name}"] = f"exit {code}: {err.strip()}"
            for i in range(opts.repeat):
                for label in (LOCAL, ONE, TWO):
                    dataset = os.path.join(datasets, f"{NAMES[label]}{i}.rx")
                    if label == LOCAL:
                        command = ["bash", "-c", local_command, "bash", dataset]
                    else:
                        command = [os.path.join(REPO, "bin", "recops-parallel"), dataset, hosts_files[label], *paths]
                    seconds, cpu, code, err = _timed(command, env, servers)
                    if code:
                        failures[label] = f"exit {code}: {err.strip()}"
                        continue
                    runs.setdefault(label, []).append(seconds)
                    cpus_s.setdefault(label, []).append(cpu)
                    stored.setdefault(label, []).append(dataset)
                    if label != LOCAL:
                        with open(f"{dataset}.joblog") as log:
                            jobs[label] = sum(1 for _ in log) - 1
            logs = {name: host / "commands.jsonl" for name, host in hosts.items()}
            ran = {name: log.read_text().count('"job": true') if log.exists() else 0 for name, log in logs.items()}
        checks = []
        if LOCAL in stored:
            counts, local = _faces(stored[LOCAL][0])
            checks.append(
                {
                    "check": "the first local run (a) stored faces, each once and with an embedding",
                    "result": "PASS" if local and set(counts) == set(local) and max(counts.values()) == 1 else "FAIL",
                    "detail": f"{len(counts):,} faces, {len(local):,} embeddings",
                }
            )
            again = stored[LOCAL][1:]  # the local run's own repeats, when there are any
            checks += [_compare(LOCAL, again, local)] if again else []
            checks += [_compare(label, stored.get(label, []), local) for label in (ONE, TWO)]
    finally:
        if opts.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    checks.append(
        {
            "check": "every run exited 0",
            "result": "PASS" if not failures else "FAIL",
            "detail": "; ".join(f"{k}: {v}" for k, v in failures.items()),
        }
    )

    best = {label: min(seconds) for label, seconds in runs.items()}
    least = {label: min(seconds) for label, seconds in cpus_s.items()}

    def ratio(of: dict, a: str, b: str) -> float | None:
        return of[a] / of[b] if a in of and b in of else None

    ratios = {
        "wall, two hosts ÷ one host (c/b)": ratio(best, TWO, ONE),
        "wall, one host ÷ here (b/a)": ratio(best, ONE, LOCAL),
        "CPU, two hosts ÷ one host (c/b)": ratio(least, TWO, ONE),
        "CPU, one host ÷ here (b/a)": ratio(least, ONE, LOCAL),
    }
    rows = []
    for label in (LOCAL, ONE, TWO):
        row = {"run": label, "jobs": jobs.get(label, "")}
        if label in best:
            row.update({"runs": len(runs[label]), "best s": best[label], "median s": statistics.median(runs[label])})
            row.update({"photos/s": n / best[label], "wall ÷ (a)": ratio(best, label, LOCAL)})
            row.update({"CPU s": least[label], "CPU ÷ (a)": ratio(least, label, LOCAL)})
        rows.append(row)
    cpus = os.cpu_count() or 1
    notes = [
        f"{n:,} JPEGs ({size / 1e6:.1f} MB): the first {opts.limit or LIMIT} of a sorted walk of {folder}, "
        "page cache warmed; each run into a fresh dataset; the three runs take turns, "
        f"{opts.repeat} rounds",
        f"wall: whole commands (perf_counter), best of {opts.repeat}; {cpus} CPUs (os.cpu_count()), shared "
        "with whatever else runs on this machine, which slows every run and favours the runs with more "
        "processes (two hosts) in the scheduler's shares",
        "CPU: user + system seconds of every process of a run, least of the rounds: the command's "
        "(getrusage of children) and the jobs the sshd servers ran (their children's times in /proc)",
        f"both hosts are sshd servers on this machine ({', '.join(ADDRESSES.values())}): they share its {cpus} "
        "cores, so two hosts bring no more cores than one and cannot show what more machines would gain. "
        "What the ratios show is the cost of ssh, of the photos travelling inline and of the collector. "
        "Where (c) is quicker than (b), it is most likely that one job at a time leaves cores idle while a job starts "
        "(loading its models) and drains, which the other host's job fills, and on a busy machine that "
        "more processes get a larger share of it; CPU (c/b) says whether the work is the same",
        "(a) bash -c 'set -o pipefail; rx-import -d FRESH PHOTOS... | rx-detect | rx-embed > /dev/null'",
        f"(b) bin/recops-parallel FRESH HOSTS PHOTOS... > /dev/null, HOSTS `1/host1` (one job at a time there); "
        f"RECOPS_BLOCK={block} (about {BLOCKS} jobs), PARALLEL_SSH='ssh -F CONFIG', PARALLEL='--env PATH --env "
        "PYTHONPATH'; a host runs `rx-detect | rx-embed` (each one worker a core) where the photos and the "
        "datasets are hidden; here the collector rx-detect -d | rx-embed -d stores what comes back",
        "(c) the same, HOSTS `1/host1` and `1/host2`",
        "jobs each host ran, all rounds and one untimed warm-up photo each: "
        + ", ".join(f"{name} {count}" for name, count in ran.items()),
    ]
    notes += [f"{name}: {value:.2f}" for name, value in ratios.items() if value is not None]
    return {
        "title": title,
        "notes": notes,
        "tables": {"timings": rows, "checks": checks},
        "ok": all(c["result"] == "PASS" for c in checks),
        "images": n,
        "block": block,
        "runs_s": runs,
        "cpu_s": cpus_s,
        "ratios": ratios,
        "failures": failures,
    }
