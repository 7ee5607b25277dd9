"""recops backup, restore and dataset-export."""

from typing import Annotated

import typer

from ..backup import backup, restore
from ..errors import DamagedError
from ..export import export
from ..fsck import fsck
from ..store.dataset import Dataset, locate
from ..stream import Emitter
from .porcelain import DatasetArg, app, run


@app.command("backup")
def backup_command(
    dataset: DatasetArg,
    output: Annotated[str, typer.Option("-o", "--output", metavar="FILE", help="The zip to write.")] = "backup.zip",
) -> None:
    """Back a dataset up into one zip: config, objects, records and search index.

    Restore with `recops restore FILE DIR`, or unzip it and point -d at the folder.
    """
    with run("backup") as out:
        with Dataset.open(locate(dataset)) as ds:
            out.emit(backup(ds, output))


@app.command("restore")
def restore_command(
    archive: Annotated[str, typer.Argument(metavar="FILE", help="A zip written by recops backup.")],
    target: Annotated[str, typer.Argument(metavar="DIR", help="A new (or empty) folder for the dataset.")],
    check: Annotated[bool, typer.Option("--check/--no-check", help="Run rx-fsck on the restored dataset.")] = True,
) -> None:
    """Restore a backup into a new folder, all or nothing.

    Refuses archive members that would land outside the folder (absolute paths, ../) and links.
    """
    with run("restore") as out:
        out.emit(restore(archive, target))
        if check:
            problems = Emitter(lambda record: None)
            with Dataset.open(target) as ds:
                report = fsck(ds, problems)
            out.emit(report.record(ds))
            if report.problems:
                raise DamagedError(f"{target}: restored, but rx-fsck finds {report.problems} problem(s)")


@app.command("dataset-export")
def dataset_export_command(
    dataset: DatasetArg,
    output: Annotated[str, typer.Option("-o", "--output", metavar="FILE", help="The zip to write.")] = "output.zip",
) -> None:
    """Export a dataset as plain files in a zip: images/<id>.<ext>, identities/<name>/<face>.jpg
    (the faces of each identity, cropped) and faces/<face>.jpg (faces of nobody yet)."""
    with run("dataset-export") as out:
        with Dataset.open(locate(dataset)) as ds:
            out.emit(export(ds, output))
