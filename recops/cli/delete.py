"""rx-delete: delete faces and images (tombstones; rx-gc reclaims the space)."""

from typing import Annotated, Optional

import typer

from ..deletions import Deleter
from ..stages.edits import delete_each
from .common import DatasetOpt, FormatOpt, NullOpt, QuietOpt, VerboseOpt, new_app, running
from .existing import existing_dataset
from .pipeline import inputs

app = new_app()


@app.command()
def rx_delete(
    ids: Annotated[
        Optional[list[str]],
        typer.Argument(
            metavar="ID...",
            help=(
                "Face or image ids (or unique starts of them, as tables show them); without any, ids or face and "
                "image records are read from stdin."
            ),
        ),
    ] = None,
    root: DatasetOpt = None,
    null: NullOpt = False,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Delete faces and images from a dataset, for good.

    Writes a deletion record (a tombstone) for each; every view honours it from then on:
    rx-ls, identities and their face counts, rx-match and proposals. Deleting an image deletes
    its faces. A deletion is final: importing the same bytes again, or detecting the same faces
    again, does not bring them back. The bytes stay on disk until rx-gc reclaims them.

        rx-ls faces -d case.rx | jq -c 'select(.confidence < 0.5)' | rx-delete
    """
    with running("rx-delete", fmt, verbose, quiet) as out:
        with existing_dataset(root, inputs(ids, null), "rx-delete") as (dataset, items):
            delete_each(Deleter(dataset), items, out)


def main() -> None:
    app(prog_name="rx-delete")
