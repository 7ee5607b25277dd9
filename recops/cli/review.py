"""rx-review: propose identities for unidentified faces; apply the proposals a person kept."""

import os
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..outputs import open_private
from ..region_proposals import MIN_OVERLAP
from ..review import ReviewOptions, link_matched_faces, proposal_rows, proposals, read_csv, write_csv
from .common import (
    DatasetListOpt,
    DatasetsOpt,
    FormatOpt,
    MaxFalseAlarmOpt,
    MinQualityOpt,
    NullOpt,
    QuietOpt,
    VerboseOpt,
    distance,
    new_app,
    running,
)
from .existing import existing_datasets
from .match import names
from .pipeline import inputs

app = new_app()

ProposalThresholdOpt = Annotated[
    Optional[float],
    typer.Option(
        metavar="DISTANCE",
        parser=distance,
        help="Farthest distance that matches [default: the calibration's for --max-false-alarm 0.01, "
        "unless a person set the dataset's threshold, which then holds].",
    ),
]


@app.callback()
def rx_review() -> None:
    """Propose links of unidentified faces to identities, and apply the ones a person kept.

    rx-review propose -d case.rx --csv proposals.csv    # edit: delete the wrong rows
    rx-review apply -d case.rx proposals.csv
    """


@app.command()
def propose(
    roots: DatasetsOpt = None,
    listing: DatasetListOpt = None,
    threshold: ProposalThresholdOpt = None,
    exclude_identities: Annotated[
        Optional[str], typer.Option(metavar="NAMES", help="Comma-separated identity names or ids never proposed.")
    ] = None,
    csv_file: Annotated[
        Optional[str],
        typer.Option(
            "--csv",
            metavar="FILE",
            help=(
                "Also write the proposals to FILE as CSV: face_id, identity_id, identity_name, distance, threshold, "
                "matched_face_id."
            ),
        ),
    ] = None,
    min_quality: MinQualityOpt = None,
    max_false_alarm: MaxFalseAlarmOpt = None,
    regions: Annotated[
        bool,
        typer.Option(
            "--regions/--no-regions",
            help="Also propose the names of the face regions photos came with (XMP, as digiKam, Lightroom and "
            "darktable write them), for the faces they cover.",
        ),
    ] = True,
    min_overlap: Annotated[
        float,
        typer.Option(
            metavar="SHARE",
            min=0.01,
            max=1.0,
            help="How much of a face and a region must coincide (intersection over union) for the region's name "
            "to be proposed.",
        ),
    ] = MIN_OVERLAP,
    search_k: Annotated[
        Optional[int],
        typer.Option(
            metavar="N",
            min=1,
            help="Annoy search_k: nodes inspected per query (an HNSW index: ef, a fiftieth of it); more is slower "
            "and finds more [default: 20000].",
        ),
    ] = None,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Propose an identity for each face without one: that of its nearest identified face.

    Writes a proposal record per face that comes within the threshold of a face linked to an
    identity (face, image, identity, identity_name, distance, threshold, candidate: the
    identified face, and fmr, the calibrated false-match rate at the distance), ordered by
    identity name, then distance. Searching many identified faces, a stranger comes near one of
    them more often than near one face: by default the threshold keeps that chance at 1 in 100
    for each face proposed (--max-false-alarm), however many faces are identified; a threshold a
    person set on the dataset (rx-init --threshold) holds instead. Deleted faces, faces of
    recognitions' query photos, and pairs a person rejected are left out. Two faces of one photo
    are two people: an identity is proposed for one face of a photo at most, and never for a
    photo where a face has it already. Nothing is stored.

    A photo imported with face regions (its XMP sidecar or the XMP inside it, as digiKam,
    Lightroom or darktable tag people) has each face a region covers proposed for the region's
    name, with source "xmp" and overlap (intersection over union) instead of a distance, and no
    identity id when no identity has that name yet: applying it makes one.
    """
    with running("rx-review propose", fmt, verbose, quiet) as out:
        with existing_datasets(roots, listing, tool="rx-review") as (dataset, shards, _):
            excluded = names(exclude_identities)
            if threshold is not None and max_false_alarm is not None:
                raise UsageError("give --threshold or --max-false-alarm, not both")
            options = ReviewOptions(
                threshold, excluded, search_k, min_quality, max_false_alarm, regions=regions, min_overlap=min_overlap
            )
            found = proposals(dataset, options, shards)
            if csv_file:
                with open_private(csv_file, "w", label="--csv", newline="") as handle:
                    write_csv(found, handle)
            for proposal in found:
                out.emit(proposal)


@app.command()
def apply(
    csv_file: Annotated[
        Optional[str],
        typer.Argument(
            metavar="CSV",
            help=(
                "Reviewed proposals: a CSV with face_id and identity_id columns (or those two first, without a "
                "header). Without it, proposal records are read from stdin."
            ),
        ),
    ] = None,
    roots: DatasetsOpt = None,
    listing: DatasetListOpt = None,
    null: NullOpt = False,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Link the faces of reviewed proposals to their identities.

    Writes a link record for each row applied (source review; xmp for a face region's name, whose
    identity is made first, with an identity record, when none has it). A row that cannot be applied gets an error
    record and a line on stderr, and the rest are applied: an unknown or deleted face or
    identity, a face linked to another identity since, a pair a person unlinked or rejected, a
    second face of one photo for one identity.
    """
    with running("rx-review apply", fmt, verbose, quiet) as out:
        if csv_file:
            if not os.path.isfile(csv_file):
                raise UsageError(f"{csv_file}: no such file")
            with existing_datasets(roots, listing, tool="rx-review") as (dataset, shards, _):
                with open(csv_file, newline="") as handle:
                    link_matched_faces(dataset, read_csv(handle, csv_file), out, shards)
            return
        with existing_datasets(roots, listing, inputs(None, null), "rx-review") as (dataset, shards, items):
            link_matched_faces(dataset, proposal_rows(items, out), out, shards)


def main() -> None:
    app(prog_name="rx-review")
