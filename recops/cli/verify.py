"""rx-verify: are the faces in two photos the same person?"""

import os
from typing import Annotated, Optional

import typer

from ..model_names import DEFAULT_DETECTOR, DEFAULT_METRIC, DEFAULT_MODEL, default_threshold
from ..errors import InputError
from ..stages.importing import read_image_file, stat_image_file
from ..store.dataset import Dataset
from ..verify import VerifyOptions, verify
from .common import DatasetOpt, FormatOpt, QuietOpt, VerboseOpt, distance, new_app, running

app = new_app()


@app.command()
def rx_verify(
    first: Annotated[str, typer.Argument(metavar="IMAGE1", help="A photo with exactly one face.")],
    second: Annotated[str, typer.Argument(metavar="IMAGE2", help="Another photo with exactly one face.")],
    dataset: DatasetOpt = None,
    threshold: Annotated[Optional[float], typer.Option(metavar="DISTANCE", parser=distance, help="Farthest distance that counts as the same person [default: the dataset's, else deepface's for the model].")] = None,
    align: Annotated[bool, typer.Option("--align/--no-align", help="Align faces by their landmarks before embedding.")] = True,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Tell whether two photos show the same person, the old recops verify.

    Each image must hold exactly one face. Writes a verification record: verified (true or
    false), distance, threshold, metric, model, detector, and the two boxes. Uses the dataset's
    detector, model and metric when -d is given, the defaults otherwise; stores nothing. A
    verdict of "different" is an answer, not a failure: the exit code is 0 either way.
    """
    with running("rx-verify", fmt, verbose, quiet) as out:
        config = None
        if dataset:
            with Dataset.open(dataset) as ds:
                config = ds.config
        detector = config.detector if config else DEFAULT_DETECTOR
        model = config.model if config else DEFAULT_MODEL
        metric = config.metric if config else DEFAULT_METRIC
        limit = threshold if threshold is not None else (config.effective_threshold() if config else default_threshold(model, metric))
        try:
            data = []
            for path in (first, second):
                stat_image_file(path)
                data.append(read_image_file(path))
            flip = bool(config and config.flip)
            out.emit(verify(data[0], data[1], VerifyOptions(detector, model, metric, limit, align, flip),
                            (os.path.abspath(first), os.path.abspath(second))))
        except InputError as exc:
            out.fail(f"{first} {second}", "verify", exc.reason, exc.kind)


def main() -> None:
    app(prog_name="rx-verify")
