"""dataset-export: a dataset as plain files anyone can open, in one zip.

images/<image id>.<jpg|png|...>     every image, as imported
identities/<name>/<face id>.jpg     the faces of each identity, cropped
faces/<face id>.jpg                 the faces of nobody yet (as the original recops did)
"""

from __future__ import annotations

import os
import re
import zipfile

from . import images
from .crops import crop, jpeg
from .deletions import Deletions
from .faces import FaceCatalog
from .identities import IdentityView
from .imageinfo import EXTENSIONS
from .outputs import atomic_output
from .pixels import face_pictures
from .records import timestamp
from .store.dataset import Dataset


def safe_name(name: str, fallback: str) -> str:
    """A folder name from an identity name: no separators, no dot-dot, nothing unprintable."""
    cleaned = re.sub(r"[\x00-\x1f/\\]+", "_", name).strip().strip(".")
    return cleaned[:120] or fallback


def export(dataset: Dataset, output: str) -> dict:
    """Write the zip (atomically) and return an export record with counts."""
    deleted = Deletions.of(dataset)
    catalog = images.ImageCatalog.of(dataset)
    identities = IdentityView.of(dataset)
    faces_by_image: dict[str, list[dict]] = {}
    for face in FaceCatalog.of(dataset):
        if not deleted.hides(face=face["id"], image=face["image"]):
            faces_by_image.setdefault(face["image"], []).append(face)
    folders: dict[str, str] = {}
    for id, identity in sorted(identities.identities.items()):
        name = safe_name(identity.get("name", ""), id)
        folders[id] = name if name not in folders.values() else f"{name}-{id[:8]}"
    counts = {"images": 0, "faces": 0, "identity_faces": 0}
    with atomic_output(output) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for image in catalog:
            if deleted.hides(image=image["id"]) or not dataset.objects.has(image["id"]):
                continue
            data = dataset.objects.read(image["id"])
            archive.writestr(f"images/{image['id']}.{EXTENSIONS.get(image['media_type'], 'bin')}", data)
            counts["images"] += 1
            faces = faces_by_image.get(image["id"], [])
            if not faces:
                continue
            for indices, pixels, on in face_pictures(data, faces):
                for face, scaled in zip((faces[i] for i in indices), on):
                    cropped = jpeg(crop(pixels, scaled["box"], max_side=None))
                    identity = identities.face_identity.get(face["id"])
                    if identity:
                        archive.writestr(f"identities/{folders[identity]}/{face['id']}.jpg", cropped)
                        counts["identity_faces"] += 1
                    else:
                        archive.writestr(f"faces/{face['id']}.jpg", cropped)
                        counts["faces"] += 1
    return {"type": "export", "dataset": dataset.root, "file": os.path.abspath(output), **counts, "ts": timestamp()}
