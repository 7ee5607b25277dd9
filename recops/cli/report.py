"""rx-report: one self-contained HTML file (or JSON, or CSV) of a record stream or of a dataset."""

import enum
import io
import os
import stat
import sys
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..report import ReportOptions, report_dataset, report_stream
from ..store.dataset import Dataset
from ..stream import read_items
from .common import DatasetOpt, QuietOpt, VerboseOpt, new_app, running

app = new_app()


class Kind(str, enum.Enum):
    recognize = "recognize"
    match_faces = "match-faces"
    cluster = "cluster"
    verify = "verify"


class ReportFormat(str, enum.Enum):
    html = "html"
    json = "json"
    csv = "csv"


OutputOpt = Annotated[
    str,
    typer.Option(
        "-o",
        "--output",
        metavar="FILE",
        help="The report to write (mode 0600: it holds faces); its extension .html, .json or .csv says the format.",
    ),
]
BlurOpt = Annotated[
    bool, typer.Option("--blur", help="Blur every detected face, in the photos and the crops, for sharing.")
]
TemplateOpt = Annotated[
    Optional[str],
    typer.Option(
        metavar="FILE",
        help="A jinja2 template to render instead of the bundled one; it gets the same variables "
        "(documented atop recops/templates/report/*.html.j2) and runs sandboxed.",
    ),
]


def stdin_carries_records() -> bool:
    """A pipe or a file on stdin; not a terminal, nor /dev/null (cron's `</dev/null`)."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return True
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


@app.command()
def rx_report(
    output: OutputOpt,
    root: DatasetOpt = None,
    kind: Annotated[
        Optional[Kind],
        typer.Option(
            help="What to draw [default: told by the records: a verification, clusters, proposals, else recognize]."
        ),
    ] = None,
    blur: BlurOpt = False,
    template: TemplateOpt = None,
    title: Annotated[
        Optional[str], typer.Option(metavar="TEXT", help="The report's title [default: one for its kind].")
    ] = None,
    fmt: Annotated[
        Optional[ReportFormat],
        typer.Option(
            "--format",
            "-f",
            help=(
                "html, json (the report's variables, no pixels) or csv (match-faces only: dataset-match-faces's "
                "columns) [default: by the extension of -o, else html]."
            ),
        ),
    ] = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write a report for people: one HTML file that opens offline in any browser.

    Reads the records of a pipeline (rx-match, rx-review propose, rx-cluster, rx-verify) and
    draws them: photos with their faces boxed in their identity's colour, a crop of each face,
    its candidate matches with identity, distance and threshold, and the stored attributes when
    faces carry them. Images are embedded; there is no script and no external address, so the
    file can be mailed and archived as it is. Pixels come from the dataset (-d, else the one the
    records name), or the records' paths and inline data.

    Without records on stdin (a terminal, or </dev/null), renders what the dataset keeps:
    recognize: its recognitions and stored matches; match-faces: the proposals rx-review would
    make now; cluster: the clusters rx-cluster stored.

    Writes a report record on stdout (and the error records of the stream, which count: the exit
    code is 1 when any stage failed, or a photo could not be shown).
    """
    with running("rx-report", "json", verbose, quiet) as out:
        options = ReportOptions(kind.value if kind else None, fmt.value if fmt else None, blur, template, title)
        if stdin_carries_records():
            report_stream(read_items(sys.stdin.buffer), root, output, out, options)
        elif root:
            with Dataset.open(root) as dataset:
                report_dataset(dataset, output, out, options)
        else:
            raise UsageError("rx-report reads records on stdin, or renders a dataset's with -d DIR")


def main() -> None:
    app(prog_name="rx-report")
