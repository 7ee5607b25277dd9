"""What rx-ls lists: the current view of a dataset's images, faces and identities, deletions honoured."""

from __future__ import annotations

from typing import Iterator

from . import images
from .deletions import Deletions
from .errors import InputError, UsageError
from .faces import FaceCatalog
from .identities import IdentityView
from .photofilter import PhotoFilter
from .store.dataset import Dataset

KINDS = ("datasets", "images", "faces", "identities")


NOBODY = "none"
"""--identity none: faces linked to no identity, and the images that hold one."""


def list_kind(
    dataset: Dataset, kind: str, identity: str | None = None, photos: PhotoFilter = PhotoFilter()
) -> Iterator[dict]:
    """The live images, faces or identities of a dataset; with `identity` (a name, an id, or
    "none"), only the faces of that identity and the images where it appears; with `photos`,
    only the images it keeps."""
    if photos.active and kind != "images":
        raise UsageError("--taken-after, --taken-before, --near and --camera choose images; give KIND images")
    deletions = Deletions.of(dataset)
    filtering = identity is not None
    # Images alone need no identities: a plain listing of them reads no identity or link records.
    view = IdentityView.of(dataset) if filtering or kind != "images" else None
    wanted = _wanted(view, identity) if filtering else None
    if filtering and kind not in ("images", "faces"):
        raise UsageError("--identity chooses faces and images; give KIND faces or images")
    if kind == "images":
        shown = {f["image"] for f in _faces(dataset, deletions, view) if f["identity"] == wanted} if filtering else None
        for image in images.ImageCatalog.of(dataset):
            if (
                not deletions.hides(image=image["id"])
                and (shown is None or image["id"] in shown)
                and (not photos.active or photos.keeps(image))
            ):
                yield image | {"dataset": dataset.root}
    elif kind == "faces":
        for face in _faces(dataset, deletions, view):
            if not filtering or face["identity"] == wanted:
                yield face
    elif kind == "identities":
        counts = view.face_counts()
        for id, record in view.identities.items():
            yield record | {"faces": counts[id]}
    else:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")


def _wanted(view: IdentityView, identity: str) -> str | None:
    """The identity id the faces must carry: None for --identity none."""
    if identity == NOBODY:
        return None
    try:
        found = view.find(identity)
    except InputError as exc:
        raise UsageError(f"--identity: {exc.reason}") from None
    if found is None:
        raise UsageError(f"--identity: no identity {identity!r} (rx-ls identities lists them; 'none' means nobody)")
    return found["id"]


def _faces(dataset: Dataset, deletions: Deletions, view: IdentityView) -> Iterator[dict]:
    for face in FaceCatalog.of(dataset):
        if not deletions.hides(face["id"], face.get("image")):
            identity = view.identity_of(face["id"])
            yield face | {
                "dataset": dataset.root,
                "identity": identity["id"] if identity else None,
                "identity_name": identity.get("name") if identity else None,
            }
