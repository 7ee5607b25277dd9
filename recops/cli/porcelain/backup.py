"""recops backup, restore and dataset-export."""

from typing import Annotated, Optional

import typer

from ...backup import MAX_MEMBERS, backup, parse_size, restore
from ...errors import DamagedError
from ...export import export
from ...fsck import fsck
from ...store.dataset import Dataset, locate
from ...stream import Emitter
from .shared import DatasetArg, app, run


@app.command("backup")
def backup_command(
    root: DatasetArg,
    output: Annotated[str, typer.Option("-o", "--output", metavar="FILE", help="The zip to write.")] = "backup.zip",
) -> None:
    """Back a dataset up into one zip: config, objects, records and search index.

    Restore with `recops restore FILE DIR`, or unzip it and point -d at the folder.
    """
    with run("backup") as out:
        with Dataset.open(locate(root)) as dataset:
            out.emit(backup(dataset, output))


@app.command("restore")
def restore_command(
    archive: Annotated[str, typer.Argument(metavar="FILE", help="A zip written by recops backup.")],
    target: Annotated[str, typer.Argument(metavar="DIR", help="A new (or empty) folder for the dataset.")],
    check: Annotated[bool, typer.Option("--check/--no-check", help="Run rx-fsck on the restored dataset.")] = True,
    max_size: Annotated[
        Optional[str],
        typer.Option(
            metavar="SIZE",
            help="Refuse a backup that unpacks to more than SIZE bytes (or K, M, G, T) "
            "[default: the free space where DIR goes, at most 1T].",
        ),
    ] = None,
    max_members: Annotated[
        int, typer.Option(metavar="N", min=1, help="Refuse a backup of more than N files and folders.")
    ] = MAX_MEMBERS,
) -> None:
    """Restore a backup into a new folder, all or nothing.

    Before writing anything, refuses a zip that holds anything but a dataset's own files (recops.json,
    objects/, records/, cache/index/), links, encrypted or duplicate members, or a config that is not
    one, and a zip bomb: more than --max-size unpacked, more than --max-members files, or a member or
    the whole zip inflating more than 100 to 1. Unpacks beside DIR into .restore-DIR-PID and renames
    that into place; a restore that was killed leaves that folder, which the next restore into DIR
    removes.
    """
    with run("restore") as out:
        limit = parse_size(max_size) if max_size is not None else None
        out.emit(restore(archive, target, max_size=limit, max_members=max_members))
        if check:
            problems = Emitter(lambda record: None)
            with Dataset.open(target) as dataset:
                report = fsck(dataset, problems)
            out.emit(report.record(dataset))
            if report.problems:
                raise DamagedError(f"{target}: restored, but rx-fsck finds {report.problems} problem(s)")


@app.command("dataset-export")
def dataset_export_command(
    root: DatasetArg,
    output: Annotated[str, typer.Option("-o", "--output", metavar="FILE", help="The zip to write.")] = "output.zip",
) -> None:
    """Export a dataset as plain files in a zip: images/<id>.<ext>, identities/<name>/<face>.jpg
    (the faces of each identity, cropped) and faces/<face>.jpg (faces of nobody yet)."""
    with run("dataset-export") as out:
        with Dataset.open(locate(root)) as dataset:
            out.emit(export(dataset, output))
