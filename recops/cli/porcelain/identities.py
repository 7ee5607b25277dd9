"""recops identity-*, face-delete, image-delete, dataset-delete, dataset-match-faces and
dataset-link-matched-faces: the original's functions over identities and deletions."""

import os
from typing import Annotated, Optional

import typer

from ...deletions import Deleter, remove_dataset
from ...errors import InputError, UsageError
from ...identities import IdentityEditor
from ...outputs import open_private
from ...report import ReportOptions, gather, write_report
from ...review import ReviewOptions, link_matched_faces, match_faces, read_csv, write_csv
from ...shards import open_shards, roots_of
from ...store.dataset import Dataset, locate
from ..common import DatasetListOpt, MaxFalseAlarmOpt, MinQualityOpt
from ..match import names
from ..review import ProposalThresholdOpt
from .shared import DatasetArg, DatasetsArg, app, dataset_location, output_form, run, show

IdentityIdArg = Annotated[
    str, typer.Argument(metavar="IDENTITY_ID", help="Identity id, a unique start of it, or a name.")
]
FaceIdArg = Annotated[str, typer.Argument(metavar="FACE_ID", help="Face id, or a unique start of it.")]


def _edit(name: str, root: str, operation) -> None:
    """Run one operation on a dataset's identities or deletions and write its record."""
    with run(name) as out:
        with Dataset.open(locate(root)) as dataset:
            try:
                out.emit(operation(dataset))
            except InputError as exc:
                raise UsageError(exc.reason) from None


@app.command("identity-create")
def identity_create(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Name of the identity: a person, a team, anything a case needs.")
    ],
    root: DatasetArg,
    color: Annotated[
        Optional[str],
        typer.Option(
            "--color",
            metavar="COLOR",
            help=(
                "Colour of the identity in reports [default: one of ten that no identity has yet, else one of the "
                "least used]."
            ),
        ),
    ] = None,
    description: Annotated[str, typer.Option(metavar="TEXT", help="What the identity stands for.")] = "",
) -> None:
    """Create an identity (rx-identity create); one of that name already there is kept, with a warning."""
    _edit(
        "identity-create",
        root,
        lambda dataset: IdentityEditor(dataset).create(name, description, color, reuse_name=True),
    )


@app.command("identity-link")
def identity_link(
    identity_id: IdentityIdArg,
    face_id: FaceIdArg,
    root: DatasetArg,
) -> None:
    """Link a face to an identity (rx-identity link)."""
    _edit("identity-link", root, lambda dataset: IdentityEditor(dataset).link(face_id, identity_id))


@app.command("identity-delete")
def identity_delete(identity_id: IdentityIdArg, root: DatasetArg) -> None:
    """Delete an identity; its faces stay, linked to nobody (rx-identity delete)."""
    _edit("identity-delete", root, lambda dataset: IdentityEditor(dataset).delete(identity_id))


@app.command("face-delete")
def face_delete(face_id: FaceIdArg, root: DatasetArg) -> None:
    """Delete a face for good; rx-gc reclaims the space (rx-delete)."""
    _edit("face-delete", root, lambda dataset: Deleter(dataset).delete(face_id, "face"))


@app.command("image-delete")
def image_delete(
    image_id: Annotated[str, typer.Argument(metavar="IMAGE_ID", help="Image id, or a unique start of it.")],
    root: DatasetArg,
) -> None:
    """Delete an image and its faces for good; rx-gc reclaims the space (rx-delete)."""
    _edit("image-delete", root, lambda dataset: Deleter(dataset).delete(image_id, "image"))


@app.command("dataset-delete")
def dataset_delete(
    root: Annotated[
        str,
        typer.Argument(
            metavar="DATASET",
            parser=dataset_location,
            help="Dataset name (under $RECOPS_HOME), directory, or id (as dataset-list shows it).",
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Really delete: required, as nothing asks.")] = False,
) -> None:
    """Delete a dataset: its directory, images, faces and identities, all of it.

    Refuses a folder that is not a dataset or that holds files recops did not write, and waits
    for no one: it fails when another recops process uses the dataset.
    """
    with run("dataset-delete") as out:
        if not yes:
            raise UsageError("deleting a dataset cannot be undone; give --yes")
        out.emit({"type": "dataset", "path": remove_dataset(locate(root)), "deleted": True})


@app.command("dataset-match-faces")
def dataset_match_faces(
    roots: DatasetsArg,
    output: Annotated[
        Optional[str],
        typer.Option(
            "-o",
            "--output",
            metavar="FILE",
            help=(
                "Write the proposals to FILE: as CSV (face_id, identity_id, identity_name, distance, threshold, "
                "matched_face_id), or, for a FILE ending in .html, as rx-report's review sheet."
            ),
        ),
    ] = None,
    threshold: ProposalThresholdOpt = None,
    exclude_identities: Annotated[
        Optional[str], typer.Option(metavar="IDS", help="Comma-separated identity ids (or names) never proposed.")
    ] = None,
    max_false_alarm: MaxFalseAlarmOpt = None,
    min_quality: MinQualityOpt = None,
    listing: DatasetListOpt = None,
) -> None:
    """Propose an identity for every face without one: that of its nearest identified face (rx-review propose).

    Review the CSV (delete the wrong rows) and give it to dataset-link-matched-faces. Two faces
    of one photo are never proposed for one identity; rejected pairs are never proposed.
    """
    with run("dataset-match-faces") as out:
        form = output_form(output, "csv")
        roots = roots_of(roots, listing)
        with Dataset.open(locate(roots[0])) as dataset, open_shards(dataset, roots[1:]) as shards:
            if threshold is not None and max_false_alarm is not None:
                raise UsageError("give --threshold or --max-false-alarm, not both")
            options = ReviewOptions(
                threshold, names(exclude_identities), min_quality=min_quality, max_false_alarm=max_false_alarm
            )
            proposals = match_faces(dataset, options, shards)
            if form == "html":
                write_report(gather(proposals, out), dataset, output, out, ReportOptions("match-faces"))
        if form == "csv":
            with open_private(output, "w", newline="") as handle:
                write_csv(proposals, handle)
        show(proposals, "proposals", out)


@app.command("dataset-link-matched-faces")
def dataset_link_matched_faces(
    target_path: Annotated[
        str,
        typer.Argument(
            metavar="CSV",
            help=(
                "Reviewed CSV of dataset-match-faces (at least face_id and identity_id; without a header, those two "
                "columns first)."
            ),
        ),
    ],
    root: DatasetArg,
) -> None:
    """Link the faces of a reviewed CSV to their identities (rx-review apply).

    Rows it cannot apply (an unknown face or identity, a face linked elsewhere since, a rejected
    pair, a second face of one photo for one identity) are reported; the rest are applied.
    """
    with run("dataset-link-matched-faces") as out:
        if not os.path.isfile(target_path):
            raise UsageError(f"{target_path}: no such file")
        with Dataset.open(locate(root)) as dataset, open(target_path, newline="") as handle:
            link_matched_faces(dataset, read_csv(handle, target_path), out)
