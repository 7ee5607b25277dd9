"""rx-import: store images in a dataset and write an image record for each."""

import contextlib
import logging
import sys
from typing import Annotated, Optional

import typer

from ..datasets import open_or_create
from ..imageinfo import MAX_PIXELS_ENV, default_max_pixels
from ..stages.importing import Importer
from ..stream import read_items
from .common import DatasetOpt, FormatOpt, NullOpt, QuietOpt, VerboseOpt, new_app, running

app = new_app()
logger = logging.getLogger("recops")


@app.command()
def rx_import(
    paths: Annotated[
        Optional[list[str]],
        typer.Argument(
            metavar="PATH...",
            help=(
                "Image files, or folders to walk. Without any, or for -, paths (or image records) are read from stdin."
            ),
        ),
    ] = None,
    root: DatasetOpt = None,
    null: NullOpt = False,
    consent: Annotated[
        Optional[bool],
        typer.Option(
            "--consent/--no-consent",
            help=(
                "Record that the people shown consented (or not). Without either, new images are recorded without "
                "consent and known ones keep theirs."
            ),
        ),
    ] = None,
    max_pixels: Annotated[
        Optional[int],
        typer.Option(
            metavar="N",
            min=1,
            help=(
                f"Refuse images whose header claims more pixels than N (decompression bombs; each page of a "
                f"TIFF, and all its pages together 10 times N) [default: ${MAX_PIXELS_ENV} or 200000000]."
            ),
        ),
    ] = None,
    inline: Annotated[
        bool,
        typer.Option(
            help=(
                "Carry each image's bytes in its record (data), for hosts without the files; best with --format "
                "msgpack."
            )
        ),
    ] = False,
    rehash: Annotated[
        bool,
        typer.Option(
            help="Read and hash every file, even one whose size, times and inode are unchanged since the last import."
        ),
    ] = False,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Import images into a dataset, the old recops dataset-import-images without detection.

    JPEG, PNG, WebP, HEIC/HEIF, AVIF, TIFF (every page), GIF and BMP (the first frame) are
    imported, told by content, not by file name; anything else (a video, a PDF) gets an error
    record, as does a truncated or corrupt image (each is read through once here). The same
    bytes are stored once however often and under whatever names they come; each image record
    lists every original path seen. Folders given as arguments are walked (hidden entries
    skipped, symlinked folders not followed). Re-running after Ctrl-C or a crash finishes the
    job without storing anything twice. A file whose size, times and inode have not changed
    since it was last imported is not read again (--rehash reads it).

    With no dataset (-d or $RX_DATASET) nothing is stored: images are checked and described, so
    rx-import works as the first filter of a pipeline. A -d folder that does not exist yet is
    created as a dataset with the default detector and model.

    Records that are not images pass through unchanged.
    """
    with running("rx-import", fmt, verbose, quiet) as out:
        dataset = None
        if root:
            dataset, created = open_or_create(root)
            if created:
                logger.warning(
                    "created dataset %s (detector %s, model %s)",
                    dataset.root,
                    dataset.config.detector,
                    dataset.config.model,
                )
        with dataset or contextlib.nullcontext():
            with Importer(dataset, out, consent, max_pixels or default_max_pixels(), inline, rehash) as importer:
                for path in paths or ["-"]:
                    if path == "-":
                        if sys.stdin.isatty():
                            logger.warning("reading paths from the terminal; end with Ctrl-D")
                        importer.add_items(read_items(sys.stdin.buffer, null))
                    else:
                        importer.add_arguments([path])
            logger.info(
                "%d images: %d new, %d known; %d failed",
                importer.new + importer.known,
                importer.new,
                importer.known,
                out.failures,
            )


def main() -> None:
    app(prog_name="rx-import")
