"""The detectors side by side: faces found, missed and false on the same photos, time per photo, and
LFW verification accuracy when each feeds the default recogniser (Dlib).

Photos: the LFW photos of every third pair of pairsDevTest.tsv (LFW centres the labelled person:
a detection whose box holds the photo's centre found them; the others are people in the background
or false), and the group photo of ../shared/faces/group, whose six people's face centres are marked
by hand below (a detection holding one found that person; one holding none is false). Each
detector runs in a process of its own through recops's detection (find_faces, as rx-detect runs
it), one photo at a time, decoding included, model loading not; the face nearest the centre of
each LFW photo is embedded with Dlib, as bench lfw takes it.

Claim: every detector usable here runs on every photo.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
from lfw_verify import accuracy, best_threshold, distances, read_pairs
from small_faces import detect_all

# detector[:MEDIAPIPE_MODEL_SELECTION], as deepface reads it: 0 short range (its default), 1 full range.
CONTENDERS = ("dlib", "opencv", "ssd", "mtcnn", "mediapipe", "mediapipe:1")
EVERY = 3
FOLDS = 10
GROUP_REPEAT = 3
# The six faces of group/t1.jpg (1280x886), marked by hand: (x, y) of each face's centre.
GROUP_FACES = [(121, 336), (320, 220), (503, 348), (778, 420), (934, 131), (1172, 336)]

# argv: contender. stdin: photo paths, one a line; stdout: one JSON line per photo: path, seconds,
# boxes and the Dlib vector of the face nearest the centre (null when none).
RUNNER = r"""import json, os, sys, time
detector, _, selection = sys.argv[1].partition(":")
if selection:
    os.environ["MEDIAPIPE_MODEL_SELECTION"] = selection
from PIL import Image
from recops.stages.detection import DetectOptions, find_faces
from recops.stages.embedding import embed_faces
options = DetectOptions(detector)
paths = sys.stdin.read().splitlines()
with open(paths[0], "rb") as handle:
    find_faces(handle.read(), options)
for path in paths:
    with open(path, "rb") as handle:
        data = handle.read()
    start = time.perf_counter()
    found = [face for _, face in find_faces(data, options)]
    seconds = time.perf_counter() - start
    vector = None
    if found:
        w, h = Image.open(path).size
        face = min(found, key=lambda f: (f.box[0] + f.box[2] - w) ** 2 + (f.box[1] + f.box[3] - h) ** 2)
        vector = embed_faces(data, [{"box": list(face.box), "landmarks": face.landmarks}], "Dlib")[0].tolist()
    boxes = [list(f.box) for f in found]
    print(json.dumps({"path": path, "seconds": seconds, "boxes": boxes, "vector": vector}), flush=True)
"""


def holds(box, point) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def group_hits(boxes: list, faces: list) -> tuple[int, int]:
    """People found and false detections: each face taken by the detection holding it whose centre
    is nearest, each detection counted once."""
    used, found = set(), 0
    for point in faces:
        holding = [
            (((b[0] + b[2]) / 2 - point[0]) ** 2 + ((b[1] + b[3]) / 2 - point[1]) ** 2, j)
            for j, b in enumerate(boxes)
            if j not in used and holds(b, point)
        ]
        if holding:
            used.add(min(holding)[1])
            found += 1
    return found, len(boxes) - len(used)


def cross_validated(d: np.ndarray, same: np.ndarray) -> float:
    """LFW's protocol on these pairs: threshold chosen on nine folds, measured on the tenth, the mean."""
    fold = np.arange(len(d)) % FOLDS
    return float(
        np.mean(
            [
                accuracy(d[fold == k], same[fold == k], best_threshold(d[fold != k], same[fold != k]))
                for k in range(FOLDS)
            ]
        )
    )


def usable(detector: str) -> str:
    """Why a detector cannot run here, or ''."""
    from recops.models.weight_status import status

    st = status("face_detector", detector)
    return "" if st.usable else st.note


def default_threshold() -> float:
    from recops.calibration import DEFAULT_FMR, shipped

    return shipped("dlib", "Dlib", False).curve("cosine").threshold_for(DEFAULT_FMR)


def run(opts) -> dict:
    title = "Detectors: faces found, missed and false, time per photo, and LFW verification with Dlib"
    folder = os.path.abspath(opts.faces)
    pairs_file = os.path.join(folder, "pairsDevTest.tsv")
    group = os.path.join(folder, "..", "group", "t1.jpg")
    if not os.path.isfile(pairs_file) or not os.path.isfile(group):
        return {"title": title, "skipped": f"no {pairs_file} or {group} (give LFW with --faces DIR)"}
    same, pairs = read_pairs(pairs_file, folder)
    same, pairs = same[::EVERY], pairs[::EVERY]
    if opts.limit:
        same, pairs = same[: opts.limit], pairs[: opts.limit]
    photos = sorted({p for pair in pairs for p in pair})
    threshold = default_threshold()

    tmp = tempfile.mkdtemp(prefix="recops-bench-detectors-", dir="/tmp")
    results, failures, skipped = {}, {}, {}
    try:
        for contender in CONTENDERS:
            why = usable(contender.partition(":")[0])
            if why:
                skipped[contender] = why
                continue
            results[contender], failure = detect_all(contender, photos + [group] * GROUP_REPEAT, tmp, RUNNER)
            if failure:
                failures[contender] = failure
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    centre = (125, 125)  # every LFW photo is 250x250
    faces_rows, accuracy_rows = [], []
    for contender in CONTENDERS:
        label = contender.replace(":1", " (full range)")
        if contender in skipped or not results.get(contender):
            reason = skipped.get(contender) or failures.get(contender, "no output")
            faces_rows.append({"detector": label, "not run": reason})
            continue
        found = results[contender]
        lfw = [found[p] for p in photos if p in found]
        hit = sum(any(holds(b, centre) for b in r["boxes"]) for r in lfw)
        others = sum(sum(not holds(b, centre) for b in r["boxes"]) for r in lfw)
        people, false = group_hits(found[group]["boxes"], GROUP_FACES) if group in found else (None, None)
        faces_rows.append(
            {
                "detector": label,
                "LFW found": hit,
                "LFW missed": len(photos) - hit,
                "LFW other detections": others,
                "group found": people,
                "group missed": None if people is None else len(GROUP_FACES) - people,
                "group false": false,
                "LFW ms/photo": round(1000 * float(np.mean([r["seconds"] for r in lfw])), 1),
                "group ms/photo": round(1000 * found[group]["seconds"], 1) if group in found else None,
            }
        )
        vectors = {p: np.array(found[p]["vector"]) if found.get(p, {}).get("vector") else None for p in photos}
        d = distances(vectors, pairs, "cosine")
        accuracy_rows.append(
            {
                "detector": label,
                "pairs without a face": int(np.isnan(d).sum()),
                f"accuracy at cosine {threshold:.4f}": round(accuracy(d, same, threshold), 4),
                f"{FOLDS}-fold accuracy": round(cross_validated(d, same), 4),
            }
        )

    ran = [c for c in CONTENDERS if c not in skipped]
    checks = [
        {
            "check": "every detector usable here ran on every photo",
            "result": "PASS" if not failures and all(len(results[c]) == len(photos) + 1 for c in ran) else "FAIL",
            "detail": "; ".join(f"{k}: {v}" for k, v in failures.items()) or f"{len(ran)} detectors",
        }
    ]
    notes = [
        f"LFW: the {len(photos)} photos of every {EVERY}rd pair of {pairs_file} ({len(pairs)} pairs, "
        f"{int(same.sum())} of the same person); found: a detection's box holds the photo's centre (LFW centres "
        "the labelled person); other detections: people in the background, or false",
        f"group photo: {group}, 1280x886, {len(GROUP_FACES)} people whose face centres are marked by hand; found: "
        "a detection holds a face centre (each detection counted once); false: it holds none",
        "time: find_faces as rx-detect runs it (decoding, the search at --max-side, dlib's second search for small "
        f"faces), one photo at a time in one process per detector, models loaded first; group: the last of "
        f"{GROUP_REPEAT} runs",
        "verification: of each LFW photo's faces, the one nearest its centre, embedded with Dlib (aligned by dlib's "
        "5 landmarks on the detector's box); a pair with a missing face counts as 'different'",
        f"accuracy at cosine {threshold:.4f}: the default threshold of a dlib + Dlib dataset (shipped calibration); "
        f"{FOLDS}-fold: LFW's protocol on these pairs, threshold chosen on nine folds, measured on the tenth",
        "mediapipe: deepface's wrapper, MEDIAPIPE_MODEL_SELECTION 0 (short range, deepface's default) and 1 (full "
        "range); mtcnn: deepface's wrapper over mtcnn 1.0 on TensorFlow",
        *[f"{k} not run: {v}" for k, v in skipped.items()],
    ]
    return {
        "title": title,
        "notes": notes,
        "tables": {"faces and time": faces_rows, "LFW verification (Dlib)": accuracy_rows, "checks": checks},
        "ok": checks[0]["result"] == "PASS",
    }
