"""recops dataset-create, dataset-list and dataset-list-images, -faces and -identities."""

import os
from typing import Annotated, Optional

import typer

from ...datasets import dataset_record, init_dataset, list_datasets
from ...listing import list_kind
from ...store.dataset import Dataset, home, locate
from ...stream import Emitter
from ..common import DescriptionOpt, DetectorOpt, FlipOpt, MetricOpt, ModelOpt, ThresholdOpt
from .shared import DatasetArg, app, run, show


@app.command("dataset-create")
def dataset_create(
    root: Annotated[
        str, typer.Argument(metavar="DATASET", help="Dataset name (created under $RECOPS_HOME) or directory.")
    ],
    detector: DetectorOpt = None,
    basemodel: ModelOpt = None,
    distance_metric: MetricOpt = None,
    threshold: ThresholdOpt = None,
    description: DescriptionOpt = None,
    flip: FlipOpt = None,
) -> None:
    """Create a dataset, or update an existing one's description, threshold and metric (rx-init)."""
    with run("dataset-create") as out:
        dataset, created = init_dataset(
            locate(root), detector, basemodel, distance_metric, threshold, description, flip
        )
        with dataset:
            out.emit(dataset_record(dataset) | {"new": created})


@app.command("dataset-list")
def dataset_list(
    folder: Annotated[
        Optional[str], typer.Argument(metavar="FOLDER", help="Where to look [default: $RECOPS_HOME].")
    ] = None,
) -> None:
    """List datasets with their detector, model, threshold and counts (rx-ls datasets)."""
    with run("dataset-list") as out:
        found: list[dict] = []
        sink = Emitter(found.append)
        if folder or os.path.isdir(home()):  # no home yet: no datasets, not an error
            list_datasets(folder or home(), sink)
        out.failures += sink.failures
        show(found, "datasets", out)


def _lister(kind: str):
    def command(root: DatasetArg) -> None:
        with run(f"dataset-list-{kind}") as out:
            with Dataset.open(locate(root)) as dataset:
                show(list(list_kind(dataset, kind)), kind, out)

    command.__doc__ = f"List the {kind} of a dataset (rx-ls {kind})."
    return command


for _kind in ("images", "faces", "identities"):
    app.command(f"dataset-list-{_kind}")(_lister(_kind))
