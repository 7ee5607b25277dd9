"""rx-verify: are the faces in two photos the same person?"""

import enum
from typing import Annotated, Optional

import typer

from ..verify import PICKS, verify_photos
from .common import DatasetOpt, FormatOpt, QuietOpt, VerboseOpt, distance, new_app, running

app = new_app()

Pick = enum.Enum("Pick", {pick: pick for pick in PICKS}, type=str)
PickOpt = Annotated[
    Pick,
    typer.Option(
        "--faces",
        help="Which faces to compare when a photo holds several: one (refuse such a photo), its largest face, the "
        "closest pair (as deepface does), or every pair (a verification each). Each verification names the boxes "
        "compared.",
    ),
]


@app.command()
def rx_verify(
    first: Annotated[str, typer.Argument(metavar="IMAGE1", help="A photo of the person.")],
    second: Annotated[str, typer.Argument(metavar="IMAGE2", help="Another photo.")],
    root: DatasetOpt = None,
    threshold: Annotated[
        Optional[float],
        typer.Option(
            metavar="DISTANCE",
            parser=distance,
            help=(
                "Farthest distance that counts as the same person [default: the dataset's; without -d, the shipped "
                "calibration's for the model at its default false-match rate, else deepface's]."
            ),
        ),
    ] = None,
    align: Annotated[
        bool, typer.Option("--align/--no-align", help="Align faces by their landmarks before embedding.")
    ] = True,
    pick: PickOpt = Pick.one,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Tell whether two photos show the same person, the old recops verify.

    By default each image must hold exactly one face: a verdict about a face nobody chose could
    send an investigation the wrong way; --faces chooses otherwise. Writes a verification record:
    verified (true or false), distance, threshold, fmr (the calibrated false-match rate at the
    distance), metric, model, detector, the two boxes compared, compared (--faces) and
    faces_found (how many faces each photo holds). Uses the dataset's
    detector, model and metric when -d is given, the defaults otherwise; stores nothing. A
    verdict of "different" is an answer, not a failure: the exit code is 0 either way.
    """
    with running("rx-verify", fmt, verbose, quiet) as out:
        verify_photos(out, first, second, root, threshold, align, pick.value)


def main() -> None:
    app(prog_name="rx-verify")
