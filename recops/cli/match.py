"""rx-match: find the known faces nearest to each face."""

from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..shards import open_shards, roots_of
from ..stages.analysis import with_extended_fields
from ..stages.matching import FaceMatching, Matcher, MatchOptions
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
from .pipeline import inputs, stream_dataset

app = new_app()

MaximumOpt = Annotated[int, typer.Option(metavar="N", min=1, help="At most N matches per face.")]
MatchThresholdOpt = Annotated[
    Optional[float],
    typer.Option(metavar="DISTANCE", parser=distance, help="Farthest distance that matches [default: the dataset's]."),
]
IdentifiedOpt = Annotated[bool, typer.Option("--identified-faces", help="Match only faces linked to an identity.")]
ExcludeOpt = Annotated[
    Optional[str], typer.Option(metavar="NAMES", help="Comma-separated identity names or ids whose faces never match.")
]


def names(text: str | None) -> tuple[str, ...]:
    """The identities of an --exclude-identities list."""
    return tuple(n.strip() for n in (text or "").split(",") if n.strip())


@app.command()
def rx_match(
    roots: DatasetsOpt = None,
    listing: DatasetListOpt = None,
    maximum: MaximumOpt = 10,
    threshold: MatchThresholdOpt = None,
    identified_faces: IdentifiedOpt = False,
    exclude_identities: ExcludeOpt = None,
    best_per_identity: Annotated[
        bool,
        typer.Option(
            "--best-per-identity", help="Keep only the nearest face of each identity (faces without one stay)."
        ),
    ] = False,
    search_k: Annotated[
        Optional[int],
        typer.Option(
            metavar="N",
            min=1,
            help=(
                "Annoy search_k: nodes inspected per query (an HNSW index: ef, a fiftieth of it); more is slower "
                "and finds more [default: 20000, or trees x k if larger]."
            ),
        ),
    ] = None,
    max_false_alarm: MaxFalseAlarmOpt = None,
    min_quality: MinQualityOpt = None,
    save: Annotated[bool, typer.Option("--save", help="Keep the match records in the dataset.")] = False,
    searched: Annotated[
        bool,
        typer.Option(
            "--searched",
            help="After each face's matches, write a searched record (the datasets searched, their faces, how many "
            "matched): rx-merge knows by it that a shard answered.",
        ),
    ] = False,
    join: Annotated[
        bool,
        typer.Option(
            "--join/--no-join",
            help="Each face matched joins the gallery, so the faces of the stream match each other too; --no-join "
            "for the shards of a fan-out, which all see the stream (rx-merge).",
        ),
    ] = True,
    include_extended_fields: Annotated[
        bool,
        typer.Option(
            "--include-extended-fields",
            help=(
                "Add the candidate's stored attributes (rx-analyze: age, gender, emotion, race) to each match, and a "
                "face's own to its face record."
            ),
        ),
    ] = False,
    null: NullOpt = False,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Match faces against a dataset's gallery, the search step of the old recops recognize.

    Reads embedding records (or face records, which it embeds with the dataset's model). Every
    record passes on; each embedding is followed by its match records, nearest first: query face,
    candidate face, the candidate's identity, distance, metric, threshold, rank, and how likely
    a stranger is that close: fmr (the calibrated false-match rate at that distance) and
    expected_false (how many strangers of a gallery this size come that close). The gallery is
    every embedded face of the dataset but those of query images (kept by recops recognize)
    that nobody linked to an identity; a face never matches a face of its own photo. Uses the
    Annoy index (rx-index) and searches faces embedded since its build exactly.

    Several datasets (-d again, or --datasets FILE) are searched as one gallery: each with its
    own index, the candidates of all ranked together; each match says the dataset its candidate
    is in (candidate_dataset, an id as rx-ls datasets shows it) and the faces searched
    (gallery). The first dataset is the home one: identities, threshold and calibration come
    from it, and --save stores there. The datasets must share model and metric.
    """
    with running("rx-match", fmt, verbose, quiet) as out:
        roots = roots_of(roots, listing)
        with stream_dataset(roots[0] if roots else None, inputs(None, null)) as (dataset, items):
            if dataset is None:
                raise UsageError("matching needs a dataset to search: -d DIR or $RX_DATASET")
            if threshold is not None and max_false_alarm is not None:
                raise UsageError("give --threshold or --max-false-alarm, not both")
            options = MatchOptions(
                maximum,
                threshold,
                identified_faces,
                names(exclude_identities),
                best_per_identity,
                search_k,
                max_false_alarm,
                min_quality,
            )
            sink = with_extended_fields(out, dataset) if include_extended_fields else out
            with open_shards(dataset, roots[1:]) as shards:
                FaceMatching(sink, Matcher(dataset, options, shards), save, searched, join).run(items)


def main() -> None:
    app(prog_name="rx-match")
