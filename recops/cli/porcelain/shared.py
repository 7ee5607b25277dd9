"""What the functions of the recops command share: the app they register on, its options, how
each runs, and what -o FILE writes."""

import os
import sys
from typing import Annotated, Optional

import click
import typer

from ...errors import DatasetError, UsageError
from ...ids import dataset_path
from ...stream import Emitter
from .. import common, table
from ..common import new_app, running
from .spellings import OriginalSpellings

app = new_app(cls=OriginalSpellings)


def dataset_location(text: str) -> str:
    """A dataset as the porcelain takes it: a directory, a name under $RECOPS_HOME, or the id
    (or a unique start of it) that dataset-list prints."""
    try:
        return dataset_path(text)
    except (DatasetError, UsageError) as exc:  # UsageError: $STORAGE_URI or $DATABASE_URI names no folder
        raise typer.BadParameter(str(exc)) from None


WHERE = "Dataset name (under $RECOPS_HOME), directory, or the id dataset-list shows (or a unique start of it)"


def dataset_option(help: str, **parsing):
    return typer.Option(
        "-d",
        "--dataset",
        "--dataset-id",
        envvar=common.ENV_VAR,
        show_envvar=True,
        metavar="NAME|DIR|ID",
        help=help,
        **parsing,
    )


class _DatasetLocations(click.ParamType):
    """Datasets as -d takes them; in $RX_DATASET, several are separated by ":" as PATH's are."""

    name = "dataset"
    envvar_list_splitter = os.pathsep

    def convert(self, value, param, ctx):
        return dataset_location(value)


DatasetArg = Annotated[str, dataset_option(f"{WHERE}.", parser=dataset_location)]
HolderArg = Annotated[
    Optional[str],
    dataset_option(
        f"{WHERE} [default: the one dataset under $RECOPS_HOME that holds the id, as the original took no -d].",
        parser=dataset_location,
    ),
]
DatasetsArg = Annotated[
    list[str],
    dataset_option(
        f"{WHERE}; give -d again for several datasets searched as one: the first is the home dataset (identities, "
        "threshold and calibration; what is stored goes there), the others its shards.",
        click_type=_DatasetLocations(),
    ),
]
_state: dict = {"level": None, "log_file": None}


@app.callback()
def porcelain(
    log_level: Annotated[
        Optional[str],
        typer.Option(
            metavar="LEVEL",
            help="Logging level: DEBUG, INFO, WARNING or ERROR [default: INFO on a terminal, else WARNING].",
        ),
    ] = None,
    log_file: Annotated[
        Optional[str], typer.Option(metavar="FILE", help="Append logs to this file instead of stderr.")
    ] = None,
) -> None:
    """Face recognition for investigators: the functions of the original recops command.

    Datasets are given by name (kept under $RECOPS_HOME), by path, or by the id dataset-list
    shows. Images, faces, identities and clusters are given by id, or by a unique start of it
    (at least 4 characters: the 12 that tables show will do), as git takes commits. Each
    function is a composition of the rx tools' core; records go to stdout (a table on a terminal).
    """
    _state.update(level=log_level, log_file=log_file)


def run(name: str):
    return running(f"recops {name}", level=_state["level"], log_file=_state["log_file"])


def show(records: list[dict], kind: str, out: Emitter) -> None:
    if common.stdout_is_terminal():
        sys.stdout.write(table.render(records, table.COLUMNS[kind]))
    else:
        for record in records:
            out.emit(record)


def output_form(output: str | None, plain: str, blur: bool = False, template: str | None = None) -> str | None:
    """What -o FILE gets: nothing without FILE; rx-report's HTML for a FILE ending in .html or
    .htm; else the command's `plain` form ("records", as JSON lines, or "csv"). --blur and
    --template shape the HTML report only."""
    form = None if not output else "html" if output.lower().endswith((".html", ".htm")) else plain
    if form != "html" and (blur or template):
        raise UsageError("--blur and --template shape the HTML report: give -o FILE.html")
    return form


def refuse_existing(paths: list[str], force: bool) -> None:
    """A report is never written over a file that is there, unless --force (as the original's
    recognize refused): checked before any work."""
    there = [p for p in paths if os.path.lexists(p)]
    if there and not force:
        raise UsageError(f"{there[0]}: exists; give --force to overwrite it, or another -o")
