"""rx-verify: are the faces in two photos the same person?"""

from typing import Annotated, Optional

import typer

from ..verify import verify_photos
from .common import DatasetOpt, FormatOpt, QuietOpt, VerboseOpt, distance, new_app, running

app = new_app()


@app.command()
def rx_verify(
    first: Annotated[str, typer.Argument(metavar="IMAGE1", help="A photo with exactly one face.")],
    second: Annotated[str, typer.Argument(metavar="IMAGE2", help="Another photo with exactly one face.")],
    root: DatasetOpt = None,
    threshold: Annotated[
        Optional[float],
        typer.Option(
            metavar="DISTANCE",
            parser=distance,
            help=(
                "Farthest distance that counts as the same person [default: the dataset's, else deepface's for the "
                "model]."
            ),
        ),
    ] = None,
    align: Annotated[
        bool, typer.Option("--align/--no-align", help="Align faces by their landmarks before embedding.")
    ] = True,
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
        verify_photos(out, first, second, root, threshold, align)


def main() -> None:
    app(prog_name="rx-verify")
