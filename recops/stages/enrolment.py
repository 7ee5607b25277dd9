"""rx-enrol's core: link the one face of each image to an identity, the enrolment of the old imports.

Reads rx-detect's records (image, its faces, its detection). An image must show exactly one
face: that face is linked to the image's identity, and the image, face, identity (when new),
link and detection records pass on. An image with no face or several gets an error record that
says how many (and, with an errors folder, a copy of its file there); its faces are held back,
so the next stage (rx-embed) leaves them be. They stay stored, unlinked, as rx-detect found them.

An identity is named (created when no identity has that name, id or start of an id) or comes
from the image's folder (a folder's name is a name, never a start of an id). A re-run links nothing twice, and leaves alone what a person undid since: a pair that
was unlinked or rejected, a face linked to another identity.
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Iterable

from ..deletions import Deletions
from ..errors import InputError
from ..identities import IdentityEditor
from ..outputs import private_folders
from ..records import warning_record
from ..sources import image_source, read_source
from ..store.atomic import write_atomic
from ..stream import BadInput, Emitter

logger = logging.getLogger("recops")
STAGE = "enrol"
KEPT_DECISIONS = ("rejected", "unlinked")
"""Refusals that respect a person's decision: told as warnings, not failures, so a nightly
re-import does not fail for them."""

IdentityOf = Callable[[dict], "str | None"]
"""The identity (name or id) an image's face belongs to, or None to link nothing; raises
InputError when it cannot tell."""


def named(name_or_id: str | None) -> IdentityOf:
    """One identity for every image (None: check for one face, link nothing)."""
    return lambda image: name_or_id


def from_folder(image: dict) -> str:
    """The name of the folder holding the image: the one this run read it from, else the one
    every path it was imported from agrees on."""
    sources = [image["path"]] if isinstance(image.get("path"), str) else image.get("paths") or []
    folders = sorted({os.path.basename(os.path.dirname(p)) for p in sources} - {""})
    if len(folders) != 1:
        reason = "no path with a folder" if not folders else f"in folders of different names ({', '.join(folders)})"
        raise InputError("no-identity-folder", f"cannot tell the identity from the folder: {reason}")
    return folders[0]


class Enrolment:
    def __init__(self, emitter: Emitter, editor: IdentityEditor, identity_of: IdentityOf,
                 errors_to: str | None = None, errors_in_folders: bool = False,
                 path_of: Callable[[dict], str | None] | None = None, names_only: bool = False):
        """`errors_to`: the folder that receives a copy of each refused image; in a folder named
        after its identity with `errors_in_folders` (as the old identity import did).
        `names_only`: what `identity_of` gives is a name or a whole id (a folder's name), never a
        start of an id."""
        self.emitter = emitter
        self.editor = editor
        self.identity_of = identity_of
        self.names_only = names_only
        self.errors_to = errors_to
        self.errors_in_folders = errors_in_folders
        self.path_of = path_of or (lambda image: (image.get("paths") or [None])[0])
        self.linked = 0
        self._image: dict | None = None
        self._faces: list[dict] = []

    @property
    def deletions(self) -> Deletions:
        return self.editor.deletions

    def run(self, items: Iterable[dict | str | BadInput]) -> None:
        for item in self.deletions.screen(self._records(items), self.emitter, STAGE):
            kind = item.get("type")
            if kind == "image":
                self._release()
                self._image = item
            elif kind == "face" and self._image is not None and item.get("image") == self._image.get("id"):
                self._faces.append(item)
            elif kind == "detection" and self._image is not None and item.get("image") == self._image.get("id"):
                self._enrol(item)
            else:
                self._release()
                self.emitter.emit(item)
        self._release()

    def _records(self, items: Iterable[dict | str | BadInput]) -> Iterable[dict]:
        for item in items:
            if isinstance(item, BadInput):
                self.emitter.bad_input(item)
            elif isinstance(item, str):
                self.emitter.fail(item, STAGE, "rx-enrol reads the records of rx-detect; pipe paths through it first",
                                  "not-a-record")
            else:
                yield item

    def _release(self) -> None:
        """Pass on a held image whose detection did not come (it failed upstream)."""
        if self._image is not None:
            for record in [self._image, *self._faces]:
                self.emitter.emit(record)
        self._image, self._faces = None, []

    def _enrol(self, detection: dict) -> None:
        image, faces = self._image, self._faces
        self._image, self._faces = None, []
        self.emitter.emit(image)
        if len(faces) != 1:
            if not faces and any(f in self.deletions.faces for f in detection.get("faces", ())):
                self._warn(image, "deleted", "its faces were deleted; they stay deleted")
            else:
                self._refuse(image, faces)
            self.emitter.emit(detection)
            return
        self.emitter.emit(faces[0])
        try:
            identity = self._identity(image)
            link = self.editor.link(faces[0], identity["id"], source="enrol") if identity else None
        except InputError as exc:
            if exc.kind in KEPT_DECISIONS:
                self._warn(image, exc.kind, exc.reason)
            else:
                self.emitter.fail(image["id"], STAGE, exc.reason, exc.kind, path=self.path_of(image))
        else:
            if link is not None:
                self.linked += 1
                self.emitter.emit(link)
        self.emitter.emit(detection)

    def _warn(self, image: dict, kind: str, reason: str) -> None:
        logger.warning("%s: %s", self.path_of(image) or image["id"], reason)
        self.emitter.emit(warning_record(image["id"], STAGE, reason, kind))

    def _identity(self, image: dict) -> dict | None:
        wanted = self.identity_of(image)
        if wanted is None:
            return None
        identity, created = self.editor.find_or_create(wanted, prefix=not self.names_only)
        if created:
            self.emitter.emit(identity)
        return identity

    def _refuse(self, image: dict, faces: list[dict]) -> None:
        found = "no face" if not faces else f"{len(faces)} faces"
        path = self.path_of(image)
        copy = self._copy(image, path) if self.errors_to else None
        self.emitter.fail(image["id"], STAGE, f"{path or image['id']}: {found} found; enrolment needs exactly one",
                          "not-one-face", faces=len(faces), path=path, **({"copy": copy} if copy else {}))

    def _copy(self, image: dict, path: str | None) -> str | None:
        """Copy the refused image into the errors folder, under its identity's folder when it has one."""
        try:
            folder = self.errors_to
            if self.errors_in_folders:
                try:
                    folder = os.path.join(folder, os.path.basename(self.identity_of(image) or ""))
                except InputError:
                    pass
            name = os.path.basename(path) if path else f"{image['id']}.{image.get('media_type', 'image/jpeg')[6:]}"
            data = read_source(image_source(image, self.editor.dataset))
            target = os.path.join(folder, name)
            if os.path.exists(target):
                with open(target, "rb") as handle:
                    if handle.read() == data:
                        return target
                stem, ext = os.path.splitext(name)
                target = os.path.join(folder, f"{stem}-{image['id'][:12]}{ext}")
            private_folders(folder)
            write_atomic(target, data, mode=0o600)
            return target
        except (InputError, OSError) as exc:
            logger.error("%s: cannot copy to %s: %s", path or image["id"], self.errors_to, exc)
            return None
