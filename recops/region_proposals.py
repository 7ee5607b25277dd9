"""Proposals from the face regions people drew in other tools (source "xmp").

A photo tagged in digiKam, Lightroom or darktable comes with named regions (regions.py, kept on
its image record at import). Each detected face that a region covers (intersection over union
at least `min_overlap`) is proposed for the region's name: the identity of that name, made when
the proposal is applied if there is none. Each face and each region of a photo is used once,
best overlaps first, and a name once per photo. Nothing is proposed for a face that has an
identity, a pair a person unlinked or rejected, an identity the photo shows already, or a photo
of a recognition.
"""

from __future__ import annotations

from .deletions import Deletions
from .faces import Detections, FaceCatalog
from .identities import IdentityView
from .images import ImageCatalog
from .records import timestamp
from .regions import overlap
from .store.dataset import Dataset

SOURCE = "xmp"
MIN_OVERLAP = 0.3
"""Regions drawn by hand frame a face more loosely than a detector's box (the forehead, the
hair): a third of their union in common is the same face; two faces side by side share none."""


def region_proposals(dataset: Dataset, min_overlap: float = MIN_OVERLAP, excluded: tuple[str, ...] = ()) -> list[dict]:
    """A proposal for each face of the dataset that a named region of its photo covers."""
    view = IdentityView.of(dataset)
    deletions = Deletions.of(dataset)
    latest = Detections.of(dataset).latest
    faces = FaceCatalog.of(dataset)
    proposals = []
    for image in ImageCatalog.of(dataset):
        id = image["id"]
        if not image.get("regions") or image.get("query") or deletions.hides(image=id) or id not in latest:
            continue
        found = [faces.get(f) for f in latest[id].get("faces", ())]
        # a region is of the first picture of a multi-page image: faces of the others are not its
        found = [f for f in found if f is not None and not f.get("page") and not deletions.hides(f["id"], id)]
        pairs = sorted(
            ((overlap(f["box"], r["box"]), f["id"], n) for f in found for n, r in enumerate(image["regions"])),
            key=lambda pair: (-pair[0], pair[1], pair[2]),
        )
        used_faces: set[str] = set()
        used_regions: set[int] = set()
        names: set[str] = set()
        for share, face, number in pairs:
            if share < min_overlap:
                break
            if face in used_faces or number in used_regions:
                continue
            used_faces.add(face)
            used_regions.add(number)
            name = image["regions"][number]["name"]
            proposal = _proposal(view, face, id, name, share, excluded)
            if proposal is not None and name not in names:
                names.add(name)
                proposals.append(proposal)
    return proposals


def _proposal(view: IdentityView, face: str, image: str, name: str, share: float, excluded) -> dict | None:
    if face in view.face_identity or name in excluded:
        return None
    identity = view.find(name, prefix=False)
    if identity is not None:
        pair = (face, identity["id"])
        if identity["id"] in excluded or pair in view.decided or view.by_photo.get((image, identity["id"])):
            return None
    return {
        "type": "proposal",
        "face": face,
        "image": image,
        **({"identity": identity["id"]} if identity else {}),
        "identity_name": name,
        "source": SOURCE,
        "overlap": round(share, 3),
        "ts": timestamp(),
    }
