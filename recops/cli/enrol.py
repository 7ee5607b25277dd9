"""rx-enrol: link the one face of each image to an identity."""

import logging
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..identities import IdentityEditor
from ..stages.enrolment import Enrolment, from_folder, named
from .common import DatasetOpt, FormatOpt, NullOpt, QuietOpt, VerboseOpt, new_app, running
from .existing import existing_dataset
from .pipeline import inputs

app = new_app()
logger = logging.getLogger("recops")


@app.command()
def rx_enrol(
    root: DatasetOpt = None,
    identity: Annotated[
        Optional[str],
        typer.Option(
            metavar="NAME|ID",
            help=(
                "Link every face to this identity (created, named NAME, when no identity has this name, id or start "
                "of an id)."
            ),
        ),
    ] = None,
    identity_from_folder: Annotated[
        bool,
        typer.Option(
            "--identity-from-folder",
            help="Link each face to the identity named after the folder holding its image (created when missing).",
        ),
    ] = False,
    output_errors: Annotated[
        Optional[str],
        typer.Option(
            metavar="DIR",
            help="Copy each image without exactly one face into DIR (into DIR/IDENTITY with --identity-from-folder).",
        ),
    ] = None,
    null: NullOpt = False,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Enrol faces: link the one face of each image to an identity, the step of the old imports.

    Reads the records of rx-detect (run with the dataset, which stores the faces). An image must
    show exactly one face: its face is linked to the identity, and the image, face, identity
    (when created), link and detection records pass on, ready for rx-embed. An image with no
    face or several gets an error record saying how many (with --output-errors, a copy of it
    goes there); its faces do not pass on. Without --identity or --identity-from-folder, only
    the one-face rule is checked.

    A re-run links nothing twice, and leaves alone what a person undid since (a pair unlinked
    or rejected is a warning, not a failure). Deleted images and faces stay deleted.

        rx-import -d case.rx people/ | rx-detect | rx-enrol --identity-from-folder | rx-embed
    """
    with running("rx-enrol", fmt, verbose, quiet) as out:
        if identity is not None and identity_from_folder:
            raise UsageError("give --identity or --identity-from-folder, not both")
        with existing_dataset(root, inputs(None, null), "rx-enrol") as (dataset, items):
            enrolment = Enrolment(
                out,
                IdentityEditor(dataset),
                from_folder if identity_from_folder else named(identity),
                errors_to=output_errors,
                errors_in_folders=identity_from_folder,
                names_only=identity_from_folder,
            )
            enrolment.run(items)
            logger.info("%d faces linked; %d failed", enrolment.linked, out.failures)


def main() -> None:
    app(prog_name="rx-enrol")
