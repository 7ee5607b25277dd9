"""rx-analyze on LFW people with 10 or more photos: how consistent each attribute is per person, and its cost.

LFW has no attribute labels, so this measures consistency, not accuracy: a person's gender does
not change between photos, and their apparent age changes little (LFW's photos of a person span
a few years). Per photo, the face nearest the image centre (LFW centres the labelled person) from
the faces of bench/out/lfw.rx (the lfw benchmark's dataset), or of a dataset rx-detect builds
here. rx-analyze runs once as a process over those faces; each model is then timed alone, in
this process, on a sample. The models are weak and categorise people in a discriminatory way:
these numbers say how steady they are, not that they are right.
"""

from __future__ import annotations

import collections
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from pipeline_speed import tool

MIN_PHOTOS = 10
TIMED_FACES = 400
LFW_DATASET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "lfw.rx")


def people(folder: str, limit: int | None) -> dict[str, list[str]]:
    found = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        photos = (
            sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(".jpg"))
            if os.path.isdir(path)
            else []
        )
        if len(photos) >= MIN_PHOTOS:
            found[name] = photos
    if limit:
        kept, total = {}, 0
        for name, photos in found.items():
            if total >= limit:
                break
            kept[name], total = photos, total + len(photos)
        found = kept
    return found


def detected(paths: list[str], tmp: str) -> str:
    """A dataset holding these photos' faces: the lfw benchmark's when it has them all, else a new one."""
    from recops.store.dataset import Dataset

    if os.path.isdir(LFW_DATASET):
        with Dataset.open(LFW_DATASET) as ds:
            known = {p for r in ds.log("images").records() for p in r.get("paths", [])}
        if set(paths) <= known:
            return LFW_DATASET
    dataset = os.path.join(tmp, "faces.rx")
    listing = os.path.join(tmp, "paths0")
    with open(listing, "wb") as out:
        out.write(b"\0".join(os.fsencode(p) for p in paths))
    q = shlex.quote
    subprocess.run(
        [
            "bash",
            "-c",
            f"set -o pipefail; {q(tool('rx-import'))} -0 -q -d {q(dataset)} < {q(listing)} "
            f"| {q(tool('rx-detect'))} -q > /dev/null",
        ],
        check=True,
    )
    return dataset


def central_faces(dataset: str, paths: list[str]) -> dict[str, dict]:
    """Each photo's face nearest its centre, as a face record rx-analyze reads."""
    from recops.listing import list_kind
    from recops.store.dataset import Dataset

    with Dataset.open(dataset) as ds:
        wanted = set(paths)
        image_path, size = {}, {}
        for image in list_kind(ds, "images"):
            for path in set(image.get("paths", [])) & wanted:
                image_path[image["id"]] = path
                size[image["id"]] = (image["width"], image["height"])
        chosen: dict[str, dict] = {}
        for face in list_kind(ds, "faces"):
            path = image_path.get(face["image"])
            if path is None:
                continue
            w, h = size[face["image"]]

            def off(f, w=w, h=h):
                return (f["box"][0] + f["box"][2] - w) ** 2 + (f["box"][1] + f["box"][3] - h) ** 2

            if path not in chosen or off(face) < off(chosen[path]):
                chosen[path] = face
    return chosen


def analysed(faces: dict[str, dict], tmp: str) -> tuple[dict[str, dict], float, str]:
    """rx-analyze over the faces, as one process with its default workers: attribute records by path."""
    listing = os.path.join(tmp, "faces.jsonl")
    paths = list(faces)
    with open(listing, "w") as out:
        for path in paths:
            out.write(json.dumps(faces[path]) + "\n")
    with open(listing, "rb") as stdin:
        start = time.perf_counter()
        proc = subprocess.run([tool("rx-analyze"), "-q"], stdin=stdin, capture_output=True)
        seconds = time.perf_counter() - start
    by_face = {}
    for line in proc.stdout.splitlines():
        record = json.loads(line)
        if record["type"] == "attribute":
            by_face[record["face"]] = record
    found = {path: by_face[faces[path]["id"]] for path in paths if faces[path]["id"] in by_face}
    return found, seconds, f"exit {proc.returncode}: {proc.stderr.decode()[-300:]}" if proc.returncode else ""


def time_models(faces: list[dict], names: list[str]) -> dict[str, float]:
    """Milliseconds per face of each model alone (one face per call, decode excluded), in this process."""
    from recops import models
    from recops.pixels import Picture, load_rgb
    from recops.sources import image_source, read_source

    pixels = [load_rgb(read_source(image_source(face)), picture=Picture.of(face))[0] for face in faces]
    spent = {}
    for name in names:
        analyser = models.get_analyser(name)
        analyser.analyse(pixels[0], [faces[0]])  # loading is not per face
        start = time.perf_counter()
        for image, face in zip(pixels, faces):
            analyser.analyse(image, [face])
        spent[name] = (time.perf_counter() - start) / len(faces) * 1000
    return spent


def quartile_range(values: list[float]) -> float:
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 - q1)


def run(opts) -> dict:
    title = "rx-analyze on LFW people with 10+ photos: consistency of each attribute per person, and time per face"
    folder = os.path.abspath(opts.faces)
    if not os.path.isdir(folder):
        return {"title": title, "skipped": f"no LFW folder at {folder} (give one with --faces DIR)"}
    if not all(tool(n) for n in ("rx-import", "rx-detect", "rx-analyze")):
        return {"title": title, "skipped": "rx-import, rx-detect or rx-analyze not installed (make install)"}
    group = people(folder, opts.limit)
    paths = [p for photos in group.values() for p in photos]
    person_of = {p: name for name, photos in group.items() for p in photos}
    tmp = tempfile.mkdtemp(prefix="recops-bench-attributes-", dir="/tmp")
    try:
        faces = central_faces(detected(paths, tmp), paths)
        found, seconds, error = analysed(faces, tmp)
        sample = [faces[p] for p in list(faces)[:: max(1, len(faces) // TIMED_FACES)]][:TIMED_FACES]
        models_used = next(iter(found.values()))["models"] if found else {}
        per_model = time_models(sample, list(models_used.values())) if sample and models_used else {}
    finally:
        if opts.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    by_person: dict[str, list[dict]] = collections.defaultdict(list)
    for path, record in found.items():
        by_person[person_of[path]].append(record)
    agreement, rows = [], []
    ages_std, ages_iqr, ages_range = [], [], []
    for name, records in by_person.items():
        genders = collections.Counter(r["dominant_gender"] for r in records if "dominant_gender" in r)
        label, count = genders.most_common(1)[0] if genders else (None, 0)
        share = count / sum(genders.values()) if genders else None
        ages = [r["age"] for r in records if "age" in r]
        if share is not None:
            agreement.append((share, count, sum(genders.values())))
        if len(ages) >= 2:
            ages_std.append(statistics.pstdev(ages))
            ages_iqr.append(quartile_range(ages))
            ages_range.append(max(ages) - min(ages))
        rows.append(
            {
                "person": name,
                "photos": len(group[name]),
                "analysed": len(records),
                "majority gender": label,
                "agreeing": round(share, 3) if share is not None else None,
                "median age": round(statistics.median(ages), 1) if ages else None,
                "age std": round(statistics.pstdev(ages), 1) if len(ages) >= 2 else None,
                "age IQR": round(quartile_range(ages), 1) if len(ages) >= 2 else None,
            }
        )
    emotions = collections.Counter(r["dominant_emotion"] for r in found.values() if "dominant_emotion" in r)
    analysed_n = len(found)
    summary = [
        {"measure": "people (10+ photos)", "value": len(group)},
        {"measure": "photos", "value": len(paths)},
        {"measure": "photos with a face", "value": len(faces)},
        {"measure": "faces analysed", "value": analysed_n},
        {
            "measure": "gender: share of a person's photos agreeing with their majority, mean over people",
            "value": round(statistics.mean(a for a, _, _ in agreement), 4) if agreement else None,
        },
        {
            "measure": "gender: same share over all photos",
            "value": round(sum(c for _, c, _ in agreement) / sum(n for _, _, n in agreement), 4) if agreement else None,
        },
        {"measure": "gender: people whose photos all agree", "value": sum(a == 1 for a, _, _ in agreement)},
        {"measure": "gender: people below 90% agreement", "value": sum(a < 0.9 for a, _, _ in agreement)},
        {
            "measure": "age: median over people of the per-person std (years)",
            "value": round(statistics.median(ages_std), 2) if ages_std else None,
        },
        {
            "measure": "age: median over people of the per-person IQR (years)",
            "value": round(statistics.median(ages_iqr), 2) if ages_iqr else None,
        },
        {
            "measure": "age: median over people of the per-person range (years)",
            "value": round(statistics.median(ages_range), 1) if ages_range else None,
        },
        {
            "measure": "rx-analyze, whole run (process, default workers), ms per face",
            "value": round(seconds / max(1, analysed_n) * 1000, 1),
        },
    ]
    timing = [
        {
            "model": name,
            "attribute": attribute,
            "ms per face (one process, one face a call)": round(per_model.get(name, 0), 2),
            "faces timed": len(sample),
        }
        for attribute, name in models_used.items()
    ]
    emotion_rows = [
        {"emotion": label, "faces": count, "share": round(count / max(1, analysed_n), 3)}
        for label, count in emotions.most_common()
    ]
    rows.sort(key=lambda r: (r["agreeing"] if r["agreeing"] is not None else 2, r["person"]))
    notes = [
        "No ground truth: LFW has no attribute labels. Consistency is a floor on reliability, not accuracy.",
        "These models are weak and categorise people in a discriminatory way; treat their output as unreliable.",
        f"models: {', '.join(f'{a}={n}' for a, n in models_used.items())}; "
        "race needs deepface's own file and is skipped here",
        f"{os.cpu_count()} CPUs; faces from "
        f"{'bench/out/lfw.rx' if os.path.isdir(LFW_DATASET) else 'a fresh rx-detect run'}",
    ]
    if error:
        notes.append(f"rx-analyze: {error}")
    return {
        "title": title,
        "notes": notes,
        "tables": {
            "summary": summary,
            "time per face, per model": timing,
            "dominant emotion over all faces": emotion_rows,
            "the 10 people whose gender agrees least": rows[:10],
        },
        "ok": not error and analysed_n == len(faces),
    }
