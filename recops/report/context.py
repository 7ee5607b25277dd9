"""The variables a report template gets, built from gathered records: plain dicts, lists, strings
and numbers (so a sandboxed user template can read them and JSON can hold them).

The bundled templates (recops/templates/report/) document every variable in their first comment.
"""

from __future__ import annotations

import logging
import os
import re

from .. import __version__, images
from ..calibration import shown_rate
from ..errors import InputError
from ..faces import FaceCatalog
from ..identities import DEFAULT_COLOR, IdentityView
from ..pixels import FIRST, Picture
from ..quality import band, score_of
from ..records import timestamp, warning_record
from ..store.dataset import Dataset
from ..stream import Emitter
from ..thresholds import effective_threshold
from .attributes import describe, warning_of
from .gather import STAGE, Gathered
from .pictures import PAGE_SIDE, THUMB_SIDE, Pictures

logger = logging.getLogger("recops")
UNKNOWN_COLOR = "#ff00ff"
"""Faces of nobody: a colour no identity has by default and photos seldom show."""
VERIFIED_COLOR = DEFAULT_COLOR
_CSS_COLOR = re.compile(
    r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})|[a-zA-Z]{3,20}"
    r"|(?:rgb|hsl)a?\([0-9\s.,%/deg]{1,60}\)"
)
_IDLIKE = re.compile(r"[0-9a-f]{4,64}")
TITLES = {
    "recognize": "Recognition",
    "match-faces": "Proposed links for review",
    "cluster": "Clusters of faces",
    "verify": "Verification",
}


def safe_color(value: object) -> str:
    """A colour as an identity record gives it, if it is one: anything else (a url(), a quote)
    is never written into the page."""
    return value.strip() if isinstance(value, str) and _CSS_COLOR.fullmatch(value.strip()) else DEFAULT_COLOR


class Lookup:
    """Faces, images and identities by id: the stream's first, then the dataset's (read when
    first needed)."""

    def __init__(self, gathered: Gathered, dataset: Dataset | None, view: IdentityView):
        self.gathered = gathered
        self.dataset = dataset
        self.view = view
        self._faces: FaceCatalog | None = None
        self._images: images.ImageCatalog | None = None
        self._by_image: dict[str, list[dict]] | None = None

    def _catalog(self) -> FaceCatalog | None:
        if self._faces is None and self.dataset is not None:
            self._faces = FaceCatalog.of(self.dataset)
        return self._faces

    def face(self, id: str) -> dict | None:
        if id in self.gathered.faces:
            return self.gathered.faces[id]
        found = self._catalog().get(id) if self.dataset is not None else None
        return {**found, "dataset": self.dataset.root} if found else None

    def faces_of(self, image: str) -> list[dict]:
        """Every face known in an image, the stream's and the dataset's (for blurring)."""
        if self._by_image is None:
            self._by_image = {}
            for face in self._catalog() or ():
                self._by_image.setdefault(face.get("image"), []).append(face)
        found = {f["id"]: f for f in self._by_image.get(image, [])}
        found.update({f["id"]: f for f in self.gathered.faces.values() if f.get("image") == image})
        return list(found.values())

    def image(self, id: str) -> dict | None:
        if id in self.gathered.images:
            return self.gathered.images[id]
        if self.dataset is None:
            return None
        if self._images is None:
            self._images = images.ImageCatalog.of(self.dataset)
        found = self._images.get(id)
        return {**found, "dataset": self.dataset.root} if found else None

    def image_name(self, id: str | None) -> str:
        record = self.image(id) if id else None
        paths = (record or {}).get("paths") or []
        return os.path.basename(paths[0]) if paths else (id or "?")[:12]

    def identity(self, id: str | None, name: str | None = None) -> dict | None:
        """An identity as the page shows it: current name and colour, or those a record carried."""
        if not id:
            return None
        record = self.view.identities.get(id) or self.gathered.identities.get(id)
        if record is None or record.get("deleted"):
            record = {"id": id, "name": name or id[:12]}
        return {
            "id": id,
            "name": record.get("name") or id[:12],
            "description": record.get("description") or "",
            "color": safe_color(record.get("color", DEFAULT_COLOR)),
        }


class StandIns:
    """What a blurred report shows instead of what tells who and where: identity names become
    "Person 1", "Person 2", ..., file names "photo 1", "photo 2", ..., each the same wherever it
    appears; descriptions and the dataset's path go. The reasons of problems are searched for
    every name and path replaced, and any input that is no id is a file too."""

    def __init__(self, on: bool):
        self.on = on
        self.labels: dict[tuple[str, str], str] = {}
        self.secrets: dict[str, str] = {}

    def _label(self, kind: str, key: str, texts: list) -> str:
        label = self.labels.setdefault((kind, key), f"{kind} {sum(k == kind for k, _ in self.labels) + 1}")
        for text in texts:
            if isinstance(text, str) and text.strip():
                self.secrets.setdefault(text, label)
                self.secrets.setdefault(os.path.basename(text) or text, label)
        return label

    def identity(self, identity: dict, real_name: str | None) -> dict:
        if not self.on:
            return identity
        return {
            **identity,
            "name": self._label("Person", identity["id"], [identity["name"], real_name]),
            "description": "",
        }

    def photo(self, key: str, name: str, paths: list) -> str:
        return self._label("photo", key, [name, *paths]) if self.on else name

    def problem(self, problem: dict) -> dict:
        if not self.on:
            return problem
        text = str(problem.get("input") or "")
        if text and text not in self.secrets and not _IDLIKE.fullmatch(text):
            self._label("file", text, [text])
        return {**problem, "input": self.scrub(text), "reason": self.scrub(str(problem.get("reason") or ""))}

    def scrub(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, self.secrets[secret])
        return text


class Builder:
    """Turns gathered records into a report's variables; a photo it cannot show is an error
    record (once per photo) and the rest of the report goes on."""

    def __init__(self, gathered: Gathered, dataset: Dataset | None, pictures: Pictures, out: Emitter):
        self.gathered = gathered
        self.dataset = dataset
        self.pictures = pictures
        self.out = out
        self.lookup = Lookup(gathered, dataset, IdentityView.of(dataset) if dataset else IdentityView())
        self.stand_ins = StandIns(pictures.blur)
        self.problems = [_problem(e) for e in gathered.errors]
        self.legend: dict[str, dict] = {}
        self._failed: set[str] = set()
        self.unseen = 0
        self._candidate_of: dict[str, str] = {}
        self._shown: set[str] = set()
        for record in list(gathered.images.values()) + list(gathered.faces.values()):
            pictures.know(record)

    def build(self, kind: str, title: str | None = None) -> dict:
        body = {
            "recognize": self.recognize,
            "match-faces": self.match_faces,
            "cluster": self.cluster,
            "verify": self.verify,
        }[kind]()
        if self.unseen:
            where = "in the dataset" if self.dataset else "in the records, and no dataset says where they are (-d DIR)"
            reason = f"{self.unseen} face(s) are shown by their ids only: they are not {where}"
            logger.warning("%s", reason)
            self.out.emit(warning_record("faces", STAGE, reason, "unknown-face"))
            self.problems.append({"input": "faces", "stage": STAGE, "kind": "unknown-face", "reason": reason})
        attributes = [self.gathered.attributes[f] for f in self._shown if f in self.gathered.attributes]
        dataset, hidden = self.dataset, self.stand_ins.on
        return {
            "kind": kind,
            "title": title or TITLES[kind],
            "generated": timestamp(),
            "version": __version__,
            "blurred": self.pictures.blur,
            "dataset": {
                "path": "" if hidden else dataset.root,
                "description": "" if hidden else dataset.config.description,
                "detector": dataset.config.detector,
                "model": dataset.config.model,
                "metric": dataset.config.metric,
                "threshold": effective_threshold(dataset.config),
            }
            if dataset
            else None,
            # stand-ins in the order they were given, not sorted as text ("Person 10" < "Person 2")
            "legend": list(self.legend.values())
            if hidden
            else sorted(self.legend.values(), key=lambda i: (i["name"].lower(), i["id"])),
            "unknown_color": UNKNOWN_COLOR,
            "attribute_warning": warning_of(attributes) if any(describe(a) for a in attributes) else None,
            "problems": [self.stand_ins.problem(p) for p in self.problems],
            **body,
        }

    # -- the pieces every kind uses

    def _pixels(self, image: str, make):
        if image in self._failed:
            return None
        try:
            return make()
        except InputError as exc:
            self._failed.add(image)
            self.out.fail(image, STAGE, exc.reason, exc.kind)
            self.problems.append({"input": image, "stage": STAGE, "kind": exc.kind, "reason": exc.reason})
            return None

    def _identity(self, id: str | None, name: str | None = None) -> dict | None:
        identity = self.lookup.identity(id, name)
        if identity:
            identity = self.legend.setdefault(identity["id"], self.stand_ins.identity(identity, name))
        return identity

    def _image_name(self, image: str | None, picture: Picture = FIRST, span: list | None = None) -> str:
        """The photo's file name, and the page a picture of a multi-page image is ("scan.tif, page 3"),
        or the time of a video's frame, with the `span` its face's track is in view."""
        name = self.lookup.image_name(image)
        record = (self.lookup.image(image) if image else None) or {}
        if self.stand_ins.on and image:
            name = self.stand_ins.photo(image, name, record.get("paths") or [])
        label = picture.label(record.get("pages", 1), span)
        return f"{name}, {label}" if label else name

    def _crop(self, face: dict | None) -> str | None:
        if not face or not face.get("box") or not face.get("image"):
            return None
        self.pictures.know(face)
        return self._pixels(face["image"], lambda: self.pictures.crop(face["image"], face["box"], Picture.of(face)))

    def _photo(
        self, image: str, boxes: list[dict], max_side: int, name: str | None = None, picture: Picture = FIRST
    ) -> dict:
        """A photo (one picture of it) with its face boxes: `boxes` are {face, box, color, label,
        title} in full-size pixels; in a blurred report every face known in the picture is
        blurred, shown or not."""
        if self.pictures.blur:
            for face in self.lookup.faces_of(image):
                if Picture.of(face) == picture:
                    self.pictures.face_in(image, face["box"], picture)
            for box in boxes:
                self.pictures.face_in(image, box["box"], picture)
        size = self._pixels(image, lambda: self.pictures.size(image, picture))
        width, height = size or (None, None)
        src = self._pixels(image, lambda: self.pictures.photo(image, max_side, picture)) if size else None
        if not name:
            span = None  # a video's frame with one face says when that face is in view
            if picture.time is not None and len(boxes) == 1 and boxes[0].get("face"):
                face = self.lookup.face(boxes[0]["face"])
                span = face.get("span") if face else None
            name = self._image_name(image, picture, span)
        else:
            name = self.stand_ins.photo(image, name, [])
        return {
            "image": image,
            "name": name,
            "width": width,
            "height": height,
            "src": src,
            "label_size": round(max(width or 0, height or 0) / 40, 1),
            "boxes": [
                {
                    "face": b.get("face"),
                    "label": b.get("label", ""),
                    "title": b.get("title", ""),
                    "color": b["color"],
                    "left": _round(b["box"][0]),
                    "top": _round(b["box"][1]),
                    "width": _round(b["box"][2] - b["box"][0]),
                    "height": _round(b["box"][3] - b["box"][1]),
                }
                for b in boxes
            ],
        }

    def _face_card(self, face: dict) -> dict:
        """A face as a table shows it: id, crop, attributes."""
        self._shown.add(face["id"])
        return {
            "id": face["id"],
            "image": face.get("image"),
            "image_name": self._image_name(face.get("image"), Picture.of(face), face.get("span")),
            "box": face.get("box"),
            "confidence": _number(face.get("confidence")),
            "detector": face.get("detector"),
            "crop": self._crop(face),
            "attributes": describe(self.gathered.attributes.get(face["id"])),
            "quality": _quality(face),
        }

    def _unseen(self, id: str | None, image: str | None = None) -> dict:
        """A face no record describes (not in the stream, no dataset to look in): its ids only."""
        self.unseen += 1
        return {
            "id": id,
            "image": image,
            "image_name": self._image_name(image) if image else "",
            "box": None,
            "confidence": None,
            "detector": None,
            "crop": None,
            "attributes": [],
            "quality": None,
        }

    # -- the kinds

    def recognize(self) -> dict:
        matches_of: dict[str, list[dict]] = {}
        for match in self.gathered.matches:
            matches_of.setdefault(match.get("query"), []).append(match)
            if match.get("identity") and match.get("candidate"):
                self._candidate_of.setdefault(match["candidate"], match["identity"])
        faces_of: dict[str, dict[str, dict]] = {}
        for face in self.gathered.faces.values():
            faces_of.setdefault(face.get("image"), {})[face["id"]] = face
        for query, _matches in matches_of.items():
            face = self.lookup.face(query)
            if face and face.get("image"):
                faces_of.setdefault(face["image"], {}).setdefault(face["id"], face)
                self.pictures.know(face)
        shown = []
        for image in self.gathered.order:
            every = faces_of.get(image, {}).values()
            if image not in self.gathered.images and not every:
                continue
            for picture in sorted({Picture.of(f) for f in every}, key=lambda p: p.order) or [FIRST]:
                # numbered as read, left to right
                faces = sorted(
                    (f for f in every if Picture.of(f) == picture), key=lambda f: ((f.get("box") or [0])[0], f["id"])
                )
                shown.append(self._recognized_photo(image, picture, faces, matches_of, detected=bool(every)))
        return {"images": shown}

    def _recognized_photo(
        self, image: str, picture: Picture, faces: list[dict], matches_of: dict[str, list[dict]], detected: bool
    ) -> dict:
        """One picture of a recognised photo: its faces numbered, each with its matches."""
        cards, boxes = [], []
        for number, face in enumerate(faces, 1):
            card = self._recognized(face, matches_of.get(face["id"], []), number)
            cards.append(card)
            boxes.append(
                {
                    "face": face["id"],
                    "box": face["box"],
                    "color": card["color"],
                    "label": str(number),
                    "title": card["identity"]["name"] if card["identity"] else "unknown",
                }
            )
        return {
            "photo": self._photo(image, boxes, PAGE_SIDE, picture=picture),
            "faces": cards,
            "detected": image in self.gathered.detected or detected,
        }

    def _recognized(self, face: dict, matches: list[dict], number: int) -> dict:
        # a match says whose face its candidate is: a face of the gallery shown here is known too
        linked = self.lookup.view.face_identity.get(face["id"]) or self._candidate_of.get(face["id"])
        rows = sorted((self._match(m) for m in matches), key=lambda r: (_number(r["rank"]) or 0, _nearest(r)))
        best = next((row for row in rows if row["identity"]), None)
        identity = self._identity(linked) if linked else best["identity"] if best else None
        return {
            **self._face_card(face),
            "number": number,
            "identity": identity,
            "identity_source": "linked" if linked else "matched" if identity else None,
            "color": identity["color"] if identity else UNKNOWN_COLOR,
            "matches": rows,
        }

    def _match(self, match: dict) -> dict:
        candidate = self.lookup.face(match.get("candidate", ""))
        identity = self._identity(match.get("identity"), match.get("identity_name"))
        card = (
            self._face_card(candidate)
            if candidate
            else self._unseen(match.get("candidate"), match.get("candidate_image"))
        )
        distance, threshold = _number(match.get("distance")), _number(match.get("threshold"))
        return {
            "rank": match.get("rank"),
            "face": card,
            "identity": identity,
            "color": identity["color"] if identity else UNKNOWN_COLOR,
            "distance": distance,
            "threshold": threshold,
            "metric": match.get("metric"),
            "model": match.get("model"),
            "within": distance is not None and threshold is not None and distance <= threshold,
            **shown_rate(match),
        }

    def match_faces(self) -> dict:
        rows = []
        for proposal in self.gathered.proposals:
            identity = self._identity(proposal.get("identity"), proposal.get("identity_name"))
            color = identity["color"] if identity else UNKNOWN_COLOR
            face = self.lookup.face(proposal.get("face", ""))
            candidate = self.lookup.face(proposal.get("candidate", ""))
            photo = (
                self._photo(
                    face["image"],
                    [
                        {
                            "face": face["id"],
                            "box": face["box"],
                            "color": color,
                            "title": identity["name"] if identity else "",
                        }
                    ],
                    THUMB_SIDE,
                    picture=Picture.of(face),
                )
                if face and face.get("box")
                else None
            )
            rows.append(
                {
                    "face": self._face_card(face)
                    if face
                    else self._unseen(proposal.get("face"), proposal.get("image")),
                    "photo": photo,
                    "identity": identity,
                    "color": color,
                    "candidate": self._face_card(candidate)
                    if candidate
                    else self._unseen(proposal.get("candidate"), proposal.get("candidate_image")),
                    "distance": _number(proposal.get("distance")),
                    "threshold": _number(proposal.get("threshold")),
                    "metric": proposal.get("metric"),
                    **shown_rate(proposal),
                }
            )
        return {"proposals": sorted(rows, key=lambda r: ((r["identity"] or {}).get("name", ""), _nearest(r)))}

    def cluster(self) -> dict:
        clusters = []
        for cluster in sorted(self.gathered.clusters, key=lambda c: (c.get("label", 0), c.get("id", ""))):
            identity = self._identity(cluster.get("identity"))
            faces = []
            for id in cluster.get("faces") or ():
                face = self.lookup.face(id)
                if face and self.pictures.blur and face.get("image"):
                    self.pictures.face_in(face["image"], face["box"], Picture.of(face))
                faces.append(self._face_card(face) if face else self._unseen(id))
            clusters.append(
                {
                    "id": cluster.get("id"),
                    "label": cluster.get("label"),
                    "size": cluster.get("size", len(faces)),
                    "identity": identity,
                    "color": identity["color"] if identity else UNKNOWN_COLOR,
                    "threshold": cluster.get("threshold"),
                    "method": cluster.get("method"),
                    "faces": faces,
                }
            )
        return {"clusters": clusters}

    def verify(self) -> dict:
        pairs = []
        for verification in self.gathered.verifications:
            color = VERIFIED_COLOR if verification.get("verified") else UNKNOWN_COLOR
            photos, crops = [], []
            for path, box in zip(verification.get("images") or (), verification.get("boxes") or ()):
                key = f"file:{path}"
                self.pictures.know_file(key, path)
                name = self.stand_ins.photo(key, os.path.basename(path), [path])
                photos.append(self._photo(key, [{"box": box, "color": color}], PAGE_SIDE // 2, name))
                crops.append(self._pixels(key, lambda key=key, box=box: self.pictures.crop(key, box)))
            pairs.append(
                {
                    "verified": bool(verification.get("verified")),
                    "color": color,
                    "photos": photos,
                    "crops": crops,
                    "distance": _number(verification.get("distance")),
                    "threshold": _number(verification.get("threshold")),
                    "metric": verification.get("metric"),
                    "model": verification.get("model"),
                    "detector": verification.get("detector"),
                    **shown_rate(verification),
                }
            )
        return {"verifications": pairs}


def _problem(error: dict) -> dict:
    return {k: error.get(k) for k in ("input", "stage", "kind", "reason")}


def _number(value) -> float | None:
    """A number a record carries, or None: a template formats it without a second thought."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _nearest(row: dict) -> tuple:
    return (row["distance"] is None, row["distance"] or 0.0)


def _round(value) -> float:
    return round(float(value), 1)


def _quality(face: dict) -> dict | None:
    """{score, band, eyes, sharpness, yaw} of a measured face; None for one measured before quality was."""
    quality = face.get("quality")
    score = score_of(face)
    if score is None:
        return None
    return {"score": score, "band": band(score), **{k: quality.get(k) for k in ("eyes", "sharpness", "yaw")}}
