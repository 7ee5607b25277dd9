"""What rx-ls lists: the current view of a dataset's images, faces and identities, deletions honoured."""

from __future__ import annotations

from typing import Iterator

from . import images
from .deletions import Deletions
from .faces import FaceCatalog
from .identities import IdentityView
from .store.dataset import Dataset

KINDS = ("datasets", "images", "faces", "identities")


def list_kind(dataset: Dataset, kind: str) -> Iterator[dict]:
    deletions = Deletions.of(dataset)
    if kind == "images":
        for image in images.ImageCatalog(dataset.log(images.LOG).records()):
            if not deletions.hides(image=image["id"]):
                yield image | {"dataset": dataset.root}
    elif kind == "faces":
        view = IdentityView.of(dataset, deletions)
        for face in FaceCatalog(dataset):
            if not deletions.hides(face["id"], face.get("image")):
                identity = view.identity_of(face["id"])
                yield face | {"dataset": dataset.root, "identity": identity["id"] if identity else None,
                              "identity_name": identity.get("name") if identity else None}
    elif kind == "identities":
        view = IdentityView.of(dataset, deletions)
        counts = view.face_counts()
        for id, identity in view.identities.items():
            yield identity | {"faces": counts[id]}
    else:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
