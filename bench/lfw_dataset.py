"""bench/out/lfw.rx: every LFW photo imported, its faces found and embedded with the defaults.

The search, cluster and attribute benchmarks read their real faces from it. The first `make bench`
builds it (about ten minutes on two cores); later runs finish it if it was interrupted (every
stage is memoised) and otherwise take a few seconds to find nothing to do.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

from pipeline_speed import pipeline

DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "lfw.rx")


def ensure(dataset: str, folder: str) -> str | None:
    """Build or complete the dataset from the photos under `folder`; why it cannot be, or None."""
    if not os.path.isdir(folder):
        return None if os.path.isfile(os.path.join(dataset, "recops.json")) else f"no LFW photos at {folder}"
    photos = sorted(os.path.join(d, f) for d, _, files in os.walk(folder) for f in files if f.lower().endswith(".jpg"))
    os.makedirs(os.path.dirname(os.path.abspath(dataset)), exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", suffix=".paths0") as listing:
        listing.write(b"".join(os.fsencode(p) + b"\0" for p in photos))
        listing.flush()
        command = pipeline(listing.name, dataset)
        command[-1] += " > /dev/null"
        done = subprocess.run(command, stderr=subprocess.PIPE)
    if done.returncode not in (0, 1):  # 1: some photos without a face, reported and expected
        return f"building {dataset} failed (exit {done.returncode}): {done.stderr.decode()[-400:]}"
    return None
