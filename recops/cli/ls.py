"""rx-ls: list datasets, or the images, faces and identities of one."""

import os
import sys
from typing import Annotated, Optional

import typer

from ..datasets import list_datasets
from ..errors import UsageError
from ..listing import KINDS, list_kind
from ..photofilter import photo_filter
from ..store.dataset import Dataset
from ..stream import Emitter
from . import common, table
from .common import DatasetOpt, Format, NullOpt, QuietOpt, VerboseOpt, new_app, running

app = new_app()


@app.command()
def rx_ls(
    kind: Annotated[
        Optional[str],
        typer.Argument(
            metavar="KIND",
            help="datasets, images, faces or identities [default: images with a dataset, else datasets].",
        ),
    ] = None,
    folder: Annotated[str, typer.Argument(metavar="FOLDER", help="Where to look for datasets (KIND datasets).")] = ".",
    root: DatasetOpt = None,
    identity: Annotated[
        Optional[str],
        typer.Option(
            "--identity",
            "-i",
            metavar="NAME|ID",
            help=(
                "Only the faces of this identity (a name, an id or a unique start of it), or the images where it "
                "appears ('none': faces of nobody known, and their images)."
            ),
        ),
    ] = None,
    taken_after: Annotated[
        Optional[str],
        typer.Option(
            metavar="DATE",
            help="Only images taken on or after DATE (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM), "
            "in the photo's local time (EXIF).",
        ),
    ] = None,
    taken_before: Annotated[
        Optional[str],
        typer.Option(
            metavar="DATE",
            help="Only images taken before the end of DATE (2019-05: up to the end of May 2019), in local time.",
        ),
    ] = None,
    near: Annotated[
        Optional[str],
        typer.Option(
            metavar="LAT,LON,KM",
            help="Only images whose EXIF GPS position is within KM kilometres of LAT,LON (decimal degrees).",
        ),
    ] = None,
    camera: Annotated[
        Optional[str],
        typer.Option(metavar="TEXT", help="Only images whose camera make or model holds TEXT (any case)."),
    ] = None,
    paths: Annotated[
        bool,
        typer.Option(
            "--paths",
            help="Print the stored file of each image, one per line (NUL-terminated with -0), instead of records.",
        ),
    ] = False,
    null: NullOpt = False,
    fmt: Annotated[
        Optional[Format],
        typer.Option("--format", "-f", help="json or msgpack [default: a table when stdout is a terminal, else json]."),
    ] = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """List datasets under a folder, or the images, faces or identities of one dataset.

    `rx-ls images -d case.rx --identity "Jane Doe"` lists the photos where she appears (with
    every original path), `rx-ls faces --identity none` the faces nobody has named yet, and
    `rx-ls images --taken-after 2019-05-01 --near 48.8584,2.2945,5` the photos of May 2019
    onwards taken within 5 km of the Eiffel tower (by their EXIF: photos without it are left out).
    Writes one record each (image, face, identity, or dataset with its counts); when stdout is
    a terminal and no --format is given, a table instead.
    """
    kind = kind or ("images" if root else "datasets")
    show_table = fmt is None and common.stdout_is_terminal() and not paths
    with running("rx-ls", fmt or "json", verbose, quiet) as out:
        if kind not in KINDS:
            raise UsageError(f"unknown KIND {kind!r}; choose from {', '.join(KINDS)}")
        if paths and kind != "images":
            raise UsageError("--paths lists images; give KIND images")
        collected: list[dict] = []
        sink = Emitter(collected.append) if show_table or paths else out
        if kind == "datasets":
            if identity is not None:
                raise UsageError("--identity chooses faces and images of a dataset; give KIND faces or images")
            list_datasets(root or folder, sink)
        else:
            if not root:
                raise UsageError(f"listing {kind} needs a dataset: -d DIR or $RX_DATASET")
            with Dataset.open(root) as dataset:
                photos = photo_filter(taken_after, taken_before, near, camera)
                for record in list_kind(dataset, kind, identity, photos):
                    sink.emit(record)
                    if paths:
                        end = b"\0" if null else b"\n"
                        sys.stdout.buffer.write(os.fsencode(dataset.objects.path(record["id"])) + end)
        if show_table:
            sys.stdout.write(table.render(collected, table.COLUMNS[kind]))
        out.failures += sink.failures if sink is not out else 0


def main() -> None:
    app(prog_name="rx-ls")
