"""What the original recops's recognize templates read (its image-view.html.j2 and
image-blur-view.html.j2, or a user's template made from them): `img`, its detected faces, their
matches and identities by the original's attribute and method names, and the options it passed
(maximum, identified_faces, exclude_identities, threshold, include_extended_fields), made from
today's report variables. Its ids were UUIDs and its checksums MD5; here both are the content
ids. Only attributes and plain methods: a user's template runs sandboxed.
"""

from __future__ import annotations

import os

from ..identities import DEFAULT_COLOR, IdentityView
from ..store.dataset import Dataset
from .context import safe_color

NO_MATCH_COLOR = "#ff5702"
NO_IDENTITY_COLOR = "#fea805"
"""The original's colours of a face without matches, and of one whose nearest matches have no identity."""
DEFAULTS = {
    "maximum": 10,
    "identified_faces": False,
    "exclude_identities": [],
    "threshold": None,
    "include_extended_fields": False,
}


class Identity:
    def __init__(self, shown: dict):
        self.id = shown["id"]
        self.name = shown["name"]
        self.color = shown["color"]
        self.description = shown.get("description", "")


class _Boxed:
    def __init__(self, card: dict):
        self.id = card["id"]
        self.checksum = card["id"]
        self.short_id = (card["id"] or "")[:8]
        self.datauri = card.get("crop") or ""
        left, top, right, bottom = card.get("box") or (0, 0, 0, 0)
        self.box_left, self.box_top, self.box_right, self.box_bottom = (round(v) for v in (left, top, right, bottom))
        attributes = {a["name"]: a["value"] for a in card.get("attributes") or ()}
        self.age = attributes.get("age")
        self.gender = attributes.get("gender")
        self.emotion = attributes.get("emotion")
        self.race = attributes.get("race")


class Face(_Boxed):
    """A face of the dataset that matched."""

    def __init__(self, card: dict, identity: dict | None):
        super().__init__(card)
        self.image_id = card.get("image")
        self.identities = [Identity(identity)] if identity else []
        self.identity_names = [i.name for i in self.identities]
        self.identity_ids = [i.id for i in self.identities]


class MatchedFace:
    def __init__(self, row: dict):
        self.face = Face(row["face"], row["identity"])
        self.distance = row["distance"]
        self.threshold = row["threshold"]
        self.percentage = row["distance"]


class DetectedFace(_Boxed):
    """A face of the recognised photo, with its matches."""

    def __init__(self, card: dict):
        super().__init__(card)
        self.matched_faces = [MatchedFace(row) for row in card["matches"]]
        self.has_matched_faces = bool(self.matched_faces)

    def filter_matched_faces(self, maximum=-1, identified_faces=True, exclude_identities=(), threshold=None):
        """Nearest first; exclude_identities is ignored, as the original ignored it here (recognize
        left those faces out already)."""
        found = [m for m in self.matched_faces if m.face.identities or not identified_faces]
        if threshold is not None:
            found = [m for m in found if m.distance is not None and m.distance <= threshold]
        found.sort(key=lambda m: (m.distance is None, m.distance or 0.0))
        return found if maximum is None or maximum < 0 else found[:maximum]

    def best_identities(self, threshold=None):
        best = self.filter_matched_faces(maximum=1, identified_faces=True, threshold=threshold)
        return best[0].face.identities if best else []

    def color(self, threshold=None):
        if not self.has_matched_faces:
            return NO_MATCH_COLOR
        identities = self.best_identities(threshold)
        return identities[-1].color if identities else NO_IDENTITY_COLOR


class DatasetView:
    def __init__(self, dataset: Dataset | None):
        self.id = dataset.config.id if dataset else ""
        self.name = os.path.basename(os.path.normpath(dataset.root)) if dataset else ""
        view = IdentityView.of(dataset) if dataset else IdentityView()
        self.identities = [
            Identity({"id": id, "name": r.get("name") or id[:12], "color": safe_color(r.get("color", DEFAULT_COLOR))})
            for id, r in sorted(view.identities.items())
        ]


class Image:
    def __init__(self, entry: dict, dataset: DatasetView):
        photo = entry["photo"]
        self.id = photo["image"]
        self.checksum = photo["image"]
        self.name = photo["name"]
        self.width = photo["width"]
        self.height = photo["height"]
        self.datauri = photo["src"] or ""
        self.dataset = dataset
        self.detected_faces = [DetectedFace(card) for card in entry["faces"]]


def variables(report: dict, dataset: Dataset | None, settings: dict | None) -> dict:
    """The original's variables for a recognize report: `img` is its first photo (the original
    recognised one photo a report); `imgs` every one."""
    shown = DatasetView(dataset)
    images = [Image(entry, shown) for entry in report.get("images", ())]
    return {
        **DEFAULTS,
        **(settings or {}),
        "img": images[0] if images else None,
        "imgs": images,
    }
