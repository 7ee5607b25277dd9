"""rx-cluster: group a dataset's faces into people; name a cluster to make it an identity."""

import enum
from typing import Annotated, Optional

import typer

from ..clustering.naming import name_cluster
from ..clustering.run import NEIGHBOURS, ClusterOptions, cluster_and_write
from .common import DatasetOpt, FormatOpt, MinQualityOpt, QuietOpt, VerboseOpt, distance, new_app, running
from .existing import existing_dataset
from .pipeline import JobsOpt, inputs
from .pipeline import jobs as worker_count

app = new_app()


class Method(str, enum.Enum):
    average = "average"
    chinese_whispers = "chinese-whispers"


ClusterThresholdOpt = Annotated[
    Optional[float],
    typer.Option(
        "--threshold",
        metavar="DISTANCE",
        parser=distance,
        help="Farthest distance (in the dataset's metric) of two faces that may share a cluster [default: the "
        "calibration's for a false-match rate of 0.015 x N^-0.6, N the faces clustered (0.054 for 13,000 Dlib faces); "
        "without a calibration, 0.786 times deepface's verification threshold for the model].",
    ),
]
SkipSingleOpt = Annotated[
    bool, typer.Option("--skip-single-faces", help="Leave out clusters of one face (from the records and from -o).")
]
OutputDirOpt = Annotated[
    Optional[str],
    typer.Option(
        "-o",
        "--output",
        metavar="DIR",
        help="Also write one folder of face crops per cluster: DIR/cluster-LABEL/FACE_ID.jpg (DIR must be "
        "new or empty).",
    ),
]


@app.callback(invoke_without_command=True, subcommand_metavar="[COMMAND [ARGS]...]")
def rx_cluster(
    ctx: typer.Context,
    root: DatasetOpt = None,
    threshold: ClusterThresholdOpt = None,
    method: Annotated[
        Method,
        typer.Option(
            help=(
                "average: guarded average linkage on the k-nearest-neighbour graph (measured best); "
                "chinese-whispers: on the same graph."
            )
        ),
    ] = Method.average,
    seed: Annotated[
        int,
        typer.Option(
            metavar="N",
            help="Seed of chinese whispers' random order (average linkage needs none: it is deterministic).",
        ),
    ] = 0,
    full: Annotated[
        bool, typer.Option("--full", help="Cluster every face again, not only those embedded since the last run.")
    ] = False,
    skip_single_faces: SkipSingleOpt = False,
    output: OutputDirOpt = None,
    neighbours: Annotated[
        int, typer.Option("-k", "--neighbours", metavar="K", min=1, help="Nearest faces looked at per face.")
    ] = NEIGHBOURS,
    min_quality: MinQualityOpt = None,
    search_k: Annotated[
        Optional[int],
        typer.Option(
            metavar="N",
            min=1,
            help="Annoy search_k: nodes inspected per face (an HNSW index: ef, a fiftieth of it); more is slower "
            "and finds more [default: Annoy's; HNSW ef 50].",
        ),
    ] = None,
    jobs: JobsOpt = None,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Group the faces of a dataset into people, without names: the old recops dataset-cluster-faces.

    Each face is joined to its k nearest faces within the threshold (the Annoy index of rx-index,
    and an exact search for faces embedded since it was built; never all pairs), and groups merge
    along these edges, nearest first, while the mean distance of all their pairs of faces stays
    within 1.25 times the threshold. Two faces of one photo never share a cluster; faces linked to
    an identity start in one cluster, two identities never merge, and a face rejected for an
    identity never joins its cluster.

    Writes a cluster record per cluster, largest first (id, faces, size, identity, label: 0 for
    the largest, threshold, method), then a clustering record for the run. Records on stdin pass
    on first, so it can end a pipeline that imports and embeds. The clustering is stored in the
    dataset: the next run places only the faces embedded since (they join clusters or form new
    ones), unless --full, other settings, or links and rejections that contradict it ask for a full
    run.
    `rx-cluster name` makes a cluster an identity.
    """
    if ctx.invoked_subcommand is not None:
        return
    with running("rx-cluster", fmt, verbose, quiet) as out:
        with existing_dataset(root, inputs(None, False), "rx-cluster") as (dataset, items):
            options = ClusterOptions(
                threshold, method.value, neighbours, seed, full, search_k, worker_count(jobs), min_quality
            )
            cluster_and_write(dataset, options, out, skip_single_faces, output, items)


@app.command("name")
def name_command(
    cluster: Annotated[
        str,
        typer.Argument(
            metavar="CLUSTER", help="Cluster label in the current clustering, or its id (or a unique start of it)."
        ),
    ],
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help="Identity name (or id, or a unique start of it): created when no identity has it."
        ),
    ],
    root: DatasetOpt = None,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Make a cluster an identity: link its faces to NAME, created when missing.

    The links follow the rules of a review: a face a person rejected for or unlinked from the
    identity, one linked to another identity, or a second face of one photo is not linked (an
    error record each) and leaves the cluster. When the identity has a cluster already, this one
    joins it. Writes the identity record (when created), the link records, and the clusters
    changed.
    """
    with running("rx-cluster name", fmt, verbose, quiet) as out:
        with existing_dataset(root, tool="rx-cluster") as (dataset, _):
            for record in name_cluster(dataset, cluster, name, out):
                out.emit(record)


def main() -> None:
    app(prog_name="rx-cluster")
