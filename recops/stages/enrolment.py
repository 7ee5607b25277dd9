"""rx-enrol's core: link the one face of each image to an identity, the enrolment of the old imports.

Reads rx-detect's records (image, its faces, its detection). An image must show exactly one
face: that face is linked to the image's identity, and the image, face, identity (when new),
link and detection records pass on. An image with no face or several gets an error record that
says how many (and, with an errors folder, a copy of its file there); its faces are held back,
so the next stage (rx-embed) leaves them be. They stay stored, unlinked, as rx-detect found them.

An identity is named (created when no identity has that name, id or start of an id) or comes
from the image's folder (a folder's name is a name, never a start of an id). A re-run links
nothing twice, and leaves alone what a person undid since: a pair that was unlinked or
rejected, a face linked to another identity.
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Iterable, Iterator

from ..deletions import Deletions
from ..errors import InputError
from ..identities import IdentityEditor
from ..outputs import private_folders
from ..records import warning_record
from ..sources import image_source, read_source
from ..store.atomic import write_atomic
from ..stream import Emitter
from .base import Passing, Stage, refuse_paths

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


class Enrolment(Stage):
    """Feed it rx-detect's records: each image with exactly one face gets that face linked to its
    identity; an image with none or several is refused (and copied to `errors_to`)."""

    stage = STAGE
    tool = "rx-enrol"

    def __init__(
        self,
        emitter: Emitter,
        editor: IdentityEditor,
        identity_of: IdentityOf,
        errors_to: str | None = None,
        errors_in_folders: bool = False,
        path_of: Callable[[dict], str | None] | None = None,
        names_only: bool = False,
    ):
        """`errors_to`: the folder that receives a copy of each refused image; in a folder named
        after its identity with `errors_in_folders` (as the old identity import did).
        `names_only`: what `identity_of` gives is a name or a whole id (a folder's name), never a
        start of an id."""
        super().__init__(emitter)
        self.editor = editor
        self.identity_of = identity_of
        self.names_only = names_only
        self.errors_to = errors_to
        self.errors_in_folders = errors_in_folders
        self.path_of = path_of or (lambda image: (image.get("paths") or [None])[0])
        self.linked = 0

    @property
    def deletions(self) -> Deletions:
        return self.editor.deletions

    def path(self, path: str) -> Iterable[dict]:
        return refuse_paths(self.emitter, STAGE, self.tool, "the records of rx-detect")(path)

    def units(self, records: Iterable[dict]) -> Iterator:
        """An image with its faces and its detection; the rest (an image whose detection did not
        come, as it failed upstream) passes."""
        image, faces = None, []
        for record in self.deletions.screen(records, self.emitter, STAGE):
            kind = record.get("type")
            if kind == "image":
                yield from _passing(image, faces)
                image, faces = record, []
            elif kind == "face" and image is not None and record.get("image") == image.get("id"):
                faces.append(record)
            elif kind == "detection" and image is not None and record.get("image") == image.get("id"):
                yield image, faces, record
                image, faces = None, []
            else:
                yield from _passing(image, faces)
                image, faces = None, []
                yield Passing(record)
        yield from _passing(image, faces)

    def finish(self, unit: tuple[dict, list[dict], dict], result: None) -> None:
        self._enrol(*unit)

    def _enrol(self, image: dict, faces: list[dict], detection: dict) -> None:
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
        self.emitter.fail(
            image["id"],
            STAGE,
            f"{path or image['id']}: {found} found; enrolment needs exactly one",
            "not-one-face",
            faces=len(faces),
            path=path,
            **({"copy": copy} if copy else {}),
        )

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


def _passing(image: dict | None, faces: list[dict]) -> Iterator[Passing]:
    if image is not None:
        for record in [image, *faces]:
            yield Passing(record)
