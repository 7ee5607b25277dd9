"""recops dataset-cluster-faces and cluster-to-identity: the original's clustering, and naming a cluster."""

from typing import Annotated

import typer

from ...clustering.naming import name_cluster
from ...clustering.run import ClusterOptions, cluster_and_write
from ...parallel import cpu_count
from ...store.dataset import Dataset, locate
from ..cluster import ClusterThresholdOpt
from ..common import MinQualityOpt
from .shared import DatasetArg, app, run


@app.command("dataset-cluster-faces")
def dataset_cluster_faces(
    root: DatasetArg,
    output: Annotated[
        str,
        typer.Option(
            "-o",
            "--output",
            metavar="DIR",
            help=(
                "Folder to write one folder of face crops per cluster into (new or empty): "
                "DIR/cluster-LABEL/FACE_ID.jpg."
            ),
        ),
    ] = "clustered",
    threshold: ClusterThresholdOpt = None,
    min_quality: MinQualityOpt = None,
    skip_single_faces: Annotated[
        bool, typer.Option("--skip-single-faces", help="Export only faces that share their cluster with another face.")
    ] = False,
) -> None:
    """Group the faces of a dataset into people and write a folder of face crops per group (rx-cluster -o).

    Writes the cluster records, largest first, and keeps the clustering in the dataset: a later
    run places only the faces imported since. Two faces of one photo never share a cluster, and
    faces linked to an identity start in one.
    """
    with run("dataset-cluster-faces") as out:
        with Dataset.open(locate(root)) as dataset:
            cluster_and_write(
                dataset,
                ClusterOptions(threshold, jobs=cpu_count(), min_quality=min_quality),
                out,
                skip_single_faces,
                output,
            )


@app.command("cluster-to-identity")
def cluster_to_identity(
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
    root: DatasetArg,
) -> None:
    """Make a cluster an identity: link its faces to NAME, created when missing (rx-cluster name)."""
    with run("cluster-to-identity") as out:
        with Dataset.open(locate(root)) as dataset:
            for record in name_cluster(dataset, cluster, name, out):
                out.emit(record)
