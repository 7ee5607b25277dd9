"""rx-export: XMP sidecars with the dataset's faces, for digiKam, Lightroom and darktable."""

import sys
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..sidecar_export import SidecarOptions, chosen_images, export_sidecars
from ..sidecars import CONVENTIONS
from ..stream import read_items
from .common import DatasetOpt, FormatOpt, QuietOpt, VerboseOpt, new_app, running
from .existing import existing_dataset
from .report import stdin_carries_records

app = new_app()


@app.command()
def rx_export(
    folder: Annotated[
        Optional[str],
        typer.Option(
            "--xmp",
            metavar="DIR",
            help="Write the sidecars into DIR (made 0700 when missing), in the folders of the originals below the "
            "deepest folder that holds them all.",
        ),
    ] = None,
    beside: Annotated[
        bool, typer.Option("--beside", help="Write each sidecar beside its original photo instead (where it is).")
    ] = False,
    convention: Annotated[
        str,
        typer.Option(
            metavar="NAME",
            help="How a sidecar is named: digikam (photo.jpg.xmp: digiKam, darktable) or lightroom (photo.xmp: "
            "Lightroom, Bridge, Capture One).",
        ),
    ] = "digikam",
    unnamed: Annotated[
        bool, typer.Option("--unnamed", help="Also write the faces of nobody known, as regions without a name.")
    ] = False,
    merge: Annotated[
        bool,
        typer.Option(
            "--merge",
            help="Write into sidecars that exist: their other content stays, and of their face regions those that "
            "a face of recops covers give way [default: a sidecar that exists is an error, and is left alone].",
        ),
    ] = False,
    root: DatasetOpt = None,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write XMP sidecars holding the faces of the dataset's photos, named, as face regions.

    For each photo with named faces (and unnamed ones with --unnamed), an XMP sidecar in the
    Metadata Working Group's face-region format (mwg-rs:Regions), which digiKam, Lightroom,
    darktable and exiftool read: one region per face, Type Face, Name the identity's name, its
    area relative to the stored image as MWG says (EXIF orientation undone). One sidecar per
    original path, named after the original (--convention). Image or face records on stdin
    (rx-ls images --taken-after 2019 ...) choose the photos; without records, every photo.

    Writes a sidecar record per file (image, file, faces, merged, unchanged). A sidecar that exists
    is an error record (sidecar-exists) unless --merge; with --beside, an original that is gone is
    a warning.
    """
    with running("rx-export", fmt, verbose, quiet) as out:
        if (folder is None) == (not beside):
            raise UsageError("give --xmp DIR or --beside: where the sidecars go")
        if convention not in CONVENTIONS:
            raise UsageError(f"--convention {convention!r}: choose from {', '.join(CONVENTIONS)}")
        options = SidecarOptions(folder, convention, unnamed, merge)
        items = read_items(sys.stdin.buffer) if stdin_carries_records() else None
        with existing_dataset(root, items, "rx-export") as (dataset, rest):
            chosen = chosen_images(rest, out) if items is not None else None
            export_sidecars(dataset, options, out, chosen)


def main() -> None:
    app(prog_name="rx-export")
