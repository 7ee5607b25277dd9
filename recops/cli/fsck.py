"""rx-fsck: check a dataset's objects and record files."""

from typing import Annotated, Optional

import typer

from ..errors import DamagedError, UsageError
from ..fsck import fsck, parse_sample
from ..store.dataset import Dataset
from .common import DatasetOpt, FormatOpt, QuietOpt, VerboseOpt, new_app, running

app = new_app()


@app.command()
def rx_fsck(
    root: DatasetOpt = None,
    sample: Annotated[
        Optional[str],
        typer.Option(
            metavar="N|P%",
            help=(
                "Re-hash only N objects, or P percent of them, chosen at random (a cheap cron check); record files "
                "are always checked."
            ),
        ),
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the --sample choice, to repeat a check.")] = None,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Check a dataset: its files, every record file and record, and its objects against their names.

    Damage (an object whose bytes changed, a torn or altered record file, an invalid record, an
    image record whose object is missing) and danger (a symbolic link, a FIFO, a device or an
    oversized file anywhere in the dataset) are error records; harmless leftovers of interrupted
    writes or syncs, and files recops did not write, are warning records. Nothing is followed,
    and no file is read for longer than a minute. Ends with an fsck record of counts. Exits 5
    when anything is damaged or dangerous. Run it after every sync.
    """
    with running("rx-fsck", fmt, verbose, quiet) as out:
        try:
            share = parse_sample(sample)
        except ValueError as exc:
            raise UsageError(f"--sample {sample}: {exc}") from None
        if not root:
            raise UsageError("give the dataset to check: -d DIR or $RX_DATASET")
        with Dataset.open(root, inspect=True) as dataset:
            report = fsck(dataset, out, share, seed)
        if report.problems:
            raise DamagedError(f"{report.problems} problem(s) found in {dataset.root}")


def main() -> None:
    app(prog_name="rx-fsck")
