"""rx-detect: find faces in images."""

from typing import Annotated, Optional

import typer

from ..errors import DatasetError
from ..pixels import DEFAULT_MAX_SIDE
from ..stages.detection import DetectOptions, FaceDetection
from ..video.sampling import MAX_FPS
from .common import DatasetOpt, FormatOpt, NullOpt, QuietOpt, VerboseOpt, new_app, running
from .pipeline import ForceOpt, JobsOpt, inputs, jobs, stream_dataset

app = new_app()


@app.command()
def rx_detect(
    paths: Annotated[
        Optional[list[str]],
        typer.Argument(
            metavar="PATH...", help="Image files or folders; without any, image records (or paths) are read from stdin."
        ),
    ] = None,
    root: DatasetOpt = None,
    detector: Annotated[
        Optional[str],
        typer.Option(
            metavar="NAME", help="Any deepface detector (rx-models lists them) [default: the dataset's, else dlib]."
        ),
    ] = None,
    align: Annotated[
        bool, typer.Option("--align/--no-align", help="Record landmarks for aligning each face before it is embedded.")
    ] = True,
    min_size: Annotated[
        int,
        typer.Option(
            metavar="PX",
            min=0,
            help=(
                "Drop faces smaller than PX pixels (width or height, full image); the search for small faces "
                "stops at PX, and is skipped where the first search sees that small."
            ),
        ),
    ] = 0,
    max_side: Annotated[
        int,
        typer.Option(
            metavar="PX",
            min=1,
            help=(
                "Search images scaled down to at most PX pixels on their long side; boxes are given in full-size "
                "pixels."
            ),
        ),
    ] = DEFAULT_MAX_SIDE,
    fps: Annotated[
        float,
        typer.Option(
            metavar="N",
            min=0.01,
            max=MAX_FPS,
            help="Search N frames a second of a video (and the first frame of every shot).",
        ),
    ] = DetectOptions.fps,
    keep: Annotated[
        int,
        typer.Option(metavar="N", min=1, help="Keep the N best sightings of each face followed through a video."),
    ] = DetectOptions.keep,
    force: ForceOpt = False,
    workers: JobsOpt = None,
    null: NullOpt = False,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Find the faces in images, the detection step of the old recops imports.

    Reads image records (from rx-import) or paths. For each image it passes the image record
    on, then writes a face record per face (box, landmarks, confidence, detector) and a
    detection record listing them; an image without a face gets a detection record with count 0.

    With a dataset (-d, $RX_DATASET, or the one the image records come from) paths are imported
    first, results are stored, and a re-run reuses them unless --force. Without one it is a pure
    filter. EXIF orientation is honoured; greyscale, palette, alpha, CMYK and 16-bit images work.
    Every page of a multi-page TIFF is searched: a face on a later page says which (page, from
    0), and the one detection record covers them all.

    In a video, --fps frames a second are searched, and the first frame of every shot; a face
    is followed from frame to frame into a track (which ends at a cut, or when the face is gone
    for more than 2.5 s), and each track keeps its --keep best sightings as face records, each
    with the time of its frame (seconds), its track (a number) and the track's span. A damaged
    stretch is skipped: the faces of the rest are kept, the detection record lists the gaps, and
    an error record says what was lost.

    The default detector, dlib, is HOG with 5-point landmarks; where HOG finds no face, the SSD
    detector looks again. It sees faces down to 40 pixels wide in the photo fitted to --max-side;
    where it found none, or found faces near that limit (a crowd), the photo is searched again,
    enlarged in tiles, for faces down to 20 pixels wide (or --min-size).
    """
    with running("rx-detect", fmt, verbose, quiet) as out:
        with stream_dataset(root, inputs(paths, null)) as (dataset, items):
            name = detector or (dataset.config.detector if dataset else "dlib")
            if dataset and name != dataset.config.detector:
                raise DatasetError(f"{dataset.root} uses the {dataset.config.detector} detector, not {name}")
            options = DetectOptions(name, align, min_size, max_side, fps, keep)
            FaceDetection(out, options, dataset, jobs(workers), force).run(items)


def main() -> None:
    app(prog_name="rx-detect")
