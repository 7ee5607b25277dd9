"""The old recops imports, each one process: rx-import | rx-detect [| rx-enrol] | rx-embed.

    import_images      every face of every image, linked to nobody
    import_faces       one face per image, each linked to one identity (or to none)
    import_identities  one folder per identity: each image's one face linked to the identity
                       named after its folder (created when missing)

Files go through the stages in batches. Every stage stores as it goes and is memoised, so after
Ctrl-C a re-run skips what is done and finishes the rest. Images and faces that a person deleted
stay deleted: they are told as warnings and go no further.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from ..deletions import Deletions
from ..errors import InputError, UsageError
from ..identities import IdentityEditor
from ..inputs import walk_files
from ..outputs import open_private
from ..store.dataset import Dataset, is_dataset
from ..stream import Emitter
from .chain import Chain
from .detection import DetectOptions, FaceDetection
from .embedding import EmbedOptions, FaceEmbedding
from .enrolment import Enrolment
from .importing import Importer

logger = logging.getLogger("recops")
STAGE = "import"
BATCH = 256
"""Files per batch: a batch is what a Ctrl-C can cost; each one starts the worker processes anew."""
OBJECT_KINDS = {"image": "Image", "face": "Face", "identity": "Identity"}
"""Kinds of objects as the old --output-objects named them."""


@dataclass(frozen=True)
class ImportOptions:
    consent: bool | None = None
    align: bool = True
    force: bool = False
    workers: int = 1
    errors_to: str | None = None
    """With an enrolment: a copy of each image without exactly one face goes here."""


def files_of(target: str) -> Iterator[str]:
    if not os.path.exists(target):
        raise UsageError(f"{target}: no such file or folder")
    if not os.path.isdir(target):
        yield target
        return
    yield from walk_files(target, prune=is_dataset)


def identity_files(target: str) -> Iterator[tuple[str, str]]:
    """(file, identity name) for every file in the identity folders under `target`."""
    if not os.path.isdir(target):
        raise UsageError(f"{target}: not a folder (give the folder that holds one folder per identity)")
    loose = 0
    for name in sorted(os.listdir(target)):
        path = os.path.join(target, name)
        if name.startswith(".") or is_dataset(path):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            for found in walk_files(path, prune=is_dataset):
                yield found, name
        else:
            loose += 1
    if loose:
        logger.warning(
            "%s: %d entries beside the identity folders (files, links to folders): not imported", target, loose
        )


class CreatedObjects:
    """The objects a run stored, as rows (kind, id, path) for the old --output-objects.

    An object is new when its record is no older than the run: reused detections and known
    images keep the time they were first stored."""

    def __init__(self, since: str, write: Callable[[dict], None]):
        self.since = since
        self.write = write

    def see(self, record: dict, path: str | None) -> None:
        kind = OBJECT_KINDS.get(record.get("type"))
        if kind and record.get("ts", "") >= self.since and not record.get("deleted"):
            self.write({"kind": kind, "id": record["id"], "path": path})


OBJECT_FORMATS = ("csv", "jsonl")


@contextlib.contextmanager
def objects_file(path: str, fmt: str = "csv") -> Iterator[Callable[[dict], None]]:
    """Append object rows to `path`: `kind,id,path` lines without a header, as the old recops
    wrote them, or JSON lines."""
    if fmt not in OBJECT_FORMATS:
        raise UsageError(f"unknown --output-format {fmt!r}; choose from {', '.join(OBJECT_FORMATS)}")
    with open_private(path, "a", label="--output-objects", newline="") as handle:
        if fmt == "csv":
            writer = csv.writer(handle, lineterminator="\n")
            yield lambda row: writer.writerow([row["kind"], row["id"], row["path"] or ""])
        else:
            yield lambda row: handle.write(json.dumps(row) + "\n")


class _Screening:
    def __init__(self, emitter: Emitter, deletions: Deletions):
        self.emitter = emitter
        self.deletions = deletions

    def run(self, items: Iterable[dict]) -> None:
        for record in self.deletions.screen(items, self.emitter, STAGE):
            self.emitter.emit(record)


def import_images(
    dataset: Dataset,
    target: str,
    out: Emitter,
    options: ImportOptions = ImportOptions(),
    objects: CreatedObjects | None = None,
) -> None:
    """Every image under `target` with all its faces, linked to nobody."""
    _run(dataset, ((path, None) for path in files_of(target)), out, options, None, objects)


def import_faces(
    dataset: Dataset,
    target: str,
    out: Emitter,
    options: ImportOptions = ImportOptions(),
    identity: str | None = None,
    objects: CreatedObjects | None = None,
) -> None:
    """Images of one face each; with `identity` (a name or id that must exist), each face is linked to it."""
    editor = IdentityEditor(dataset)
    if identity is not None:
        try:
            identity = editor.require(identity)["id"]
        except InputError as exc:
            raise UsageError(f"{exc.reason} (create it with identity-create)") from None
    _run(dataset, ((path, identity) for path in files_of(target)), out, options, editor, objects)


def import_identities(
    dataset: Dataset,
    target: str,
    out: Emitter,
    options: ImportOptions = ImportOptions(),
    objects: CreatedObjects | None = None,
) -> None:
    """One folder per identity: each image's one face linked to the identity named after its folder."""
    _run(dataset, identity_files(target), out, options, IdentityEditor(dataset), objects, from_folders=True)


def _run(
    dataset: Dataset,
    files: Iterable[tuple[str, str | None]],
    out: Emitter,
    options: ImportOptions,
    editor: IdentityEditor | None,
    objects: CreatedObjects | None,
    from_folders: bool = False,
) -> None:
    """Import (file, identity) pairs; with an editor, enrol each file's one face to its identity
    (`from_folders`: the identity is its folder's name)."""
    path_of: dict[str, str] = {}
    identities_of: dict[str, set[str | None]] = {}

    def identity_of(image: dict) -> str | None:
        (identity, *others) = sorted(identities_of.get(image["id"], {None}), key=str)
        if others:
            raise InputError("ambiguous-identity", f"the same photo is in the folders of {identity} and {others[0]}")
        return identity

    chain = Chain()
    chain.add(
        lambda e: FaceDetection(
            e, DetectOptions(dataset.config.detector, options.align), dataset, options.workers, options.force
        )
    )
    if editor is not None:
        chain.add(
            lambda e: Enrolment(
                e,
                editor,
                identity_of,
                errors_to=options.errors_to,
                errors_in_folders=from_folders,
                path_of=lambda image: path_of.get(image["id"]),
                names_only=from_folders,
            )
        )
    else:
        chain.add(lambda e: _Screening(e, Deletions.of(dataset)))
    chain.add(
        lambda e: FaceEmbedding(
            e, EmbedOptions(dataset.config.model, dataset.config.flip), dataset, options.workers, options.force
        )
    )

    imported: list[dict] = []
    with Importer(dataset, Emitter(imported.append), options.consent) as importer:
        for batch in _batches(files, BATCH):
            for path, identity in batch:
                start = len(imported)
                importer.add_path(path)
                for record in imported[start:]:
                    if record.get("type") == "image":
                        path_of[record["id"]] = os.path.abspath(path)
                        identities_of.setdefault(record["id"], set()).add(identity)
            current = None
            for record in chain.run(imported):
                if record.get("type") == "image":
                    current = path_of.get(record["id"])
                if objects:
                    objects.see(record, current)
                out.emit(record)
            imported.clear()


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
