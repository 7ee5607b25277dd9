"""A dataset: a plain directory that rsync and git-annex can copy and merge (store/layout.py
names what it holds), opened only when nothing in it would lead recops elsewhere."""

from __future__ import annotations

import os
import stat
from typing import Iterator

from ..errors import DatasetError
from . import config as _config
from . import layout, original_uris
from .lock import DatasetLock
from .objects import ObjectStore
from .segments import RecordLog
from .tree import Tree

ENV_VAR = "RX_DATASET"


def is_dataset(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(os.path.join(path, _config.CONFIG_NAME)).st_mode)
    except OSError:
        return False


def find_datasets(folder: str) -> Iterator[str]:
    """Datasets in `folder` or below it; a dataset's own subfolders are not searched."""
    for directory, subdirs, _ in os.walk(folder):
        subdirs.sort()
        if is_dataset(directory):
            subdirs.clear()
            yield directory
        else:
            subdirs[:] = [d for d in subdirs if not d.startswith(".")]


class Dataset:
    def __init__(self, tree: Tree, config: _config.Config, lock: DatasetLock):
        self.root = tree.root
        self.tree = tree
        self.config = config
        self._lock = lock
        self.objects = ObjectStore(tree)
        self.cache_dir = tree.path(layout.CACHE)
        self._logs: dict[str, RecordLog] = {}

    @classmethod
    def open(cls, root: str, exclusive: bool = False, wait: bool = True, inspect: bool = False) -> "Dataset":
        """Open an existing dataset. One holding a link or a special file where recops goes is
        refused, naming it; `inspect` (rx-fsck) opens it anyway, to report everything."""
        if not os.path.isdir(root):
            raise DatasetError(f"{root}: no such dataset directory; create it with rx-init")
        tree = Tree(os.path.abspath(root))
        try:
            config = _config.load(tree)
            if not inspect:
                found = layout.top_problems(tree)
                if found:
                    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
                    raise DatasetError(
                        f"{found[0].path}: {found[0].reason}{more}; the dataset is not used "
                        "while it holds one: run rx-fsck to list them"
                    )
            return cls(tree, config, DatasetLock(tree).acquire(exclusive, wait))
        except BaseException:
            tree.close()
            raise

    @classmethod
    def create(
        cls,
        root: str,
        detector: str,
        model: str,
        metric: str,
        threshold: float | None = None,
        description: str = "",
        flip: bool = False,
        id: str | None = None,
    ) -> "Dataset":
        """Make a new dataset directory, private to its owner (0700); refuses an existing one.
        `id`: the id of a dataset this one continues elsewhere (recops migrate), else a new one."""
        if is_dataset(root):
            raise DatasetError(f"{root}: already a dataset")
        if os.path.exists(root) and (not os.path.isdir(root) or os.listdir(root)):
            raise DatasetError(f"{root}: exists and is not an empty directory")
        config = _config.Config(detector, model, metric, threshold, flip=flip, description=description)
        if id is not None:
            config.id = id
        try:
            data = _config.encode(config)
        except ValueError as exc:
            raise DatasetError(f"{root}: {exc}") from None
        try:
            os.makedirs(root, mode=0o700, exist_ok=True)
            os.chmod(root, 0o700)
            tree = Tree(os.path.abspath(root))
            for sub in (layout.OBJECTS, layout.RECORDS):
                tree.folder(sub, create=True)
        except OSError as exc:
            raise DatasetError(f"{root}: cannot create the dataset there: {exc.strerror or exc}") from None
        tree.write(_config.CONFIG_NAME, data, mode=0o600)
        return cls(tree, config, DatasetLock(tree).acquire())

    def update(self, **changes: object) -> None:
        """Change fields of the config (never the detector, model or flip setting) and save it."""
        fixed = {"detector", "model", "flip", "format", "id", "created"} & set(changes)
        if fixed:
            raise ValueError(f"{', '.join(sorted(fixed))} cannot change")
        for name, value in changes.items():
            setattr(self.config, name, value)
        _config.save(self.tree, self.config)

    def log(self, name: str) -> RecordLog:
        if name not in self._logs:
            if not layout.LOG_RE.match(name):
                raise ValueError(f"not a log name: {name!r}")
            self._logs[name] = RecordLog(self.tree, name)
        return self._logs[name]

    def logs(self) -> list[RecordLog]:
        """Every log on disk, including ones this process has not opened."""
        return [
            self.log(e.name) for e in self.tree.entries(layout.RECORDS) if e.is_folder and layout.LOG_RE.match(e.name)
        ]

    def flush(self) -> None:
        for record_log in self._logs.values():
            record_log.flush()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._lock.release()
            self.tree.close()

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


HOME_ENV = "RECOPS_HOME"


def home() -> str:
    """Where named datasets live: $RECOPS_HOME; else the original recops's $STORAGE_URI, else the
    folder of its $DATABASE_URI (the first of the three that is set decides, and the others are
    not read); else $XDG_DATA_HOME/recops, else ~/.local/share/recops."""
    if os.environ.get(HOME_ENV):
        return os.environ[HOME_ENV]
    for variable in (original_uris.STORAGE_ENV, original_uris.DATABASE_ENV):
        if os.environ.get(variable):
            return original_uris.folder_of(variable, os.environ[variable])
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "recops")


def locate(name_or_path: str) -> str:
    """A dataset given by path (with a slash, or a dataset right here) or by name (in home())."""
    if os.sep in name_or_path or name_or_path in (".", "..") or is_dataset(name_or_path):
        return name_or_path
    return os.path.join(home(), name_or_path)
