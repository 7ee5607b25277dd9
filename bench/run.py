"""Run recops benchmarks: print each result as markdown and append it as a JSON line.

    python bench/run.py [--only NAME] [--faces DIR] [--out FILE] [--repeat N] [--limit N] [--keep]

A benchmark is a module bench/<module>.py with `run(opts) -> dict`; the dict holds `title`,
`notes` (lines), `tables` ({heading: [row dicts]}) and `ok`, or just `skipped` (a reason).
Exits 1 when a benchmark that ran did not meet its claim.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# name -> module under bench/; imported only when selected, so heavy ones cost nothing otherwise.
BENCHMARKS = {
    "import": "import_speed",
    "formats": "format_speed",
    "pipeline": "pipeline_speed",
    "lfw": "lfw_verify",
    "links": "identity_links",
    "search": "search_speed",
    "shards": "shards",
    "cluster": "cluster_quality",
    "attributes": "attribute_consistency",
    "webui": "webui_speed",
    "bare-faces": "bare_faces",
    "calibration": "calibration_eval",
    "small-faces": "small_faces",
    "detectors": "detectors",
    "video": "video",
    "hosts": "hosts",
    "scale": "scale",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        metavar="NAME",
        action="append",
        choices=sorted(BENCHMARKS),
        help="run only this benchmark (repeatable); default: all",
    )
    parser.add_argument(
        "--faces",
        metavar="DIR",
        default=os.path.join(REPO, "..", "shared", "faces", "lfw"),
        help="LFW folder (default: <repo>/../shared/faces/lfw)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        default=os.path.join(HERE, "out", "results.jsonl"),
        help="append one JSON line per benchmark run here (default: bench/out/results.jsonl)",
    )
    parser.add_argument("--repeat", metavar="N", type=int, default=3, help="best of N timed runs (default 3)")
    parser.add_argument("--limit", metavar="N", type=int, help="use only the first N images")
    parser.add_argument("--keep", action="store_true", help="keep temporary datasets under /tmp")
    parser.add_argument(
        "--sizes",
        metavar="N,N,...",
        default="10000,100000,1000000",
        help="search: generated faces (default 10000,100000,1000000); shards: the largest, split in 4",
    )
    parser.add_argument(
        "--queries", metavar="N", type=int, default=1000, help="search, shards: query faces (default 1000)"
    )
    parser.add_argument(
        "--scale-sizes",
        metavar="N,N,...",
        default="1000000,3000000",
        help="scale: generated faces (default 1000000,3000000; 10000000 takes over an hour: run it apart)",
    )
    parser.add_argument(
        "--index-kind",
        metavar="KIND",
        default="annoy",
        help="scale, shards: the kind of index rx-index builds (default annoy)",
    )
    parser.add_argument(
        "--index-links", metavar="M", type=int, help="shards: an HNSW index's links per face (rx-index --links)"
    )
    parser.add_argument(
        "--lfw",
        metavar="DS",
        default=os.path.join(HERE, "out", "lfw.rx"),
        help="search, shards: a dataset of every LFW photo embedded",
    )
    return parser.parse_args(argv)


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return " ".join(cell(v) for v in value)
    return str(value).replace("|", "\\|")


def markdown(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def git_version() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", REPO, "describe", "--always", "--dirty"], capture_output=True, text=True, check=True
        ).stdout.strip()
        return out or None
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    sys.path.insert(0, HERE)
    failed = False
    for name in opts.only or BENCHMARKS:
        started = dt.datetime.now(dt.timezone.utc)
        result = importlib.import_module(BENCHMARKS[name]).run(opts)
        print(f"## {name}: {result.get('title', '')}\n")
        if "skipped" in result:
            print(f"skipped: {result['skipped']}\n")
        for note in result.get("notes", []):
            print(f"- {note}")
        for heading, rows in result.get("tables", {}).items():
            print(f"\n### {heading}\n\n{markdown(rows)}")
        if "ok" in result:
            print(f"\n**{name}: {'PASS' if result['ok'] else 'FAIL'}**\n")
        failed |= result.get("ok") is False
        os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
        with open(opts.out, "a") as out:
            out.write(
                json.dumps(
                    {
                        "bench": name,
                        "started": started.isoformat(timespec="seconds"),
                        "git": git_version(),
                        "host": platform.node(),
                        "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                        "argv": sys.argv[1:] if argv is None else argv,
                        **result,
                    }
                )
                + "\n"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
