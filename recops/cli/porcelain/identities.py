"""recops identity-*, face-delete, image-delete, dataset-delete, dataset-match-faces and
dataset-link-matched-faces: the original's functions over identities and deletions."""

import os
from typing import Annotated, Optional

import typer

from ...deletions import Deleter, remove_dataset
from ...errors import InputError, UsageError
from ...holders import holder
from ...identities import IdentityEditor
from ...outputs import open_private
from ...report import ReportOptions, gather, write_report
from ...review import ReviewOptions, link_matched_faces, match_faces, read_csv, write_csv
from ...shards import open_shards, roots_of
from ...store.dataset import Dataset, home, locate
from ..common import DatasetListOpt, MaxFalseAlarmOpt, MinQualityOpt
from ..match import names
from ..review import ProposalThresholdOpt
from .shared import DatasetArg, DatasetsArg, HolderArg, app, dataset_location, output_form, refuse_existing, run, show

IdentityIdArg = Annotated[
    str, typer.Argument(metavar="IDENTITY_ID", help="Identity id, a unique start of it, or a name.")
]
FaceIdArg = Annotated[str, typer.Argument(metavar="FACE_ID", help="Face id, or a unique start of it.")]


def _edit(name: str, root: str | None, operation, held: tuple[str, str] | None = None) -> None:
    """Run one operation on a dataset's identities or deletions and write its record; without
    -d, on the dataset that holds `held` (kind, id)."""
    with run(name) as out:
        with Dataset.open(locate(root) if root else holder(home(), *held)) as dataset:
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
    root: HolderArg = None,
) -> None:
    """Link a face to an identity (rx-identity link)."""
    _edit("identity-link", root, lambda dataset: IdentityEditor(dataset).link(face_id, identity_id), ("face", face_id))


@app.command("identity-delete")
def identity_delete(identity_id: IdentityIdArg, root: HolderArg = None) -> None:
    """Delete an identity; its faces stay, linked to nobody (rx-identity delete)."""
    _edit(
        "identity-delete",
        root,
        lambda dataset: IdentityEditor(dataset).delete(identity_id),
        ("identity", identity_id),
    )


@app.command("face-delete")
def face_delete(face_id: FaceIdArg, root: HolderArg = None) -> None:
    """Delete a face for good; rx-gc reclaims the space (rx-delete)."""
    _edit("face-delete", root, lambda dataset: Deleter(dataset).delete(face_id, "face"), ("face", face_id))


@app.command("image-delete")
def image_delete(
    image_id: Annotated[str, typer.Argument(metavar="IMAGE_ID", help="Image id, or a unique start of it.")],
    root: HolderArg = None,
) -> None:
    """Delete an image and its faces for good; rx-gc reclaims the space (rx-delete)."""
    _edit("image-delete", root, lambda dataset: Deleter(dataset).delete(image_id, "image"), ("image", image_id))


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
                "Write the proposals to FILE.csv (face_id, identity_id, identity_name, distance, threshold, "
                "matched_face_id) and FILE.html (rx-report's review sheet), as the original did; a FILE that has an "
                "extension gets one of them: the review sheet for .html or .htm, else the CSV."
            ),
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write over files that are there (refused without it).")
    ] = False,
    web_uri: Annotated[
        Optional[str],
        typer.Option(
            metavar="URI",
            help="Gone (the original's address of `recops webui` for the HTML's faces): FILE.html holds its faces, "
            "and giving it is refused, saying so.",
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
        if web_uri is not None:
            raise UsageError(GONE_WEB_URI)
        files = review_files(output)
        refuse_existing(list(files), force)
        roots = roots_of(roots, listing)
        with Dataset.open(locate(roots[0])) as dataset, open_shards(dataset, roots[1:]) as shards:
            if threshold is not None and max_false_alarm is not None:
                raise UsageError("give --threshold or --max-false-alarm, not both")
            options = ReviewOptions(
                threshold, names(exclude_identities), min_quality=min_quality, max_false_alarm=max_false_alarm
            )
            proposals = match_faces(dataset, options, shards)
            for path, form in files.items():
                if form == "html":
                    write_report(gather(proposals, out), dataset, path, out, ReportOptions("match-faces"))
        for path, form in files.items():
            if form == "csv":
                with open_private(path, "w", newline="") as handle:
                    write_csv(proposals, handle)
        show(proposals, "proposals", out)


GONE_WEB_URI = (
    "--web-uri is gone: the review sheet (-o FILE writes FILE.html) holds its faces itself and needs no "
    "`recops webui` to show them; leave --web-uri out"
)


def review_files(output: str | None) -> dict[str, str]:
    """The files -o FILE names, each with its form: FILE.csv and FILE.html for a FILE without an
    extension (the original's pair), else FILE alone."""
    if not output:
        return {}
    if not os.path.splitext(os.path.basename(output))[1]:
        return {f"{output}.csv": "csv", f"{output}.html": "html"}
    return {output: output_form(output, "csv")}


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
    root: HolderArg = None,
) -> None:
    """Link the faces of a reviewed CSV to their identities (rx-review apply).

    Rows it cannot apply (an unknown face or identity, a face linked elsewhere since, a rejected
    pair, a second face of one photo for one identity) are reported; the rest are applied.
    """
    with run("dataset-link-matched-faces") as out:
        if not os.path.isfile(target_path):
            raise UsageError(f"{target_path}: no such file")
        with open(target_path, newline="") as handle:
            rows = list(read_csv(handle, target_path))
        first = next((row.get("face_id") for _, row in rows if row.get("face_id")), None)
        if root is None and first is None:
            raise UsageError(f"{target_path}: names no face, so no dataset: give -d DATASET")
        with Dataset.open(locate(root) if root else holder(home(), "face", first)) as dataset:
            link_matched_faces(dataset, iter(rows), out)
