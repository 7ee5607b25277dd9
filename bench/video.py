"""The one-minute film of tests/videos.py through the tools: faces per person, tracks against the
truth, the time to process the minute, and whether its people are matched to their identities.

Claim: every face that stays in view is one track (portraits and the pair, however long hidden);
no sighting in a track is of another face than the track's; each person of the film shown whole
for more than two seconds has a face record; and each person enrolled from LFW photos other
than the film's is matched to their identity by at least one of their faces, and never to another.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")
ENROL = 3
"""LFW photos per person enrolled, none of them the film's."""
FPS = 2.0


def _tool(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


def _pipe(commands: list[list[str]], stdin: bytes = b"") -> tuple[list[dict], float]:
    """Run tools as a shell pipeline would: the records out of the last, and the wall time."""
    with tempfile.TemporaryFile() as given:
        given.write(stdin)
        given.seek(0)
        start = time.perf_counter()
        procs, previous = [], given
        for args in commands:
            proc = subprocess.Popen(
                [_tool(args[0]), *args[1:]], stdin=previous, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            if previous is not given:
                previous.close()  # the next tool holds it now
            procs.append(proc)
            previous = proc.stdout
        out = previous.read()
        for proc in procs:
            proc.wait()
    return [json.loads(line) for line in out.splitlines() if line.strip()], time.perf_counter() - start


def _person(label: str) -> str:
    return label.rsplit("_", 1)[0]


def run(opts) -> dict:
    title = "the one-minute film: faces, tracks against the truth, time, matches"
    if not os.path.isdir(opts.faces):
        return {"title": title, "skipped": f"no LFW at {opts.faces}"}
    sys.path.insert(0, TESTS)
    import videos

    from recops.video import VideoOptions, faces_of

    folder = tempfile.mkdtemp(prefix="recops-bench-video-", dir="/tmp")
    try:
        film = videos.one_minute_film()
        path = videos.write(os.path.join(folder, "minute.mp4"), videos.film_frames(film))
        root = os.path.join(folder, "case.rx")
        subprocess.run([_tool("rx-init"), root], check=True, capture_output=True)
        env_dataset = ["-d", root]

        # enrol the film's LFW people from other photos of them
        people = sorted({_person(t.label) for t in film.truth if not t.label.startswith("group")})
        used = {t.label for t in film.truth}
        enrol = os.path.join(folder, "enrol")
        for person in people:
            os.makedirs(os.path.join(enrol, person))
            photos = sorted(f for f in os.listdir(os.path.join(opts.faces, person)) if f[:-4] not in used)
            for name in photos[:ENROL]:
                shutil.copy(os.path.join(opts.faces, person, name), os.path.join(enrol, person, name))
        _pipe([["rx-import", *env_dataset, enrol], ["rx-detect"], ["rx-enrol", "--identity-from-folder"], ["rx-embed"]])

        records, seconds = _pipe([["rx-import", *env_dataset, path], ["rx-detect", "--fps", str(FPS)], ["rx-embed"]])
        faces = [r for r in records if r["type"] == "face"]
        embedded = [r for r in records if r["type"] == "embedding"]
        stdin = "".join(json.dumps(r) + "\n" for r in embedded).encode()
        matched, match_seconds = _pipe([["rx-match", *env_dataset]], stdin)

        # tracks against the truth, every sighting (the detector's own pass, as rx-detect makes it)
        found = faces_of(path, "dlib", VideoOptions(fps=FPS))
        wrong = sightings = 0
        tracks_of: dict[str, int] = {}
        for track in found.tracks:
            labels = [videos.who(film, s.time, s.box) for s in track.sightings]
            owner = max(set(labels), key=labels.count)
            wrong += sum(label != owner for label in labels)
            sightings += len(labels)
            tracks_of[owner] = tracks_of.get(owner, 0) + 1

        label_of = {f["id"]: videos.who(film, f["time"], f["box"]) for f in faces}
        top = {}
        for record in matched:
            if record["type"] == "match" and record.get("rank") == 1:
                top[record["query"]] = record.get("identity_name")
        rows = []
        for truth in film.truth:
            span = truth.span()
            mine = [f for f in faces if label_of[f["id"]] == truth.label]
            person = None if truth.label.startswith("group") else _person(truth.label)
            right = sum(top.get(f["id"]) == person for f in mine) if person else None
            other = sum(top.get(f["id"]) not in (None, person) for f in mine)
            rows.append(
                {
                    "face": truth.label,
                    "in view s": round(span[1] - span[0] + 1 / videos.RATE, 1) if span else 0,
                    "tracks": tracks_of.get(truth.label, 0),
                    "face records": len(mine),
                    "matched right": "" if right is None else right,
                    "matched wrong": other,
                }
            )
    finally:
        if not getattr(opts, "keep", False):
            shutil.rmtree(folder, ignore_errors=True)
    still = [r for r in rows if not r["face"].startswith("group")]
    long_enough = [r for r in rows if r["in view s"] > 2]
    ok = (
        all(r["tracks"] == 1 for r in still)
        and wrong == 0
        and all(r["face records"] >= 1 for r in long_enough)
        and all(r["matched right"] >= 1 and r["matched wrong"] == 0 for r in still)
    )
    unassigned = sum(label is None for label in label_of.values())
    summary = {
        "video": "60 s, 320x240, 24 fps, H.264 (tests/videos.py one_minute_film, LFW portraits and t1.jpg)",
        "sampled frames": found.samples,
        "cuts found": f"{len(found.cuts) - 1} of {len(film.cuts)}",
        "tracks": len(found.tracks),
        "true faces": len(film.truth),
        "sightings": sightings,
        "sightings in the wrong track": wrong,
        "face records": len(faces),
        "face records on no true face": unassigned,
        "import, detect, embed s": round(seconds, 1),
        "rx-match s": round(match_seconds, 1),
    }
    notes = [
        f"rx-detect --fps {FPS:g}, --keep 3 (the defaults), dlib; times: wall time of rx-import | rx-detect | "
        "rx-embed, models loaded in it",
        f"enrolled: {', '.join(people)} from {ENROL} LFW photos each that the film does not show",
        "a sighting's face is the true face its box overlaps most (IoU >= 0.3), from the film's truth",
        "claim: one track per face that stays in view, no sighting in another's track, a face record for "
        "every face whole in view over 2 s, each enrolled person matched right at least once and never wrongly",
    ]
    return {"title": title, "notes": notes, "tables": {"summary": [summary], "faces": rows}, "ok": ok}
