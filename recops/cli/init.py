"""rx-init: create a dataset, or change an existing one's description and threshold."""

from typing import Annotated

import typer

from ..datasets import dataset_record, init_dataset
from .common import (
    DescriptionOpt,
    DetectorOpt,
    FlipOpt,
    FormatOpt,
    MetricOpt,
    ModelOpt,
    QuietOpt,
    ThresholdOpt,
    VerboseOpt,
    new_app,
    running,
)

app = new_app()


@app.command()
def rx_init(
    root: Annotated[str, typer.Argument(metavar="DIR", help="Dataset directory to create (mode 0700) or update.")],
    detector: DetectorOpt = None,
    model: ModelOpt = None,
    metric: MetricOpt = None,
    threshold: ThresholdOpt = None,
    description: DescriptionOpt = None,
    flip: FlipOpt = None,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Create a dataset directory, the old recops dataset-create.

    Run again on an existing dataset to change its description, threshold or metric; its
    detector and model never change. Writes one dataset record.
    """
    with running("rx-init", fmt, verbose, quiet) as out:
        dataset, created = init_dataset(root, detector, model, metric, threshold, description, flip)
        with dataset:
            out.emit(dataset_record(dataset) | {"new": created})


def main() -> None:
    app(prog_name="rx-init")
