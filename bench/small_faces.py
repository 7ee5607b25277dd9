"""Small faces in large photos: recall and false detections by face width, recops against its peers.

Photos made here, with true boxes: 4000x3000 "crowds" of real LFW faces pasted at known widths and
places (on a flat grey or a textured background), a 4000x3000 photo without a face, 4000x3000
portraits (one large face), and the group photo of ../shared/faces/group at several scales. A
face's width is its dlib box's (about the width between the ears): an LFW face's box is found on
its 250x250 original at full size, then scaled with the face; the group photo's boxes are found
at full size, then scaled. A detection is a hit when its IoU with a true box is at least HIT (each
true box and each detection counted once, the best pairs first); a detection that hits nothing
is false. Every contender reads the same JPEG files in one process of its own, one image at a
time, and times each image (decoding included, model loading not).

Claim: recops finds at least CLAIM_SMALL of the faces 16-24 pixels wide and CLAIM_MID of those
24-40 pixels wide in the crowds, with at most CLAIM_FALSE false detections per megapixel (a few in
a 12-megapixel photo), and five of the group photo's six faces at a quarter of its size; a
portrait costs it one search (under a fifth of a crowd's time).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from import_speed import collect
from pipeline_speed import face_recognition_cli, tool

HIT = 0.4
BANDS = [(16, 24), (24, 40), (40, 80), (80, 10_000)]
CANVAS = (4000, 3000)
CROWDS = 4
GRID = (12, 9)
GROUP_SCALES = (1.0, 0.5, 0.35, 0.25)
CLAIM_SMALL, CLAIM_MID, CLAIM_FALSE = 0.85, 0.9, 0.5

# argv: contender. stdin: image paths, one a line; stdout: one JSON line per image: path, seconds
# and boxes (left, top, right, bottom). Each contender warms up on a real face first, so that
# model loading is not counted against the first image.
RUNNER = r"""import json, sys, time
contender = sys.argv[1]
paths = sys.stdin.read().splitlines()
if contender == "recops":
    from recops.stages.detection import DetectOptions, find_faces
    def boxes(path):
        with open(path, "rb") as handle:
            return [list(f.box) for _, f in find_faces(handle.read(), DetectOptions("dlib"))]
elif contender.startswith("face_recognition"):
    import face_recognition
    upsample = int(contender[-1])
    def boxes(path):
        image = face_recognition.load_image_file(path)
        found = face_recognition.face_locations(image, number_of_times_to_upsample=upsample)
        return [[left, top, right, bottom] for top, right, bottom, left in found]
else:
    from deepface import DeepFace
    def boxes(path):
        found = DeepFace.extract_faces(img_path=path, detector_backend="opencv", enforce_detection=False)
        areas = [f["facial_area"] for f in found if f["confidence"] or f["facial_area"]["x"] or f["facial_area"]["y"]]
        return [[a["x"], a["y"], a["x"] + a["w"], a["y"] + a["h"]] for a in areas]
boxes(paths[0])
for path in paths:
    start = time.perf_counter()
    found = boxes(path)
    print(json.dumps({"path": path, "seconds": time.perf_counter() - start, "boxes": found}), flush=True)
"""
CONTENDERS = {
    "recops (default pipeline)": "recops",
    "face_recognition.face_locations (default: upsample 1)": "face_recognition1",
    "face_recognition CLI face_detection (upsample 0)": "face_recognition0",
    "DeepFace.extract_faces (default: opencv)": "deepface",
}


def band(width: float) -> str:
    for low, high in BANDS:
        if low <= width < high:
            return f"{low}-{high}" if high < 10_000 else f"{low}+"
    return f"<{BANDS[0][0]}"


def iou(a, b) -> float:
    across, down = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, across) * max(0, down)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def matched(truth: list, found: list) -> tuple[set[int], set[int]]:
    """The true boxes hit and the detections that hit one, best pairs first, each once."""
    pairs = sorted(((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True)
    hit, used = set(), set()
    for score, i, j in pairs:
        if score >= HIT and i not in hit and j not in used:
            hit.add(i)
            used.add(j)
    return hit, used


def lfw_faces(folder: str, count: int, seed: int = 17):
    """`count` LFW faces: the crop around the face nearest the centre, and its box in the crop."""
    from PIL import Image

    from recops.models import get_detector

    detector = get_detector("dlib")
    paths = collect(folder, None)
    random.Random(seed).shuffle(paths)
    faces = []
    for path in paths:
        image = Image.open(path).convert("RGB")
        found = detector.detect(np.asarray(image))
        if not found:
            continue
        box = min(found, key=lambda f: abs((f.box[0] + f.box[2]) / 2 - 125) + abs((f.box[1] + f.box[3]) / 2 - 125)).box
        margin = (box[2] - box[0]) * 0.6
        crop = [max(0, round(box[0] - margin)), max(0, round(box[1] - margin))]
        crop += [min(250, round(box[2] + margin)), min(250, round(box[3] + margin))]
        inner = [box[0] - crop[0], box[1] - crop[1], box[2] - crop[0], box[3] - crop[1]]
        faces.append((image.crop(crop), inner))
        if len(faces) == count:
            break
    return faces


def background(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Flat grey with a little noise, or smooth noise at several scales in colour (a wall, leaves)."""
    import cv2

    width, height = CANVAS
    if kind == "grey":
        return np.clip(rng.normal(128, 4, (height, width, 3)), 0, 255).astype(np.uint8)
    texture = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((8, 60), (40, 30), (200, 20), (1000, 10)):
        noise = rng.normal(0, 1, (max(2, cells * height // width), cells, 3)).astype(np.float32)
        texture += weight * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(texture + np.array([110, 120, 90], np.float32), 0, 255).astype(np.uint8)


def paste(canvas, face, inner, width: float, left: int, top: int) -> list[float]:
    """The face scaled so its box is `width` wide, laid at (left, top) through a soft oval mask;
    its true box on the canvas."""
    from PIL import Image

    scale = width / (inner[2] - inner[0])
    size = (max(1, round(face.width * scale)), max(1, round(face.height * scale)))
    pixels = np.asarray(face.resize(size, Image.LANCZOS), np.float32)
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]]
    r = ((xs - size[0] / 2) / (size[0] / 2)) ** 2 + ((ys - size[1] / 2) / (size[1] / 2)) ** 2
    alpha = np.clip((1.0 - r) / 0.3, 0, 1)[:, :, None]
    region = canvas[top : top + size[1], left : left + size[0]].astype(np.float32)
    canvas[top : top + size[1], left : left + size[0]] = (alpha * pixels + (1 - alpha) * region).astype(np.uint8)
    return [left + inner[0] * scale, top + inner[1] * scale, left + inner[2] * scale, top + inner[3] * scale]


def widths(rng: random.Random, n: int) -> list[float]:
    """n face widths, the same number in each band, log-uniform within it (80+: up to 140)."""
    out = []
    for i in range(n):
        low, high = BANDS[i % len(BANDS)]
        high = min(high, 140)
        out.append(float(np.exp(rng.uniform(np.log(low), np.log(high)))))
    rng.shuffle(out)
    return out


def save(pixels: np.ndarray, path: str) -> str:
    from PIL import Image

    Image.fromarray(pixels).save(path, "JPEG", quality=92)
    return path


def make_photos(folder: str, tmp: str) -> dict[str, list[tuple[str, list]]]:
    """{set: [(path, true boxes)]}."""
    from PIL import Image

    rng, pick = np.random.default_rng(5), random.Random(5)
    cells = GRID[0] * GRID[1]
    faces = lfw_faces(folder, CROWDS * cells + 2)
    sets: dict[str, list] = {"crowds": [], "no face": [], "portraits": [], "group photo": []}
    cell_w, cell_h = CANVAS[0] // GRID[0], CANVAS[1] // GRID[1]
    for c in range(CROWDS):
        canvas = background("grey" if c % 2 == 0 else "texture", rng)
        truth = []
        for k, width in enumerate(widths(pick, cells)):
            face, inner = faces[c * cells + k]
            scale = width / (inner[2] - inner[0])
            room_x = max(0, cell_w - round(face.width * scale))
            room_y = max(0, cell_h - round(face.height * scale))
            left = (k % GRID[0]) * cell_w + pick.randrange(room_x + 1)
            top = (k // GRID[0]) * cell_h + pick.randrange(room_y + 1)
            truth.append(paste(canvas, face, inner, width, left, top))
        sets["crowds"].append((save(canvas, os.path.join(tmp, f"crowd{c}.jpg")), truth))
    sets["no face"].append((save(background("texture", rng), os.path.join(tmp, "no-face.jpg")), []))
    for p in range(2):
        canvas = background("texture", rng)
        face, inner = faces[-1 - p]
        width = 600 + 100 * p
        truth = [paste(canvas, face, inner, width, 1500 - 300 * p, 700)]
        sets["portraits"].append((save(canvas, os.path.join(tmp, f"portrait{p}.jpg")), truth))
    group = os.path.join(folder, "..", "group", "t1.jpg")
    if os.path.isfile(group):
        from recops.stages.detection import DetectOptions, find_faces

        with open(group, "rb") as handle:
            full = [list(f.box) for _, f in find_faces(handle.read(), DetectOptions("dlib"))]
        image = Image.open(group).convert("RGB")
        for scale in GROUP_SCALES:
            size = (round(image.width * scale), round(image.height * scale))
            path = os.path.join(tmp, f"group-{scale:g}.jpg")
            image.resize(size, Image.LANCZOS).save(path, "JPEG", quality=92)
            sets["group photo"].append((path, [[v * scale for v in box] for box in full]))
    return sets


def detect_all(contender: str, paths: list[str], folder: str, runner: str = RUNNER) -> tuple[dict[str, dict], str]:
    """`folder` is the runner's working directory: not the repository's, whose recops/ would come
    before the one PYTHONPATH names (a run of an older recops for comparison). `runner` reads paths
    on stdin and writes a JSON line with `path` for each."""
    proc = subprocess.run(
        [sys.executable, "-c", runner, contender], input="\n".join(paths), capture_output=True, text=True, cwd=folder
    )
    results = {r["path"]: r for r in map(json.loads, proc.stdout.splitlines())}
    return results, "" if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"


def through_cli(paths: list[str]) -> dict[str, list]:
    """rx-detect itself, a pure filter: the boxes of each path's faces."""
    proc = subprocess.run([tool("rx-detect"), "-j", "1", *paths], capture_output=True, text=True)
    images = {}
    by_path: dict[str, list] = {path: [] for path in paths}
    for record in map(json.loads, proc.stdout.splitlines()):
        if record["type"] == "image":
            images[record["id"]] = record["paths"][0]
        elif record["type"] == "face":
            by_path[images[record["image"]]].append(record["box"])
    return by_path


def run(opts) -> dict:
    title = "Small faces: recall and false detections by face width, recops vs face_recognition and deepface"
    folder = os.path.abspath(opts.faces)
    if not os.path.isdir(folder):
        return {"title": title, "skipped": f"no LFW folder at {folder} (give one with --faces DIR)"}
    if not tool("rx-detect"):
        return {"title": title, "skipped": "rx-detect not installed (make install)"}
    _, fr_note = face_recognition_cli()
    tmp = tempfile.mkdtemp(prefix="recops-bench-small-", dir="/tmp")
    try:
        sets = make_photos(folder, tmp)
        paths = [path for photos in sets.values() for path, _ in photos]
        found, failures = {}, {}
        for label, contender in CONTENDERS.items():
            found[label], failure = detect_all(contender, paths, tmp)
            if failure:
                failures[label] = failure
        quick = [path for name in ("portraits", "group photo") for path, _ in sets[name]]
        cli = through_cli(quick)
    finally:
        if opts.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    recall_rows, false_rows, time_rows, group_rows = [], [], [], []
    summary: dict[str, dict] = {}
    megapixels = sum(CANVAS[0] * CANVAS[1] for _ in sets["crowds"] + sets["no face"]) / 1e6
    for label in CONTENDERS:
        results = found[label]
        if not results:
            recall_rows.append({"contender": label, "error": failures.get(label, "no output")})
            continue
        true_by, hit_by, false_by = {}, {}, {}
        for path, truth in sets["crowds"] + sets["no face"]:
            boxes = results[path]["boxes"]
            hit, used = matched(truth, boxes)
            for i, box in enumerate(truth):
                key = band(box[2] - box[0])
                true_by[key] = true_by.get(key, 0) + 1
                hit_by[key] = hit_by.get(key, 0) + (i in hit)
            for j, box in enumerate(boxes):
                if j not in used:
                    key = band(box[2] - box[0])
                    false_by[key] = false_by.get(key, 0) + 1
        keys = [band(low) for low, _ in BANDS]
        recall = {key: hit_by.get(key, 0) / true_by[key] for key in keys if true_by.get(key)}
        recall_rows.append({"contender": label, **{f"{k} px": round(v, 3) for k, v in recall.items()}})
        false_rows.append(
            {
                "contender": label,
                **{f"{k} px": round(false_by.get(k, 0) / megapixels, 3) for k in [f"<{BANDS[0][0]}", *keys]},
                "all": round(sum(false_by.values()) / megapixels, 3),
            }
        )
        summary[label] = {"recall": recall, "false_per_mp": sum(false_by.values()) / megapixels}
        row = {"contender": label}
        for name, photos in sets.items():
            if photos:
                row[f"{name} s/photo"] = round(sum(results[p]["seconds"] for p, _ in photos) / len(photos), 2)
        time_rows.append(row)
        group = {"contender": label}
        for path, truth in sets["group photo"]:
            hit, used = matched(truth, results[path]["boxes"])
            scale = os.path.basename(path)[len("group-") : -len(".jpg")]
            group[f"{float(scale):.0%}"] = f"{len(hit)}/{len(truth)} ({len(results[path]['boxes']) - len(used)} false)"
        group_rows.append(group)

    ours = summary.get("recops (default pipeline)", {})
    times = {name.split(" s/")[0]: v for name, v in time_rows[0].items() if name.endswith("s/photo")} if ours else {}
    small, mid = (ours.get("recall", {}).get(band(low), 0.0) for low, _ in BANDS[:2])
    quarter = next((p for p, _ in sets["group photo"] if p.endswith("group-0.25.jpg")), None)
    quarter_hits = (
        len(matched(dict(sets["group photo"])[quarter], found["recops (default pipeline)"][quarter]["boxes"])[0])
        if quarter and ours
        else None
    )
    same_cli = all(
        sorted(cli[p]) == sorted(found["recops (default pipeline)"].get(p, {}).get("boxes", [])) for p in quick
    )
    checks = [
        {"check": f"recops recall 16-24 px ≥ {CLAIM_SMALL}", "result": small >= CLAIM_SMALL, "detail": f"{small:.3f}"},
        {"check": f"recops recall 24-40 px ≥ {CLAIM_MID}", "result": mid >= CLAIM_MID, "detail": f"{mid:.3f}"},
        {
            "check": f"recops false detections ≤ {CLAIM_FALSE} per megapixel",
            "result": ours.get("false_per_mp", 1e9) <= CLAIM_FALSE,
            "detail": f"{ours.get('false_per_mp', float('nan')):.3f}",
        },
        {
            "check": "recops finds 5 of the group photo's 6 faces at 25%",
            "result": quarter_hits is None or quarter_hits >= 5,
            "detail": "no group photo" if quarter_hits is None else f"{quarter_hits} of 6",
        },
        {
            "check": "recops searches a portrait once: under a fifth of a crowd's time",
            "result": bool(ours) and times["portraits"] < times["crowds"] / 5,
            "detail": f"{times.get('portraits', float('nan')):.2f} s vs. {times.get('crowds', float('nan')):.2f} s",
        },
        {
            "check": "rx-detect (the command) finds the same boxes as the library",
            "result": same_cli,
            "detail": f"{len(quick)} photos: portraits and group photo",
        },
        {
            "check": "every contender ran",
            "result": not failures,
            "detail": "; ".join(f"{k}: {v}" for k, v in failures.items()),
        },
    ]
    for check in checks:
        check["result"] = "PASS" if check["result"] else "FAIL"
    peers_only = all(label != "recops (default pipeline)" for label in failures)
    ok = all(c["result"] == "PASS" for c in checks[:6]) and peers_only
    crowd_faces = sum(len(t) for _, t in sets["crowds"])
    notes = [
        f"crowds: {len(sets['crowds'])} photos of {CANVAS[0]}x{CANVAS[1]} (grey and textured in turn), "
        f"{crowd_faces} LFW faces from a seeded sample of {folder}, {GRID[0]}x{GRID[1]} cells, one face each, "
        "the same number per band, widths log-uniform in a band (80+: 80-140)",
        "a face's width is its dlib box's on the 250x250 original, scaled; pasted through a soft oval mask",
        f"no face: one textured {CANVAS[0]}x{CANVAS[1]} photo; false detections per megapixel count the crowds "
        f"and it ({megapixels:.0f} Mpx), by the detection's own width",
        "portraits: one face 600 or 700 pixels wide on a textured 4000x3000 photo (the time an ordinary large "
        "photo costs)",
        f"group photo: ../shared/faces/group/t1.jpg at {', '.join(f'{s:.0%}' for s in GROUP_SCALES)} "
        "(LANCZOS, JPEG 92); its true boxes are recops's at full size, scaled",
        f"hit: IoU ≥ {HIT} with a true box, best pairs first, each box counted once; a detection that hits "
        "nothing is false (a face of the LFW photo's background, cropped with the face, counts as false)",
        "time: per photo, decoding included, model loading not (each contender warms up on the first photo); "
        "one process each, one photo at a time",
        f"face_recognition: {fr_note}; its CLI face_detection calls face_locations with upsample 0, run here "
        "through the library to time each photo",
        "DeepFace.extract_faces(img_path, detector_backend='opencv', enforce_detection=False): the whole photo "
        "with confidence 0 (its answer for no face) is not counted",
    ]
    return {
        "title": title,
        "notes": notes,
        "tables": {
            "recall by true face width (crowds)": recall_rows,
            "false detections per megapixel by detected width (crowds and no face)": false_rows,
            "group photo: faces found at each scale": group_rows,
            "seconds per photo": time_rows,
            "checks": checks,
        },
        "ok": ok,
        "summary": summary,
    }
