"""The variables of each page, assembled from a snapshot: plain dicts and lists for the templates.

Every list a page shows is paginated: a dataset of many thousands of faces costs a page of
thumbnails at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from ..calibration import shown_rate
from ..pixels import FIRST, Picture
from ..report.attributes import describe
from ..report.context import UNKNOWN_COLOR
from .snapshot import Snapshot

PAGE_SIZE = 48
SAMPLE_FACES = 8
NEAREST = 12
FILTERS = ("identity", "cluster", "attribute")
CLUSTERS_LISTED = 500
"""The largest clusters offered by the faces page's filter; any other is reached from one of its faces."""


class NotFound(Exception):
    """What an address names is not in the dataset (or was deleted): 404."""


@dataclass
class Paging:
    items: list
    number: int
    pages: int
    total: int
    size: int = PAGE_SIZE

    @classmethod
    def of(cls, items: Sequence, number: int, size: int = PAGE_SIZE) -> "Paging":
        pages = max(1, math.ceil(len(items) / size))
        number = min(max(1, number), pages)
        return cls(list(items[(number - 1) * size : number * size]), number, pages, len(items), size)

    @property
    def first(self) -> int:
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.total else 0


def pictures_of(snap: Snapshot, image: str) -> list[Picture]:
    """The pictures of an image that its page goes through (`?page=` counts them from 1): a
    photo's pages, or the frames of a video that its faces are on (its first frame, if none)."""
    record = snap.images.get(image, {})
    if str(record.get("media_type", "")).startswith("video/"):
        times = {Picture.of(f).time for f in snap.faces_of.get(image, [])}
        return [Picture(time=t) for t in sorted(t for t in times if t is not None)] or [Picture(time=0.0)]
    return [Picture(page=n) for n in range(max(1, record.get("pages", 1)))]


def _number(snap: Snapshot, image: str, picture: Picture) -> int:
    """Which of its image's pictures (from 1) a picture is."""
    if picture.time is None:
        return picture.page + 1
    pictures = pictures_of(snap, image)
    return pictures.index(picture) + 1 if picture in pictures else 1


def face_card(snap: Snapshot, face: dict) -> dict:
    identity = snap.identity_of(face["id"])
    link = snap.view.link_of.get(face["id"])
    cluster = snap.cluster_by_id.get(snap.cluster_of.get(face["id"], ""))
    image = snap.images.get(face["image"], {})
    picture = Picture.of(face)
    return {
        "id": face["id"],
        "image": face["image"],
        "image_name": snap.image_name(face["image"]),
        "picture": picture.label(image.get("pages", 1), face.get("span")),
        "page": _number(snap, face["image"], picture),
        "identity": identity,
        "color": identity["color"] if identity else UNKNOWN_COLOR,
        "source": link.get("source") if link and identity else None,
        "cluster": cluster["label"] if cluster else None,
        "cluster_size": cluster["size"] if cluster else None,
        "query": bool(image.get("query")),
        "confidence": face.get("confidence"),
        "attributes": describe(snap.attributes.get(face["id"])),
        "rejected": [snap.identity(i) for i in snap.rejected_of.get(face["id"], ()) if snap.identity(i)],
    }


def photo(
    snap: Snapshot,
    key: str,
    image: str,
    kind: str = "images",
    numbered: bool = False,
    picture: Picture = FIRST,
    size: tuple[int, int] | None = None,
) -> dict:
    """A photo (one picture of it: a page of a TIFF, whose `size` is then given) and its face
    boxes in their identity colours, as report/macros.html.j2 draws them."""
    record = snap.images[image]
    place = _number(snap, image, picture)
    width, height = size or (record.get("width") or 1, record.get("height") or 1)
    faces = [f for f in snap.faces_of.get(image, []) if Picture.of(f) == picture]
    boxes = []
    for number, face in enumerate(faces, 1):
        identity = snap.identity_of(face["id"])
        left, top, right, bottom = (float(v) for v in face["box"])
        boxes.append(
            {
                "face": face["id"],
                "label": str(number) if numbered else "",
                "title": identity["name"] if identity else "nobody known",
                "color": identity["color"] if identity else UNKNOWN_COLOR,
                "left": round(left, 1),
                "top": round(top, 1),
                "width": round(right - left, 1),
                "height": round(bottom - top, 1),
            }
        )
    return {
        "image": image,
        "name": snap.image_name(image),
        "width": width,
        "height": height,
        "src": f"/d/{key}/thumbs/{kind}/{image}.jpg" + (f"?page={place}" if place > 1 else ""),
        "picture": picture.label(record.get("pages", 1)),
        "label_size": round(max(width, height) / 40, 1),
        "boxes": boxes,
        "query": bool(record.get("query")),
        "faces": len(boxes),
    }


def overview(snap: Snapshot) -> dict:
    linked = len(snap.view.face_identity)
    return {
        "counts": {
            "images": len(snap.images),
            "faces": len(snap.faces),
            "identities": len(snap.view.identities),
            "linked": linked,
            "unlinked": len(snap.faces) - linked,
            "clusters": len(snap.clusters),
            "recognitions": len(snap.recognitions),
            "analysed": len(snap.labels),
        },
        "identities": [dict(i, faces=n) for i, n in _counted(snap)[: SAMPLE_FACES * 2]],
    }


def _counted(snap: Snapshot) -> list[tuple[dict, int]]:
    counts = snap.view.face_counts()
    return [(identity, counts[identity["id"]]) for identity in snap.identities_by_name()]


def images(snap: Snapshot, key: str, number: int) -> dict:
    ids = list(snap.images)
    paging = Paging.of(ids, number)
    return {"paging": paging, "photos": [photo(snap, key, image) for image in paging.items]}


def image(snap: Snapshot, key: str, id: str, number: int = 1, size_of: Callable | None = None) -> dict:
    """An image, or page `number` (counted from 1) of a multi-page one, or the `number`th frame of
    a video that faces are on; `size_of(image, picture)` tells the size of a page after the first."""
    if id not in snap.images:
        raise NotFound(f"no image {id} in this dataset")
    record = snap.images[id]
    pictures = pictures_of(snap, id)
    pages = len(pictures)
    if not 1 <= number <= pages:
        raise NotFound(f"image {id} has no page {number}")
    picture = pictures[number - 1]
    size = size_of(id, picture) if picture.page and size_of else None
    faces = snap.faces_of.get(id, [])
    return {
        "photo": photo(snap, key, id, "views", numbered=True, picture=picture, size=size),
        "record": record,
        "faces": [face_card(snap, f) for f in faces if Picture.of(f) == picture],
        "identities": snap.identities_by_name(),
        "pages": [
            {
                "number": n,
                "label": p.label() if p.time is not None else "",
                "faces": sum(Picture.of(f) == p for f in faces),
                "current": n == number,
            }
            for n, p in enumerate(pictures, 1)
        ]
        if pages > 1
        else [],
    }


def faces(snap: Snapshot, wanted: dict[str, str], number: int) -> dict:
    """Faces by identity (an id, or "none" for faces of nobody), cluster (id or label) and
    attribute ("name:value"), in the order of their photos."""
    identity, cluster, attribute = (wanted.get(k) or "" for k in FILTERS)
    chosen = [f for image in snap.images for f in snap.faces_of.get(image, [])]
    title = []
    if identity == "none":
        chosen = [f for f in chosen if f["id"] not in snap.view.face_identity]
        title.append("of nobody known")
    elif identity:
        found = snap.identity(identity)
        if found is None:
            raise NotFound(f"no identity {identity} in this dataset")
        chosen = [f for f in chosen if snap.view.face_identity.get(f["id"]) == identity]
        title.append(f"of {found['name']}")
    if cluster:
        found = snap.cluster(cluster)
        if found is None:
            raise NotFound(f"no cluster {cluster} in the current clustering")
        members = set(found["faces"])
        chosen = [f for f in chosen if f["id"] in members]
        title.append(f"in cluster {found['label']}")
    if attribute:
        name, _, value = attribute.partition(":")
        chosen = [f for f in chosen if snap.labels.get(f["id"], {}).get(name) == value]
        title.append(f"with {name} {value}")
    paging = Paging.of(chosen, number)
    values: dict[str, set[str]] = {}
    for labels in snap.labels.values():
        for name, value in labels.items():
            values.setdefault(name, set()).add(value)
    return {
        "paging": paging,
        "cards": [face_card(snap, f) for f in paging.items],
        "filter": {"identity": identity, "cluster": cluster, "attribute": attribute},
        "title": ", ".join(title),
        "identities": snap.identities_by_name(),
        "clusters": [c for c in snap.clusters[:CLUSTERS_LISTED] if c["size"] > 1],
        "attributes": [{"name": n, "values": sorted(v)} for n, v in sorted(values.items())],
    }


def face(
    snap: Snapshot, key: str, id: str, nearest: list[dict], proposal: dict | None, size_of: Callable | None = None
) -> dict:
    """A face, its photo shown at the picture (the page) it is on."""
    if id not in snap.faces:
        raise NotFound(f"no face {id} in this dataset")
    record = snap.faces[id]
    picture = Picture.of(record)
    size = size_of(record["image"], picture) if picture.page and size_of else None
    return {
        "card": face_card(snap, record),
        "record": record,
        "photo": photo(snap, key, record["image"], "views", picture=picture, size=size),
        "identities": snap.identities_by_name(),
        "matches": [_match(snap, m) for m in snap.matches_of.get(id, [])],
        "nearest": [_match(snap, m) for m in nearest],
        "proposal": proposal,
    }


def _match(snap: Snapshot, match: dict) -> dict:
    candidate = snap.faces.get(match["candidate"])
    return {
        "candidate": face_card(snap, candidate) if candidate else None,
        "distance": match.get("distance"),
        "threshold": match.get("threshold"),
        "metric": match.get("metric"),
        "within": (match.get("distance") or 0) <= (match.get("threshold") or 0),
        **shown_rate(match),
    }


def identities(snap: Snapshot, number: int) -> dict:
    paging = Paging.of(_counted(snap), number)
    rows = []
    for identity, count in paging.items:
        sample = snap.faces_of_identity(identity["id"])[:SAMPLE_FACES]
        rows.append({**identity, "faces": count, "sample": [face_card(snap, f) for f in sample]})
    return {"paging": paging, "rows": rows}


def identity(snap: Snapshot, id: str, number: int) -> dict:
    found = snap.identity(id)
    if found is None:
        raise NotFound(f"no identity {id} in this dataset")
    members = snap.faces_of_identity(id)
    members.sort(key=lambda f: (snap.images[f["image"]].get("ts", ""), f["image"], f["id"]))
    paging = Paging.of(members, number)
    return {
        "identity": found,
        "paging": paging,
        "cards": [face_card(snap, f) for f in paging.items],
        "others": [i for i in snap.identities_by_name() if i["id"] != id],
        "rejected": sum(1 for _, i in snap.view.rejected if i == id),
    }


def open_proposals(snap: Snapshot, proposals: list[dict]) -> list[dict]:
    """The proposals still open: face and identity live, the face of nobody yet, the pair not rejected."""
    return [
        p
        for p in proposals
        if p["face"] in snap.faces
        and p["identity"] in snap.view.identities
        and p["face"] not in snap.view.face_identity
        and (p["face"], p["identity"]) not in snap.view.rejected
        and p.get("candidate") in snap.faces
    ]


def proposals(snap: Snapshot, proposals: list[dict], computed: float, number: int) -> dict:
    still = open_proposals(snap, proposals)
    paging = Paging.of(still, number)
    rows = []
    for p in paging.items:
        rows.append(
            {
                "face": face_card(snap, snap.faces[p["face"]]),
                "identity": snap.identity(p["identity"]),
                "candidate": face_card(snap, snap.faces[p["candidate"]]),
                "distance": p["distance"],
                "threshold": p["threshold"],
                "metric": p["metric"],
                **shown_rate(p),
            }
        )
    return {"paging": paging, "rows": rows, "computed": computed, "settled": len(proposals) - len(still)}


def best_match(snap: Snapshot, face: str) -> dict | None:
    """A face's nearest stored match of an identity it is not known to be, nor rejected for."""
    current, rejected = snap.view.face_identity.get(face), set(snap.rejected_of.get(face, ()))
    for match in snap.matches_of.get(face, []):
        identity = snap.view.face_identity.get(match["candidate"])
        if identity and identity != current and identity not in rejected:
            return {**_match(snap, match), "identity": snap.identity(identity)}
    return None


def recognition(snap: Snapshot, id: str) -> dict:
    if id not in snap.images:
        raise NotFound(f"no image {id} in this dataset")
    faces = [{"card": face_card(snap, f), "best": best_match(snap, f["id"])} for f in snap.faces_of.get(id, [])]
    return {"image": snap.images[id], "name": snap.image_name(id), "faces": faces}


def recognitions(snap: Snapshot, key: str, number: int) -> dict:
    paging = Paging.of(list(snap.recognitions), number)
    rows = []
    for image in paging.items:
        cards = [face_card(snap, f) for f in snap.faces_of.get(image, [])]
        best = {}
        for card in cards:
            for match in snap.matches_of.get(card["id"], [])[:1]:
                best[card["id"]] = snap.identity(match.get("identity"))
        rows.append(
            {
                "photo": photo(snap, key, image),
                "record": snap.images[image],
                "when": snap.recognitions[image],
                "faces": cards,
                "best": best,
            }
        )
    return {"paging": paging, "rows": rows}
