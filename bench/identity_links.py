"""Precision and recall of the links dataset-match-faces proposes, on LFW, with the real models.

Two cases, each in a fresh dataset, through the installed `recops` porcelain only:

(a) the shared enrolment sets: face_recognition/ and dlib-johns/ imported with
    dataset-import-identities (one folder per person); then LFW photos of those people (LFW has
    only Joseph_Biden of them, face_recognition's "biden") and one photo each of OTHERS people
    not enrolled, imported with dataset-import-images; then dataset-match-faces.
(b) LFW itself, for a recall worth the name: ENROLLED people with at least 10 photos, their first
    ENROL_PHOTOS enrolled from folders, their next QUERY_PHOTOS and one photo each of OTHERS people
    with a single LFW photo as queries.

A proposal is right when the LFW folder of the face's photo names the proposed identity. Every
proposal counts, those for a background face of an LFW photo too (they are wrong unless that
face is the same person). Recall is over the query photos of enrolled people: a photo counts when
one of its faces is proposed as its person. Claim, for proposals a person reviews: at the
dataset's threshold (deepface's for Dlib and cosine), precision and recall of at least PRECISION
and RECALL in (b), and no photo proposed twice for one identity in either case; (a) has too few
photos of enrolled people in LFW (5) for a claim and is reported as measured. A few other
thresholds are measured from the same embeddings, for the trade-off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

PRECISION = 0.9
RECALL = 0.9
OTHERS = 200
ENROLLED = 40
ENROL_PHOTOS = 5
QUERY_PHOTOS = 5
THRESHOLDS = (0.05, 0.06, None, 0.08, 0.09)
"""None: the dataset's own (deepface's 0.07 for Dlib and cosine)."""
LFW_NAMES = {"biden": "Joseph_Biden"}
"""face_recognition's folder names that LFW spells otherwise."""


def tool(name: str) -> str:
    found = os.path.join(os.path.dirname(sys.executable), name)
    return found if os.path.exists(found) else shutil.which(name) or name


def recops(*args: str, check_codes=(0,)) -> tuple[list[dict], float]:
    """Run a porcelain function; its records, and its wall time."""
    start = time.perf_counter()
    proc = subprocess.run([tool("recops"), *args], capture_output=True)
    seconds = time.perf_counter() - start
    if proc.returncode not in check_codes:
        raise RuntimeError(f"recops {' '.join(args)}: exit {proc.returncode}: {proc.stderr.decode()[-800:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()], seconds


def people(lfw: str) -> dict[str, list[str]]:
    return {
        name: sorted(os.listdir(os.path.join(lfw, name)))
        for name in sorted(os.listdir(lfw))
        if os.path.isdir(os.path.join(lfw, name))
    }


def link_tree(root: str, photos: dict[str, list[str]]) -> str:
    """root/<person>/<photo> as symlinks: a folder per identity, without copying LFW."""
    for person, paths in photos.items():
        os.makedirs(os.path.join(root, person), exist_ok=True)
        for path in paths:
            os.symlink(path, os.path.join(root, person, os.path.basename(path)))
    return root


def spread(names: list[str], count: int) -> list[str]:
    """`count` names taken evenly through the alphabet: a fixed, unbiased choice."""
    step = max(1, len(names) // count)
    return names[::step][:count]


def score(dataset: str, truth: dict[str, str], wanted: set[str], threshold: float | None) -> dict:
    """Proposals at one threshold against the LFW person of each query photo (by image id)."""
    args = ["dataset-match-faces", "-d", dataset] + (["--threshold", str(threshold)] if threshold else [])
    proposals, seconds = recops(*args)
    right = [p for p in proposals if truth.get(p["image"]) == LFW_NAMES.get(p["identity_name"], p["identity_name"])]
    found = {p["image"] for p in right}
    pairs = [(p["image"], p["identity"]) for p in proposals]
    return {
        "threshold": proposals[0]["threshold"] if proposals else threshold,
        "proposals": len(proposals),
        "same photo twice": len(pairs) - len(set(pairs)),
        "right": len(right),
        "precision": len(right) / len(proposals) if proposals else None,
        "query photos of enrolled": len(wanted),
        "recalled": len(found & wanted),
        "recall": len(found & wanted) / len(wanted) if wanted else None,
        "match s": seconds,
    }


def case(
    tmp: str, label: str, enrol: list[str], queries: dict[str, list[str]], enrolled_lfw: set[str]
) -> tuple[list[dict], dict]:
    """Enrol the identity folders, import the query photos, score proposals at every threshold."""
    dataset = os.path.join(tmp, label + ".rx")
    recops("dataset-create", dataset)
    errors, timing = 0, {}
    start = time.perf_counter()
    for folder in enrol:
        records, _ = recops("dataset-import-identities", folder, "-d", dataset, check_codes=(0, 1))
        errors += sum(1 for r in records if r["type"] == "error")
    timing["enrol s"] = time.perf_counter() - start
    query_root = link_tree(os.path.join(tmp, label + "-queries"), queries)
    records, timing["import s"] = recops("dataset-import-images", query_root, "-d", dataset, check_codes=(0, 1))
    truth = {r["id"]: os.path.basename(os.path.dirname(r["paths"][-1])) for r in records if r["type"] == "image"}
    wanted = {id for id, person in truth.items() if person in enrolled_lfw}
    identities, _ = recops("dataset-list-identities", "-d", dataset)
    facts = {
        "identities": len(identities),
        "enrolled faces": sum(i["faces"] for i in identities),
        "enrolment refusals": errors,
        "query photos": len(truth),
        "query faces": sum(1 for r in records if r["type"] == "face"),
        **timing,
    }
    rows = [{"case": label, **score(dataset, truth, wanted, t)} for t in THRESHOLDS]
    return rows, facts


def cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def run(opts) -> dict:
    title = "precision and recall of dataset-match-faces proposals on LFW"
    lfw = os.path.abspath(opts.faces)
    shared = os.path.dirname(lfw)
    sets = [os.path.join(shared, s) for s in ("face_recognition", "dlib-johns")]
    missing = [p for p in [lfw, *sets] if not os.path.isdir(p)]
    if missing:
        return {"title": title, "skipped": f"missing {', '.join(missing)}"}
    everyone = people(lfw)
    tmp = tempfile.mkdtemp(prefix="recops-bench-links-", dir="/tmp")
    try:
        enrolled_a = {LFW_NAMES.get(n, n) for s in sets for n in os.listdir(s) if os.path.isdir(os.path.join(s, n))}
        in_lfw = sorted(enrolled_a & set(everyone))
        strangers = spread([n for n in everyone if n not in enrolled_a], OTHERS)
        queries_a = {n: [os.path.join(lfw, n, f) for f in everyone[n]] for n in in_lfw}
        queries_a.update({n: [os.path.join(lfw, n, everyone[n][0])] for n in strangers})
        rows_a, facts_a = case(tmp, "a", sets, queries_a, set(in_lfw))

        regulars = spread([n for n in everyone if len(everyone[n]) >= ENROL_PHOTOS + 5], ENROLLED)
        loners = spread([n for n in everyone if len(everyone[n]) == 1], OTHERS)
        enrol_b = link_tree(
            os.path.join(tmp, "b-enrol"),
            {n: [os.path.join(lfw, n, f) for f in everyone[n][:ENROL_PHOTOS]] for n in regulars},
        )
        queries_b = {
            n: [os.path.join(lfw, n, f) for f in everyone[n][ENROL_PHOTOS : ENROL_PHOTOS + QUERY_PHOTOS]]
            for n in regulars
        }
        queries_b.update({n: [os.path.join(lfw, n, everyone[n][0])] for n in loners})
        rows_b, facts_b = case(tmp, "b", [enrol_b], queries_b, set(regulars))
    finally:
        if opts.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    default_a, default_b = rows_a[THRESHOLDS.index(None)], rows_b[THRESHOLDS.index(None)]
    ok = (
        (default_b["precision"] or 0) >= PRECISION
        and (default_b["recall"] or 0) >= RECALL
        and not any(r["same photo twice"] for r in rows_a + rows_b)
    )
    notes = [
        f"(a) enrolled: {', '.join(os.path.basename(s) for s in sets)} ({facts_a['identities']} identities, "
        f"{facts_a['enrolled faces']} faces, {facts_a['enrolment refusals']} photos refused); in LFW: "
        f"{', '.join(in_lfw) or 'nobody'}; queries: {facts_a['query photos']} LFW photos "
        f"({sum(len(queries_a[n]) for n in in_lfw)} of enrolled people, {len(strangers)} of others), "
        f"{facts_a['query faces']} faces",
        f"(b) enrolled: {len(regulars)} LFW people with ≥ {ENROL_PHOTOS + 5} photos, their first {ENROL_PHOTOS} "
        f"({facts_b['enrolled faces']} faces enrolled, {facts_b['enrolment refusals']} photos refused: not one face); "
        f"queries: their next {QUERY_PHOTOS} and 1 photo each of {len(loners)} people with one LFW photo: "
        f"{facts_b['query photos']} photos, {facts_b['query faces']} faces",
        "right: the LFW folder of the face's photo names the proposed identity; recall: query photos of "
        "enrolled people with a right proposal",
        f"wall time: (a) enrol {facts_a['enrol s']:.1f} s, import {facts_a['import s']:.1f} s; "
        f"(b) enrol {facts_b['enrol s']:.1f} s, import {facts_b['import s']:.1f} s",
        f"at the dataset's threshold ({default_b['threshold']}): (a) precision {cell(default_a['precision'])}, "
        f"recall {cell(default_a['recall'])}; (b) precision {cell(default_b['precision'])}, recall "
        f"{cell(default_b['recall'])}",
        f"claim: (b) precision ≥ {PRECISION} and recall ≥ {RECALL} at the dataset's threshold, no photo proposed "
        f"twice for one identity → {'PASS' if ok else 'FAIL'}",
    ]
    return {
        "title": title,
        "notes": notes,
        "tables": {"proposals by threshold": rows_a + rows_b},
        "ok": ok,
        "facts": {"a": facts_a, "b": facts_b},
    }
