"""rx-calibrate: measure a dataset's people's faces and set its threshold for a false-match rate."""

from typing import Annotated, Optional

import typer

from ..calibrate import CalibrateOptions, calibrate
from ..calibration import DEFAULT_FMR
from ..errors import UsageError
from ..report.curves import write_page
from ..store.dataset import Dataset
from .common import DatasetOpt, FormatOpt, QuietOpt, VerboseOpt, new_app, rate, running
from .pipeline import JobsOpt, jobs

app = new_app()


@app.command()
def rx_calibrate(
    root: DatasetOpt = None,
    folders: Annotated[
        Optional[str],
        typer.Option(
            "--folders",
            metavar="DIR",
            help="Labelled photos instead of the dataset's identities: DIR holds one folder per person "
            "(DIR/NAME/*.jpg), run through the dataset's detector and model, stored nowhere.",
        ),
    ] = None,
    target_fmr: Annotated[
        Optional[float],
        typer.Option(
            metavar="RATE",
            parser=rate,
            help=(
                f"Set the threshold where this share of pairs of two people comes as close [default: {DEFAULT_FMR:g}]."
            ),
        ),
    ] = None,
    best_accuracy: Annotated[
        bool,
        typer.Option(
            "--best-accuracy", help="Set the threshold that errs least on as many pairs of one as of two people."
        ),
    ] = False,
    keep_threshold: Annotated[
        bool, typer.Option("--keep-threshold", help="Measure and keep the calibration, leave the threshold as it is.")
    ] = False,
    output: Annotated[
        Optional[str],
        typer.Option(
            "-o", "--output", metavar="FILE.html", help="Also write the curves (DET, ROC, histograms) as a page."
        ),
    ] = None,
    workers: JobsOpt = None,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Measure how often strangers come close among a dataset's own people, and set its threshold.

    Every pair of labelled faces counts: pairs of one person (two photos), pairs of two people,
    and any two faces of one photo, which are never one person. The distances become a
    calibration, kept in the dataset: the false-match rate (FMR) and false-non-match rate
    (FNMR) at every distance, with how many pairs each rests on. Match, proposal and
    verification records then carry the FMR of their distance from it. The threshold becomes
    the one for --target-fmr (or --best-accuracy), and the dataset says where it came from.
    Warns when the labels are too few to trust the target. Writes a calibrated record.
    """
    with running("rx-calibrate", fmt, verbose, quiet) as out:
        if not root:
            raise UsageError("give the dataset: -d DIR or $RX_DATASET")
        if best_accuracy and target_fmr is not None:
            raise UsageError("give --target-fmr or --best-accuracy, not both")
        if output and not output.lower().endswith((".html", ".htm")):
            raise UsageError(f"-o {output}: the curves are a page: give a FILE.html")
        options = CalibrateOptions(folders, target_fmr, best_accuracy, not keep_threshold, jobs(workers))
        with Dataset.open(root) as dataset:
            summary = calibrate(dataset, out, options)
            if output:
                write_page(dataset, summary, output)
        out.emit(summary)


def main() -> None:
    app(prog_name="rx-calibrate")
