"""recops migrate: the original recops's cases, carried into recops datasets."""

from typing import Annotated, Optional

import typer

from ...migration import migrate
from ...migration.original import database_file, default_locations, storage_folder
from ...store.dataset import home
from .shared import app, run, show


@app.command("migrate")
def migrate_command(
    database: Annotated[
        Optional[str],
        typer.Option(
            "--database",
            "--database-uri",
            metavar="FILE|URI",
            help="The original's SQLite database: a file or its DATABASE_URI (sqlite:///PATH) "
            "[default: $DATABASE_URI, else ~/.recops/data/recops.db].",
        ),
    ] = None,
    storage: Annotated[
        Optional[str],
        typer.Option(
            "--storage",
            "--storage-uri",
            metavar="DIR|URI",
            help="The original's storage folder: a folder or its STORAGE_URI (file:///PATH) "
            "[default: $STORAGE_URI, else ~/.recops/data].",
        ),
    ] = None,
    into: Annotated[
        Optional[str],
        typer.Option(
            "--into", metavar="DIR", help="Where the datasets go, one per original dataset [default: $RECOPS_HOME]."
        ),
    ] = None,
    model: Annotated[
        Optional[str],
        typer.Option(
            "--model",
            "--basemodel",
            metavar="NAME",
            help="Recognition model of the datasets written, instead of the original's (needed for its "
            "Boosting, which has no equivalent; Dlib runs here out of the box).",
        ),
    ] = None,
    check: Annotated[bool, typer.Option("--check/--no-check", help="Run rx-fsck over each dataset written.")] = True,
) -> None:
    """Migrate the original recops's database and files into recops datasets, one per original dataset.

    Reads the database read-only and its storage folder without writing or following links; each
    dataset goes under its name (made safe) in $RECOPS_HOME. Images, faces with their boxes,
    identities with names, colours and descriptions, links, consent, age, gender, emotion and race,
    and the matches of recognitions come over; embeddings are computed anew by recops's model
    from the photos. A re-run after an interruption finishes the job and doubles nothing. Ends
    with rx-fsck over each dataset and a table of each kind: in the original, migrated, not
    migrated; each thing not migrated is an error record, and the exit code is 1.
    """
    with run("migrate") as out:
        default_database, default_storage = default_locations()
        tallies = migrate(
            database_file(database) if database else default_database,
            storage_folder(storage) if storage else default_storage,
            into or home(),
            out,
            model=model,
            check=check,
        )
        show([record for tally in tallies for record in tally.records()], "migration", out)
