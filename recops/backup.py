"""Backup to one zip, and restore from it, trusting nothing the zip says.

A backup holds the config, every object, every record file and the search index (derived, but
kept so a restored dataset answers exactly as the original did). It leaves out the lock and the
cache of which local files were already hashed. `unzip` restores it as well: members are plain
relative paths.

A restore reads the whole central directory first and refuses, before it writes anything, a
member outside the dataset's layout, a link, an encrypted or duplicate member, a config that is
not one, and an archive over its limits (size, member count, compression ratio). It unpacks into a
staging folder beside the target, holding each member to the size it declared, and renames the
folder into place: all or nothing. The staging folder carries the restoring process's id and its
flock, so the next restore into the same target removes what a killed one left.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import stat
import time
import zipfile
import zlib
from collections import Counter
from pathlib import PurePosixPath
from typing import Iterator

from .errors import DatasetError, UsageError
from .index import INDEX_DIR, INDEX_REL, MAX_ANN
from .outputs import atomic_output
from .records import timestamp
from .store.config import CONFIG_NAME, MAX_CONFIG, NAME_RE, parse
from .store.dataset import Dataset, find_datasets
from .store.layout import CACHE, LOG_RE
from .store.objects import FAN_RE, MAX_OBJECT, ObjectStore
from .store.objects import FOLDER as OBJECTS
from .store.segments import FOLDER as RECORDS
from .store.segments import MAX_SEGMENT, SEGMENT_RE
from .store.tree import MiB, Tree

logger = logging.getLogger("recops")


def _members(dataset: Dataset) -> Iterator[tuple[str, int]]:
    """(name, size limit) of every file a backup holds, as the dataset's own views list them: only
    regular files, never through a link."""
    yield CONFIG_NAME, MAX_CONFIG
    for id in dataset.objects.ids():
        yield ObjectStore.rel(id), MAX_OBJECT
    for record_log in dataset.logs():
        for segment in record_log.segments():
            yield segment.rel, MAX_SEGMENT
    for entry in dataset.tree.entries(INDEX_REL):
        if entry.is_file and not entry.hidden:
            yield f"{INDEX_REL}/{entry.name}", MAX_ANN


def backup(dataset: Dataset, output: str) -> dict:
    """Write the zip atomically; objects stored as they are (JPEG and PNG do not shrink)."""
    with atomic_output(output) as temp, zipfile.ZipFile(temp, "w", allowZip64=True) as archive:
        count, size = _add(archive, "", dataset)
    return {"type": "backup", "dataset": dataset.root, **_written(output, count, size)}


def backup_all(folder: str, output: str) -> dict:
    """Every dataset in or below `folder` in one zip, each in its folder there (NAME/recops.json,
    NAME/objects/...): unzipped, the folder holds them again; restore() takes it too."""
    roots = [root for root in find_datasets(folder) if os.path.abspath(root) != os.path.abspath(folder)]
    if not roots:
        raise UsageError(f"{folder}: no datasets to back up; give -d for one elsewhere")
    count = size = 0
    with atomic_output(output) as temp, zipfile.ZipFile(temp, "w", allowZip64=True) as archive:
        for root in roots:
            with Dataset.open(root) as dataset:
                added = _add(archive, os.path.relpath(root, folder).replace(os.sep, "/") + "/", dataset)
            count, size = count + added[0], size + added[1]
    return {"type": "backup", "datasets": roots, **_written(output, count, size)}


def _add(archive: zipfile.ZipFile, prefix: str, dataset: Dataset) -> tuple[int, int]:
    count = size = 0
    for member, limit in _members(dataset):
        with dataset.tree.opened(member, limit) as fd, os.fdopen(fd, "rb", closefd=False) as source:
            facts = os.fstat(fd)
            info = zipfile.ZipInfo(prefix + member, time.localtime(max(facts.st_mtime, 315532800))[:6])
            info.external_attr = (stat.S_IFREG | stat.S_IMODE(facts.st_mode)) << 16
            info.file_size = facts.st_size
            info.compress_type = zipfile.ZIP_STORED if member.startswith(OBJECTS) else zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=facts.st_size > 1 << 31) as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        count += 1
        size += facts.st_size
    return count, size


def _written(output: str, count: int, size: int) -> dict:
    return {"file": os.path.abspath(output), "files": count, "bytes": size, "ts": timestamp()}


MAX_SIZE = 1 << 40
"""Absolute cap on what a backup may unpack to, unless raised (max_size); the target's free
space is the other bound."""
MAX_MEMBERS = 2_000_000
MAX_RATIO = 100
"""Objects are stored as they are (ratio 1) and record segments deflate a few times; a member or
an archive that inflates a hundredfold is a zip bomb."""
RATIO_FROM = MiB
"""Below this a member cannot hurt, and tiny files may compress well; the overall ratio still counts them."""
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_STAGING = ".restore-{name}-{pid}"
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_ENCRYPTED, _STRONG_ENCRYPTION = 0x1, 0x40
_LOCAL_HEADER = 30
_DAMAGED = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
)
"""What zipfile raises on a damaged or unsupported archive."""
_INDEX_FILE = re.compile(r"^(.+)\.(?:angular|euclidean)\.(?:meta|[0-9a-f]{12}\.(?:ann|hnsw))$")


def _index_file(name: str) -> bool:
    """<model>.<space>.meta and <model>.<space>.<build>.ann (or .hnsw), as build_index writes them."""
    match = _INDEX_FILE.fullmatch(name)
    return match is not None and NAME_RE.fullmatch(match[1]) is not None


_LEVELS = {
    OBJECTS: (FAN_RE.fullmatch, re.compile(r"[0-9a-f]{30}").fullmatch),
    RECORDS: (LOG_RE.fullmatch, SEGMENT_RE.fullmatch),
    CACHE: (INDEX_DIR.__eq__, _index_file),
}
"""The names a backup holds below each folder, level by level; the last level is files. fullmatch:
a pattern's $ would let a name end in a newline."""


def _in_layout(name: str) -> bool:
    """The config, or a folder (its name ends in /) or file of objects/, records/ or cache/index/."""
    *folders, file = name.split("/")
    if not folders:
        return file == CONFIG_NAME
    levels = _LEVELS.get(folders[0], ())
    names = folders[1:] + [file] if file else folders[1:]
    return (
        bool(levels)
        and (len(names) == len(levels) if file else len(names) < len(levels))
        and all(level(part) for level, part in zip(levels, names))
    )


def parse_size(text: str) -> int:
    """Bytes from `123`, `500M`, `2G`, `1T` (powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*", text, re.I)
    if not match or int(match[1]) == 0:
        raise UsageError(f"{text!r} is not a size: give bytes, or a number with K, M, G or T")
    return int(match[1]) * _SIZE_UNITS[match[2].upper()]


def _escapes(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.parts or "\\" in name or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]


_FOLDER_NAME = re.compile(r"[^./\\\x00-\x1f][^/\\\x00-\x1f]{0,254}")
"""A folder a backup of several datasets puts one in: no hidden name, no control character."""


def _dataset_folders(infos: list[zipfile.ZipInfo]) -> list[str]:
    """Where the archive's datasets go: [""] for a backup of one (recops.json at the top), else the
    folder ("NAME/", "cases/NAME/") of each NAME/recops.json, as backup_all writes them."""
    names = {i.filename for i in infos}
    if CONFIG_NAME in names:
        return [""]
    folders = sorted(
        n.removesuffix(CONFIG_NAME)
        for n in names
        if n.endswith("/" + CONFIG_NAME) and all(_FOLDER_NAME.fullmatch(p) for p in n.split("/")[:-1])
    )
    for outer, inner in zip(folders, folders[1:]):
        if inner.startswith(outer):
            raise DatasetError(f"{inner}{CONFIG_NAME}: a dataset inside the dataset {outer}: not a recops backup")
    return folders


def _inside(name: str, folders: list[str]) -> str | None:
    """The member's name within its dataset; "" for a folder on the way to datasets; None for
    anything else."""
    for folder in folders:
        if name.startswith(folder):
            return name[len(folder) :]
        if name.endswith("/") and folder.startswith(name):
            return ""
    return None


def _check_member(info: zipfile.ZipInfo, max_ratio: float, folders: list[str]) -> str | None:
    """Why a member may not be restored, or None."""
    name = info.filename
    kind = stat.S_IFMT(info.external_attr >> 16)
    if _escapes(name):
        return "its path leaves the target folder"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "it is a link or a special file"
    inner = _inside(name, folders)
    if inner is None or (inner or not name.endswith("/")) and not _in_layout(inner):
        return f"it is not part of a dataset ({CONFIG_NAME}, objects/, records/, cache/index/)"
    if kind and (kind == stat.S_IFDIR) != info.is_dir():
        return "its name and its type disagree about being a folder"
    if info.flag_bits & (_ENCRYPTED | _STRONG_ENCRYPTION):
        return "it is encrypted (recops backup never encrypts)"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"compression method {info.compress_type} is not one recops backup uses"
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        return f"it is stored uncompressed, yet declares {info.file_size:,} bytes in {info.compress_size:,}"
    if info.file_size > RATIO_FROM and info.file_size > max_ratio * max(info.compress_size, 1):
        return (
            f"it inflates {info.compress_size:,} bytes to {info.file_size:,} (more than {max_ratio:g} to 1: a zip bomb)"
        )
    return None


def _check_archive(
    archive: zipfile.ZipFile, label: str, max_size: int, size_limit: str, max_members: int, max_ratio: float
) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """The members to restore and the folders of its datasets, once the whole central directory
    passes; DatasetError otherwise."""
    infos = archive.infolist()
    if len(infos) > max_members:
        raise DatasetError(
            f"{label}: {len(infos):,} members, more than the {max_members:,} a restore "
            "takes (raise it with --max-members); nothing restored"
        )
    folders = _dataset_folders(infos)
    if not folders:
        raise DatasetError(f"{label}: no {CONFIG_NAME} at the top, nor in folders: not a recops backup")
    refused = [(i.filename, why) for i in infos if (why := _check_member(i, max_ratio, folders))]
    refused += [
        (name, "the archive holds two members of that name")
        for name, count in Counter(i.filename for i in infos).items()
        if count > 1
    ]
    if refused:
        name, why = refused[0]
        raise DatasetError(
            f"{label}: refusing member {name!r}: {why} "
            f"({len(refused)} such member{'s' if len(refused) > 1 else ''}); nothing restored"
        )
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for first, second in zip(ordered, ordered[1:]):
        if first.header_offset + _LOCAL_HEADER + first.compress_size > second.header_offset:
            raise DatasetError(
                f"{label}: members {first.filename!r} and {second.filename!r} share their bytes "
                "(an overlapping zip bomb); nothing restored"
            )
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > max_size:
        raise DatasetError(f"{label}: unpacks to {total:,} bytes, more than {size_limit}; nothing restored")
    if total > RATIO_FROM and total > max_ratio * max(packed, 1):
        raise DatasetError(
            f"{label}: inflates {packed:,} bytes to {total:,} (more than {max_ratio:g} to 1: "
            "a zip bomb); nothing restored"
        )
    for folder in folders:
        config = archive.getinfo(folder + CONFIG_NAME)
        if config.file_size > MAX_CONFIG:
            raise DatasetError(f"{label}: {config.filename} of {config.file_size:,} bytes is not a config")
        parse(b"".join(_chunks(archive, config, label)), f"{label}:{config.filename}")
    return infos, folders


def restore(
    archive_path: str,
    target: str,
    max_size: int | None = None,
    max_members: int = MAX_MEMBERS,
    max_ratio: float = MAX_RATIO,
) -> dict:
    """Unpack a backup into `target` (new, or an empty folder), all or nothing.

    `max_size` bounds the bytes unpacked [default: the free space where the target goes, at most
    MAX_SIZE]. Every refusal is a UsageError (the target) or a DatasetError (the archive), raised
    before anything is written.
    """
    parent, name, parent_fd = _place(target)
    try:
        free = os.statvfs(parent_fd)
        free = free.f_bavail * free.f_frsize
        if max_size is not None:
            limit, size_limit = max_size, f"the limit of {max_size:,} bytes"
        elif free < MAX_SIZE:
            limit, size_limit = free, f"the {free:,} bytes free where it goes (--max-size overrides)"
        else:
            limit, size_limit = MAX_SIZE, f"the limit of {MAX_SIZE:,} bytes (raise it with --max-size)"
        with _opened_zip(archive_path) as archive:
            try:
                infos, folders = _check_archive(archive, archive_path, limit, size_limit, max_members, max_ratio)
                _clear_leftovers(parent_fd, parent, name, target)
                with _staging(parent_fd, parent, name) as (staged, tree):
                    size = _extract(archive, infos, tree, archive_path, folders)
                    try:
                        os.rename(staged, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
                    except OSError as exc:
                        raise UsageError(f"{target}: cannot restore there: {exc.strerror}; nothing restored") from None
                    os.fsync(parent_fd)
            except OSError as exc:
                raise DatasetError(f"{target}: cannot restore there: {exc.strerror or exc}; nothing restored") from None
    finally:
        os.close(parent_fd)
    where = os.path.join(parent, name)
    return {
        "type": "restore",
        "file": os.path.abspath(archive_path),
        **(
            {"dataset": where}
            if folders == [""]
            else {"folder": where, "datasets": [os.path.join(where, f.rstrip("/")) for f in folders]}
        ),
        "files": sum(not i.is_dir() for i in infos),
        "bytes": size,
        "ts": timestamp(),
    }


def _place(target: str) -> tuple[str, str, int]:
    """The target's parent folder, its name there and an open handle on the parent, once the target
    can take a restore: absent or an empty real folder, in a folder that exists and is writable."""
    parent, name = os.path.split(os.path.abspath(target))
    if not name:
        raise UsageError(f"{target}: not a folder to restore into")
    try:
        parent_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UsageError(f"{parent}: no such folder; create it first") from None
    except NotADirectoryError:
        raise UsageError(f"{parent}: not a folder, so {name} cannot go there") from None
    except OSError as exc:
        raise UsageError(f"{parent}: {exc.strerror or exc}") from None
    try:
        try:
            mode = os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISLNK(mode):
            raise UsageError(f"{target}: a symbolic link; restore into a real folder, not through a link")
        if mode is not None and not stat.S_ISDIR(mode):
            raise UsageError(f"{target}: exists and is not a folder")
        if mode is not None and _listing(parent_fd, name):
            raise UsageError(f"{target}: exists and is not empty; restore into a new folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UsageError(f"{parent}: cannot write there: permission denied")
    except BaseException:
        os.close(parent_fd)
        raise
    return parent, name, parent_fd


def _listing(parent_fd: int, name: str) -> list[str]:
    fd = os.open(name, _FOLDER, dir_fd=parent_fd)
    try:
        return os.listdir(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _opened_zip(path: str) -> Iterator[zipfile.ZipFile]:
    try:
        # O_NONBLOCK: a FIFO named as the backup would otherwise wait for a writer for ever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UsageError(f"{path}: not a regular file")
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as handle:
        try:
            archive = zipfile.ZipFile(handle)
        except (*_DAMAGED, OSError) as exc:
            raise DatasetError(f"{path}: not a readable zip: {exc}") from None
        with archive:
            yield archive


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _clear_leftovers(parent_fd: int, parent: str, name: str, target: str) -> None:
    """Remove the staging folders of restores into `target` that were killed: their flock is free
    and their process is gone. One whose process still runs is left alone."""
    pattern = re.compile(re.escape(_STAGING.format(name=name, pid="")) + r"(\d+)")
    for entry in sorted(os.listdir(parent_fd)):
        match = pattern.fullmatch(entry)
        if not match:
            continue
        pid, shown = int(match[1]), os.path.join(parent, entry)
        try:
            fd = os.open(entry, _FOLDER, dir_fd=parent_fd)
        except OSError:
            logger.warning("%s: not a folder a restore left behind; left alone", shown)
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(
                    f"{target}: another restore into it is running (process {pid}); nothing restored"
                ) from None
            # A free lock and a live process: a restore that has made its folder and not yet
            # locked it, or a new process that reuses the id.
            if pid != os.getpid() and _alive(pid):
                logger.warning("%s: left alone, process %d still runs", shown, pid)
                continue
            try:
                shutil.rmtree(entry, dir_fd=parent_fd)
            except OSError as exc:
                raise DatasetError(
                    f"{shown}: cannot remove what a killed restore left: {exc.strerror or exc}"
                ) from None
            logger.warning("removed %s, left by a restore into %s that was killed (process %d)", shown, target, pid)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _staging(parent_fd: int, parent: str, name: str) -> Iterator[tuple[str, Tree]]:
    """A new private folder beside the target, locked while this process lives, removed on failure."""
    staged = _STAGING.format(name=name, pid=os.getpid())
    try:
        os.mkdir(staged, 0o700, dir_fd=parent_fd)
    except OSError as exc:
        raise UsageError(f"{parent}: cannot write there: {exc.strerror or exc}") from None
    fd = os.open(staged, _FOLDER, dir_fd=parent_fd)
    tree = Tree(os.path.join(parent, staged))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.fchmod(fd, 0o700)
        if not os.path.samestat(os.fstat(fd), os.fstat(tree.folder(""))):
            raise DatasetError(f"{tree.root}: replaced while restoring into it; nothing restored")
        yield staged, tree
    except BaseException:
        shutil.rmtree(staged, dir_fd=parent_fd, ignore_errors=True)
        raise
    finally:
        tree.close()
        os.close(fd)


def _extract(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], tree: Tree, label: str, folders: list[str]) -> int:
    """Write every member into the tree, synced, objects and records read-only; the bytes written."""
    written = 0
    folders = {""}
    for info in infos:
        folder, _, name = info.filename.rstrip("/").rpartition("/")
        if info.is_dir():
            folders.add(info.filename.rstrip("/"))
            tree.folder(info.filename.rstrip("/"), create=True)
            continue
        folders.add(folder)
        fd = os.open(
            name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=tree.folder(folder, create=True),
        )
        with os.fdopen(fd, "wb") as sink:
            for chunk in _chunks(archive, info, label):
                sink.write(chunk)
            written += info.file_size
            sink.flush()
            os.fchmod(
                fd, 0o400 if (_inside(info.filename, folders) or "").split("/")[0] in (OBJECTS, RECORDS) else 0o600
            )
            os.fsync(fd)
    for folder in sorted(folders):
        tree.sync(folder)
    return written


def _chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> Iterator[bytes]:
    """The member's bytes as they inflate, held to the size it declared (which the limits were
    checked against); a damaged member is a DatasetError, not an error of the target."""
    left = info.file_size
    try:
        with archive.open(info) as source:
            while chunk := source.read(min(MiB, left + 1)):
                if len(chunk) > left:
                    raise DatasetError(
                        f"{label}: member {info.filename!r} inflates to more than the "
                        f"{info.file_size:,} bytes it declares (a zip bomb); nothing restored"
                    )
                left -= len(chunk)
                yield chunk
    except (*_DAMAGED, OSError) as exc:
        raise DatasetError(f"{label}: damaged or unsupported archive: {exc}; nothing restored") from None
    if left:
        raise DatasetError(
            f"{label}: member {info.filename!r} holds less than the {info.file_size:,} bytes "
            "it declares; nothing restored"
        )
