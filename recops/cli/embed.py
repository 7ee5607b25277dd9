"""rx-embed: describe each face by a vector."""

from typing import Annotated, Optional

import typer

from ..errors import DatasetError
from ..stages.embedding import EmbedOptions, FaceEmbedding
from .common import DatasetOpt, FormatOpt, NullOpt, QuietOpt, VerboseOpt, new_app, running
from .pipeline import ForceOpt, JobsOpt, inputs, jobs, stream_dataset

app = new_app()


@app.command()
def rx_embed(
    root: DatasetOpt = None,
    model: Annotated[
        Optional[str],
        typer.Option(
            metavar="NAME",
            help="Any deepface recognition model (rx-models lists them) [default: the dataset's, else Dlib].",
        ),
    ] = None,
    flip: Annotated[
        Optional[bool],
        typer.Option(
            "--flip/--no-flip",
            help=(
                "Average each face's vector with its mirror image's: more accurate, twice the work [default: the "
                "dataset's setting, else no]."
            ),
        ),
    ] = None,
    force: ForceOpt = False,
    workers: JobsOpt = None,
    null: NullOpt = False,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Compute an embedding for each face record, the recognition step of the old recops.

    Reads the records of rx-detect. Every record passes on; each face record is followed by its
    embedding record (face, image, model, vector: a float list in JSON, raw little-endian float32
    in msgpack). The faces of an image are embedded together, from one decode of it, in worker
    processes.

    With a dataset (-d, $RX_DATASET, or the one the face records come from) embeddings are
    stored, and a re-run reuses them unless --force. Without one it is a pure filter.
    """
    with running("rx-embed", fmt, verbose, quiet) as out:
        with stream_dataset(root, inputs(None, null)) as (dataset, items):
            name = model or (dataset.config.model if dataset else "Dlib")
            if dataset and name != dataset.config.model:
                raise DatasetError(f"{dataset.root} uses the {dataset.config.model} model, not {name}")
            mirror = flip if flip is not None else bool(dataset and dataset.config.flip)
            if dataset and mirror != dataset.config.flip:
                raise DatasetError(f"{dataset.root} embeds {'with' if dataset.config.flip else 'without'} --flip")
            FaceEmbedding(out, EmbedOptions(name, mirror), dataset, jobs(workers), force).run(items)


def main() -> None:
    app(prog_name="rx-embed")
