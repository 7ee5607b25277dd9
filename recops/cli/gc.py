"""rx-gc: reclaim space after deletions, merge small record files."""

from typing import Annotated

import typer

from ..errors import UsageError
from ..gc import collect_garbage
from ..store.dataset import Dataset
from .common import DatasetOpt, FormatOpt, QuietOpt, VerboseOpt, new_app, running

app = new_app()


@app.command()
def rx_gc(
    root: DatasetOpt = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Wait for other recops processes on the dataset to finish, instead of giving up (exit 6).",
        ),
    ] = False,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Reclaim the space deletions free and merge small record files.

    Removes the objects of deleted images, objects no record names (what an interrupted import
    leaves; re-importing stores them again), and temp files of interrupted writes; drops records
    that speak only of deleted faces or images (tombstones stay), merges record files under
    4 MiB into one, and rebuilds the search indexes compaction made stale. Takes the dataset's
    exclusive lock; an interrupted rx-gc can simply be run again. Refuses a dataset with a damaged
    record file. Writes a gc record.
    """
    with running("rx-gc", fmt, verbose, quiet) as out:
        if not root:
            raise UsageError("give the dataset: -d DIR or $RX_DATASET")
        with Dataset.open(root, exclusive=True, wait=wait) as dataset:
            out.emit(collect_garbage(dataset).record(dataset))


def main() -> None:
    app(prog_name="rx-gc")
