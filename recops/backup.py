"""Backup to one zip, and restore from it, refusing anything that would land outside the target.

A backup holds the config, every object, every record file and the search index (derived, but
kept so a restored dataset answers exactly as the original did). It leaves out the lock and the
cache of which local files were already hashed. `unzip` restores it as well: members are plain
relative paths.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import PurePosixPath

from .errors import DatasetError, UsageError
from .records import timestamp
from .store.atomic import atomic_output, fsync_dir, is_temp
from .store.config import CONFIG_NAME
from .store.dataset import Dataset, is_dataset

_INCLUDE = (CONFIG_NAME, "objects", "records", os.path.join("cache", "index"))


def _members(root: str):
    for top in _INCLUDE:
        path = os.path.join(root, top)
        if os.path.isfile(path):
            yield top
            continue
        for directory, subdirs, files in os.walk(path):
            subdirs.sort()
            for name in sorted(files):
                if not is_temp(name) and not name.endswith(".tmp"):
                    yield os.path.relpath(os.path.join(directory, name), root)


def backup(dataset: Dataset, output: str) -> dict:
    """Write the zip atomically; objects stored as they are (JPEG and PNG do not shrink)."""
    count = size = 0
    with atomic_output(output) as temp, zipfile.ZipFile(temp, "w", allowZip64=True) as archive:
        for member in _members(dataset.root):
            path = os.path.join(dataset.root, member)
            info = zipfile.ZipInfo.from_file(path, member.replace(os.sep, "/"))
            info.compress_type = zipfile.ZIP_STORED if member.startswith("objects") else zipfile.ZIP_DEFLATED
            with open(path, "rb") as handle:
                data = handle.read()
            archive.writestr(info, data)
            count += 1
            size += len(data)
    return {"type": "backup", "dataset": dataset.root, "file": os.path.abspath(output), "files": count,
            "bytes": size, "ts": timestamp()}


def _check_member(info: zipfile.ZipInfo) -> str | None:
    """Why a member may not be restored, or None."""
    name = info.filename
    path = PurePosixPath(name)
    mode = info.external_attr >> 16
    if not path.parts or "\\" in name or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        return "its path leaves the target folder"
    if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "it is a link or a special file"
    return None


def restore(archive_path: str, target: str) -> dict:
    """Unpack a backup into `target` (new, or an empty folder), all or nothing."""
    if os.path.exists(target) and (not os.path.isdir(target) or os.listdir(target)):
        raise UsageError(f"{target}: exists and is not empty; restore into a new folder")
    try:
        archive = zipfile.ZipFile(archive_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{archive_path}: not a readable zip: {exc}") from None
    with archive:
        infos = archive.infolist()
        refused = [(i.filename, why) for i in infos if (why := _check_member(i))]
        if refused:
            name, why = refused[0]
            raise DatasetError(f"{archive_path}: refusing member {name!r}: {why} "
                               f"({len(refused)} such member{'s' if len(refused) > 1 else ''}); nothing restored")
        if CONFIG_NAME not in {i.filename for i in infos}:
            raise DatasetError(f"{archive_path}: no {CONFIG_NAME} at the top: not a recops backup")
        parent = os.path.dirname(os.path.abspath(target))
        os.makedirs(parent, exist_ok=True)
        staging = os.path.join(parent, f".restore-{os.path.basename(target)}-{os.getpid()}")
        os.makedirs(staging, mode=0o700)
        try:
            for info in infos:
                if info.is_dir():
                    continue
                path = os.path.join(staging, *PurePosixPath(info.filename).parts)
                os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
                with archive.open(info) as source, open(path, "xb") as sink:
                    shutil.copyfileobj(source, sink)
                    sink.flush()
                    os.fsync(sink.fileno())
                os.chmod(path, 0o400 if info.filename.startswith(("objects/", "records/")) else 0o600)
            os.chmod(staging, 0o700)
            if os.path.isdir(target):
                os.rmdir(target)
            os.rename(staging, target)
            fsync_dir(parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    if not is_dataset(target):
        raise DatasetError(f"{target}: restored, but it is not a dataset")
    return {"type": "restore", "file": os.path.abspath(archive_path), "dataset": os.path.abspath(target),
            "files": sum(not i.is_dir() for i in infos), "ts": timestamp()}
