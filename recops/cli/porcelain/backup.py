"""recops backup, restore and dataset-export."""

from typing import Annotated, Optional

import typer

from ...backup import MAX_MEMBERS, backup, backup_all, parse_size, restore
from ...errors import DamagedError
from ...export import export
from ...fsck import fsck
from ...store.dataset import Dataset, home, locate
from ...stream import Emitter
from .shared import WHERE, DatasetArg, app, dataset_location, dataset_option, run


@app.command("backup")
def backup_command(
    root: Annotated[
        Optional[str],
        dataset_option(
            f"{WHERE} [default: every dataset under $RECOPS_HOME, as the original backed all up].",
            parser=dataset_location,
        ),
    ] = None,
    output: Annotated[str, typer.Option("-o", "--output", metavar="FILE", help="The zip to write.")] = "backup.zip",
) -> None:
    """Back a dataset up into one zip: config, objects, records and search index; without -d,
    every dataset under $RECOPS_HOME, each in its folder of the zip.

    Restore with `recops restore FILE DIR` (without -d: DIR then holds the datasets; set
    RECOPS_HOME=DIR), or unzip it and point -d (or RECOPS_HOME) at the folder.
    """
    with run("backup") as out:
        if root is None:
            out.emit(backup_all(home(), output))
            return
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
        restored = restore(archive, target, max_size=limit, max_members=max_members)
        out.emit(restored)
        damaged = []
        for root in restored.get("datasets", [target]) if check else ():
            with Dataset.open(root) as dataset:
                report = fsck(dataset, Emitter(lambda record: None))
            out.emit(report.record(dataset))
            damaged += [f"{root}: {report.problems}"] if report.problems else []
        if damaged:
            raise DamagedError(f"restored, but rx-fsck finds problems in {', '.join(damaged)}")


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
