"""rx-identity: create, change and delete identities; link, unlink and reject faces."""

import logging
from typing import Annotated, Optional

import typer

from ..errors import InputError, UsageError
from ..identities import IdentityEditor
from ..records import warning_record
from ..stages.edits import link_each
from .common import DatasetListOpt, DatasetOpt, DatasetsOpt, FormatOpt, NullOpt, QuietOpt, VerboseOpt, new_app, running
from .existing import existing_dataset, existing_datasets
from .pipeline import inputs

app = new_app()
logger = logging.getLogger("recops")

IdentityArg = Annotated[str, typer.Argument(metavar="IDENTITY", help="Identity id (or a unique start of it), or name.")]
FacesArg = Annotated[
    Optional[list[str]],
    typer.Argument(
        metavar="FACE...",
        help="Face ids (or unique starts of them); without any, face ids or face records are read from stdin.",
    ),
]
DescriptionOpt = Annotated[Optional[str], typer.Option(metavar="TEXT", help="What the identity stands for.")]
ColorOpt = Annotated[
    Optional[str],
    typer.Option(
        "--color",
        "--colour",
        metavar="COLOR",
        help=(
            "Colour of the identity in reports (CSS, e.g. #00ff01) [default: one of ten that no identity has yet, "
            "else one of the least used]."
        ),
    ),
]


@app.callback()
def rx_identity() -> None:
    """Create, rename and delete identities, and link faces to them, unlink or reject them.

    An identity is a named group of faces: a person, a team, anything a case needs. Each
    operation appends a record (identity or link) to the dataset and writes it on stdout;
    copies of a dataset changed apart merge by copying files both ways, the later statement
    winning. A face has at most one identity. reject says "this face is not this person":
    matching and proposals never pair them again, and imports leave the pair alone.
    """


@app.command()
def create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Name of the new identity.")],
    root: DatasetOpt = None,
    description: DescriptionOpt = None,
    color: ColorOpt = None,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Create an identity with a new id (names may repeat; ids never do)."""
    _one("create", root, fmt, verbose, quiet, lambda editor: editor.create(name, description or "", color))


@app.command()
def update(
    identity: IdentityArg,
    root: DatasetOpt = None,
    name: Annotated[Optional[str], typer.Option(metavar="NAME", help="New name.")] = None,
    description: DescriptionOpt = None,
    color: ColorOpt = None,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Rename an identity, or change its description or colour; its id and links stay."""
    _one("update", root, fmt, verbose, quiet, lambda editor: editor.update(identity, name, description, color))


@app.command()
def delete(
    identity: IdentityArg,
    root: DatasetOpt = None,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Delete an identity: its faces stay, linked to nobody."""
    _one("delete", root, fmt, verbose, quiet, lambda editor: editor.delete(identity))


@app.command()
def merge(
    source: Annotated[
        str, typer.Argument(metavar="SOURCE", help="The identity that goes: id (or a unique start of it), or name.")
    ],
    target: Annotated[
        str, typer.Argument(metavar="TARGET", help="The identity that stays: id (or a unique start of it), or name.")
    ],
    root: DatasetOpt = None,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Merge SOURCE into TARGET: its faces are linked to TARGET, then SOURCE is deleted.

    For two identities that are one: two copies of a dataset that each imported a folder of
    people show each name twice after they merge (ids are made apart); `rx-ls identities` gives
    the ids to merge. A face a person rejected for TARGET is left to nobody, with a warning.
    """
    _one("merge", root, fmt, verbose, quiet, lambda editor: _merged(editor, source, target))


def _merged(editor: IdentityEditor, source: str, target: str) -> list[dict]:
    """The records of a merge, then a warning for each face left to nobody."""
    records, refused = editor.merge(source, target)
    for face in refused:
        logger.warning("%s: left to nobody: a person rejected it for %s", face, target)
    return records + [
        warning_record(face, "merge", f"a person rejected this face for {target}: left to nobody", "rejected")
        for face in refused
    ]


def _one(command: str, root: str | None, fmt, verbose: bool, quiet: bool, operation) -> None:
    """Run one operation on a dataset's identities and write the record (or records) it wrote."""
    with running(f"rx-identity {command}", fmt, verbose, quiet) as out:
        with existing_dataset(root, tool="rx-identity") as (dataset, _):
            try:
                written = operation(IdentityEditor(dataset))
            except InputError as exc:
                raise UsageError(exc.reason) from None
            for record in written if isinstance(written, list) else [written]:
                out.emit(record)


def _linker(op: str, summary: str):
    def command(
        identity: IdentityArg,
        faces: FacesArg = None,
        roots: DatasetsOpt = None,
        listing: DatasetListOpt = None,
        null: NullOpt = False,
        fmt: FormatOpt = "json",
        verbose: VerboseOpt = False,
        quiet: QuietOpt = False,
    ) -> None:
        with running(f"rx-identity {op}", fmt, verbose, quiet) as out:
            with existing_datasets(roots, listing, inputs(faces, null), "rx-identity") as (dataset, shards, items):
                link_each(IdentityEditor(dataset, shards), identity, op, items, out)

    command.__doc__ = summary
    return command


app.command("link")(
    _linker(
        "link",
        """Link faces to an identity (a face linked elsewhere moves here).

Face records on stdin pass on, each followed by its link record; other records pass on
untouched. Linking two faces of one photo to one identity is allowed by hand, with a warning.""",
    )
)
app.command("unlink")(_linker("unlink", "Unlink faces from an identity."))
app.command("reject")(
    _linker(
        "reject",
        """Say that faces are not this identity: unlinks them, and matching,
proposals and imports never pair them with it again (until someone links them by hand).""",
    )
)


def main() -> None:
    app(prog_name="rx-identity")
