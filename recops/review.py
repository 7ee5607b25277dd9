"""Proposed links for a person to review, and the links they keep: the old dataset-match-faces
and dataset-link-matched-faces.

A proposal pairs a face nobody identified with the identity of its nearest identified face,
within the threshold. Every face without an identity is a query (but deleted ones and those of
recognitions' query photos); the candidates are the faces linked to an identity, less the
excluded identities and the pairs a person rejected. Two faces of one photo are two people: of
a photo's faces, each identity goes to the nearest one only, never to a photo that already has
a face of that identity, and a face whose best identity went to a photo-mate gets its next best.

Proposals are records, and rows of a CSV a person edits (deleting the wrong rows) and gives back
to `link_matched_faces`, which links what it can and reports every row it cannot.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import IO, Iterable, Iterator, Sequence

from .errors import InputError
from .identities import IdentityEditor
from .ids import resolve
from .records import timestamp
from .region_proposals import MIN_OVERLAP, SOURCE, region_proposals
from .stages.matching import Matcher, MatchOptions
from .store.dataset import Dataset
from .stream import BadInput, Emitter
from .thresholds import calibration_of, set_by_person
from .vectors import Vectors

STAGE = "review"
CSV_COLUMNS = ("face_id", "identity_id", "identity_name", "distance", "threshold", "matched_face_id", "source")
CHOICES = 3
"""Identities looked at per face: enough for a face whose best ones went to its photo-mates."""


@dataclass(frozen=True)
class ReviewOptions:
    threshold: float | None = None
    exclude_identities: tuple[str, ...] = ()
    search_k: int | None = None
    min_quality: float | None = None
    """Faces of a lower quality score are neither proposed nor proposed for."""
    max_false_alarm: float | None = None
    """Without a threshold: the chance that a face of someone not enrolled is proposed for an
    identity (the threshold is the calibration's for it over the identified faces searched);
    None: FALSE_ALARM where a calibration covers the pipeline, unless a person set the dataset's
    threshold, which then holds."""
    regions: bool = True
    """Also propose the names of the face regions photos came with (region_proposals.py)."""
    min_overlap: float = MIN_OVERLAP


FALSE_ALARM = 0.01
"""Proposals are links a person confirms one by one: by default one face in a hundred of a
stranger is proposed, whatever the number of identified faces searched."""


def match_faces(
    dataset: Dataset, options: ReviewOptions = ReviewOptions(), shards: Sequence[Dataset] = ()
) -> list[dict]:
    """A proposal record for each face without an identity that comes near an identified one,
    ordered by identity name, then distance (the order a person reviews them in). With
    `shards`, the faces of every one are proposed for, and proposed, the home dataset's
    identities (shards.py)."""
    matcher = Matcher(
        dataset,
        MatchOptions(
            CHOICES,
            options.threshold,
            identified_only=True,
            exclude_identities=options.exclude_identities,
            best_per_identity=True,
            search_k=options.search_k,
            min_quality=options.min_quality,
            max_false_alarm=_false_alarm(dataset, options),
        ),
        shards,
    )
    view = matcher.identities
    by_photo: dict[str, list[dict]] = {}
    for holder in (dataset, *shards):
        where = holder.config.id
        gallery = matcher.galleries[where]
        vectors = Vectors.of(holder, matcher.model)
        for face, image, vector in zip(vectors.faces, vectors.images, vectors.matrix):
            if face in view.face_identity or gallery.deletions.hides(face, image) or image in gallery.query_images:
                continue
            if matcher.low_quality(face, dataset=where) is not None:
                continue
            matches = [{**m, "face_dataset": where} for m in matcher.matches(face, image, vector)]
            if matches:
                by_photo.setdefault(image, []).extend(matches)
    identities_in_photo: dict[str, set[str]] = {}
    for (image, identity), faces in view.by_photo.items():
        if faces:
            identities_in_photo.setdefault(image, set()).add(identity)
    proposals = []
    for image, matches in by_photo.items():
        proposals += _assign(matches, identities_in_photo.get(image, set()))
    return sorted(proposals, key=lambda p: (p["identity_name"] or "", p["distance"], p["face"]))


def proposals(dataset: Dataset, options: ReviewOptions = ReviewOptions(), shards: Sequence[Dataset] = ()) -> list[dict]:
    """rx-review propose: the proposals from face regions (source "xmp"), then those by distance
    (match_faces) for the other faces, in the order a person reviews them. A face tagged in a
    region is not proposed for another identity, nor its identity for a photo-mate."""
    tagged = region_proposals(dataset, options.min_overlap, options.exclude_identities) if options.regions else []
    faces = {p["face"] for p in tagged}
    shown = {(p["image"], p.get("identity")) for p in tagged}
    matched = [
        p
        for p in match_faces(dataset, options, shards)
        if p["face"] not in faces and (p["image"], p["identity"]) not in shown
    ]
    return sorted(
        tagged + matched,
        key=lambda p: (p["identity_name"] or "", p.get("source") != SOURCE, p.get("distance", 0.0), p["face"]),
    )


def _false_alarm(dataset: Dataset, options: ReviewOptions) -> float | None:
    if options.threshold is not None:
        return None
    if options.max_false_alarm is not None:
        return options.max_false_alarm
    if set_by_person(dataset.config) or calibration_of(dataset) is None:
        return None
    return FALSE_ALARM


def _assign(matches: list[dict], taken: set[str]) -> list[dict]:
    """The nearest pairs of one photo, each face and each identity used once, none of `taken`."""
    chosen, faces, identities = [], set(), set(taken)
    for match in sorted(matches, key=lambda m: (m["distance"], m["query"], m["identity"])):
        if match["query"] in faces or match["identity"] in identities:
            continue
        faces.add(match["query"])
        identities.add(match["identity"])
        chosen.append(_proposal(match))
    return chosen


def _proposal(match: dict) -> dict:
    return {
        "type": "proposal",
        "face": match["query"],
        "image": match["query_image"],
        "identity": match["identity"],
        "identity_name": match["identity_name"],
        "distance": match["distance"],
        "threshold": match["threshold"],
        "metric": match["metric"],
        "candidate": match["candidate"],
        "candidate_image": match["candidate_image"],
        "face_dataset": match["face_dataset"],
        "candidate_dataset": match["candidate_dataset"],
        "model": match["model"],
        **{k: match[k] for k in ("fmr", "expected_false", "calibration") if k in match},
        "ts": timestamp(),
    }


def write_csv(proposals: Iterable[dict], handle: IO[str]) -> int:
    """The proposals as CSV_COLUMNS; `source` only when a proposal comes from a face region (the
    CSV of the old dataset-match-faces stays as it was)."""
    proposals = list(proposals)
    columns = CSV_COLUMNS if any("source" in p for p in proposals) else CSV_COLUMNS[:-1]
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(columns)
    for p in proposals:
        row = [p["face"], p.get("identity", ""), p["identity_name"], p.get("distance", ""), p.get("threshold", "")]
        writer.writerow([*row, p.get("candidate", ""), p.get("source", "")][: len(columns)])
    return len(proposals)


def read_csv(handle: IO[str], name: str = "csv") -> Iterator[tuple[str, dict]]:
    """(label, row) for each row: by column name after a header naming face_id and identity_id,
    else the first two columns (the old recops wrote no header)."""
    rows = csv.reader(handle)
    header = None
    for number, row in enumerate(rows, 1):
        if not any(cell.strip() for cell in row):
            continue
        if header is None and number == 1 and {"face_id", "identity_id"} <= {c.strip() for c in row}:
            header = [c.strip() for c in row]
            continue
        if header:
            yield f"{name}:{number}", dict(zip(header, (c.strip() for c in row)))
        else:
            yield f"{name}:{number}", dict(zip(("face_id", "identity_id"), (c.strip() for c in row)))


def proposal_rows(items: Iterable, out: Emitter) -> Iterator[tuple[str, dict]]:
    """Rows from proposal records (rx-review propose, perhaps filtered); other records pass on."""
    for number, item in enumerate(items, 1):
        if isinstance(item, dict) and item.get("type") == "proposal":
            row = {"face_id": item.get("face"), "identity_id": item.get("identity")}
            if item.get("source") == SOURCE:
                row |= {"identity_name": item.get("identity_name"), "source": SOURCE}
            yield f"proposal {number}", row
        elif isinstance(item, dict):
            out.emit(item)
        elif isinstance(item, BadInput):
            out.bad_input(item)
        else:
            out.fail(item, STAGE, "not a proposal record (give a reviewed CSV as an argument)", "not-a-record")


def link_matched_faces(
    dataset: Dataset, rows: Iterable[tuple[str, dict]], out: Emitter, shards: Sequence[Dataset] = ()
) -> int:
    """Link the (face_id, identity_id) of each row (whole ids, or unique starts of them as tables
    show them); a row of source xmp may give an identity_name instead, whose identity is made
    when there is none. A row that cannot be applied gets an error record (and the others are
    applied; a face may be stored in one of `shards`). Returns how many links were made or
    already held."""
    editor = IdentityEditor(dataset, shards)
    applied = 0
    for label, row in rows:
        face, identity = row.get("face_id") or "", row.get("identity_id") or ""
        tagged = row.get("source") == SOURCE
        name = (row.get("identity_name") or "") if tagged else ""
        if not face or not (identity or name):
            out.fail(label, STAGE, "a row needs a face_id and an identity_id", "malformed-input")
            continue
        try:
            if identity:
                identity = resolve(identity, editor.view.identities, "identity", dataset.root, "unknown-identity")
            else:
                found, created = editor.find_or_create(name, prefix=False)
                identity = found["id"]
                if created:
                    out.emit(found)
            out.emit(editor.link(face, identity, source=SOURCE if tagged else "review"))
            applied += 1
        except InputError as exc:
            out.fail(label, STAGE, exc.reason, exc.kind, face=face, identity=identity)
    return applied
