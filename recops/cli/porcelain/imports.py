"""recops dataset-import-images, dataset-import-faces and dataset-import-identities: the
original's imports, each rx-import | rx-detect [| rx-enrol] | rx-embed in one process."""

import contextlib
import sys
from typing import Annotated, Optional

import typer

from ...records import timestamp
from ...stages.folder_imports import (
    CreatedObjects,
    ImportOptions,
    import_faces,
    import_identities,
    import_images,
    objects_file,
)
from ...store.dataset import Dataset, locate
from .. import common, table
from ..pipeline import JobsOpt, jobs
from .shared import DatasetArg, app, run

TargetArg = Annotated[str, typer.Argument(metavar="TARGET_PATH", help="Image file or folder (walked).")]
ConsentOpt = Annotated[
    Optional[bool], typer.Option("--consent/--no-consent", help="Record that the people shown consented (or not).")
]
AlignOpt = Annotated[bool, typer.Option("--align/--no-align", help="Align faces by their landmarks before embedding.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Detect and embed again what the dataset has already.")]
OutputErrorsOpt = Annotated[
    Optional[str], typer.Option(metavar="DIR", help="Copy each image without exactly one face into DIR.")
]
OutputObjectsOpt = Annotated[
    Optional[str],
    typer.Option(
        metavar="FILE",
        help="Append the objects this run stored (images, faces, identities) to FILE: kind,id,path lines.",
    ),
]
OutputFormatOpt = Annotated[
    str, typer.Option(metavar="csv|jsonl", help="Format of --output-objects: csv (kind,id,path, no header) or jsonl.")
]


def _import(name: str, root: str, output_objects: str | None, output_format: str, call) -> None:
    """Run one import: records on stdout, or on a terminal a table of the objects it stored."""
    show_table = common.stdout_is_terminal()
    with run(name) as out:
        rows: list[dict] = []
        with contextlib.ExitStack() as stack:
            writers = [rows.append] if show_table else []
            if output_objects:
                writers.append(stack.enter_context(objects_file(output_objects, output_format)))
            objects = CreatedObjects(timestamp(), lambda row: [write(row) for write in writers])
            dataset = stack.enter_context(Dataset.open(locate(root)))
            sink = stack.enter_context(common.counted(name)) if show_table else out
            call(dataset, sink, objects)
            if sink is not out:
                out.failures += sink.failures
        if show_table:
            sys.stdout.write(table.render(rows, table.COLUMNS["objects"]))


@app.command("dataset-import-images")
def dataset_import_images(
    target_path: TargetArg,
    root: DatasetArg,
    consent: ConsentOpt = None,
    align: AlignOpt = True,
    force: ForceOpt = False,
    output_objects: OutputObjectsOpt = None,
    output_format: OutputFormatOpt = "csv",
    workers: JobsOpt = None,
) -> None:
    """Import images and find their faces, linked to nobody (rx-import | rx-detect | rx-embed).

    Only JPEG and PNG are imported (told by content); anything else is an error record. Stop
    at any time with Ctrl-C: what is done is stored, and a re-run picks up from there. Images
    and faces that were deleted stay deleted. Writes the records of every stage on stdout; on a
    terminal, a table of the objects stored.
    """
    _import(
        "dataset-import-images",
        root,
        output_objects,
        output_format,
        lambda dataset, out, objects: import_images(
            dataset, target_path, out, ImportOptions(consent, align, force, jobs(workers)), objects
        ),
    )


@app.command("dataset-import-faces")
def dataset_import_faces(
    target_path: TargetArg,
    root: DatasetArg,
    consent: ConsentOpt = None,
    identity_id: Annotated[
        Optional[str],
        typer.Option(
            metavar="IDENTITY_ID",
            help=(
                "Link every face to this identity (an id or a unique start of it, or a name; create it with "
                "identity-create)."
            ),
        ),
    ] = None,
    align: AlignOpt = True,
    force: ForceOpt = False,
    output_errors: OutputErrorsOpt = None,
    output_objects: OutputObjectsOpt = None,
    output_format: OutputFormatOpt = "csv",
    workers: JobsOpt = None,
) -> None:
    """Import photos of one face each, linked to an identity if given (rx-import | rx-detect | rx-enrol | rx-embed).

    An image with no face or several is an error record (and a copy in --output-errors); it stays
    in the dataset, its faces unlinked and not embedded. Stop at any time with Ctrl-C: what is
    done is stored, and a re-run picks up from there without linking anything twice.
    """
    _import(
        "dataset-import-faces",
        root,
        output_objects,
        output_format,
        lambda dataset, out, objects: import_faces(
            dataset,
            target_path,
            out,
            ImportOptions(consent, align, force, jobs(workers), output_errors),
            identity_id,
            objects,
        ),
    )


@app.command("dataset-import-identities")
def dataset_import_identities(
    target_path: Annotated[
        str, typer.Argument(metavar="TARGET_PATH", help="Folder holding one folder per identity, each named after it.")
    ],
    root: DatasetArg,
    consent: ConsentOpt = None,
    align: AlignOpt = True,
    force: ForceOpt = False,
    output_errors: Annotated[
        Optional[str], typer.Option(metavar="DIR", help="Copy each image without exactly one face into DIR/IDENTITY.")
    ] = None,
    output_objects: OutputObjectsOpt = None,
    output_format: OutputFormatOpt = "csv",
    workers: JobsOpt = None,
) -> None:
    """Import one folder per identity: each photo's one face linked to the identity named after its folder.

    Identities are created when no identity has the folder's name. Files beside the folders are
    not imported. An image with no face or several is an error record (and a copy in
    --output-errors/IDENTITY). Stop at any time with Ctrl-C: what is done is stored, and a re-run
    picks up from there without linking anything twice; links a person undid since stay undone.
    """
    _import(
        "dataset-import-identities",
        root,
        output_objects,
        output_format,
        lambda dataset, out, objects: import_identities(
            dataset, target_path, out, ImportOptions(consent, align, force, jobs(workers), output_errors), objects
        ),
    )
