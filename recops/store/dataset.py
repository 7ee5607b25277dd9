"""A dataset: a plain directory that rsync and git-annex can copy and merge.

    recops.json          config (the one file replaced in place, atomically)
    lock                 flock target; holds no data
    objects/ab/cdef...   image bytes named by xxh3-128, read-only
    records/<log>/...    append-only segments of records (images, faces, embeddings, ...)
    cache/               derived data (indexes); safe to delete
"""

from __future__ import annotations

import os
from typing import Iterator

from ..catalog import DEFAULT_DETECTOR, DEFAULT_METRIC, DEFAULT_MODEL
from ..errors import DatasetError
from . import config as _config
from .lock import DatasetLock
from .objects import ObjectStore
from .segments import RecordLog

ENV_VAR = "RX_DATASET"


def is_dataset(path: str) -> bool:
    return os.path.isfile(os.path.join(path, _config.CONFIG_NAME))


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
    def __init__(self, root: str, config: _config.Config, lock: DatasetLock):
        self.root = os.path.abspath(root)
        self.config = config
        self._lock = lock
        self.objects = ObjectStore(os.path.join(self.root, "objects"))
        self.cache_dir = os.path.join(self.root, "cache")
        self._logs: dict[str, RecordLog] = {}

    @classmethod
    def open(cls, root: str, exclusive: bool = False, wait: bool = True) -> "Dataset":
        if not os.path.isdir(root):
            raise DatasetError(f"{root}: no such dataset directory; create it with rx-init")
        config = _config.load(root)
        return cls(root, config, DatasetLock(root).acquire(exclusive, wait))

    @classmethod
    def create(
        cls,
        root: str,
        detector: str = DEFAULT_DETECTOR,
        model: str = DEFAULT_MODEL,
        metric: str = DEFAULT_METRIC,
        threshold: float | None = None,
        description: str = "",
        flip: bool = False,
    ) -> "Dataset":
        """Make a new dataset directory, private to its owner (0700); refuses an existing one."""
        if is_dataset(root):
            raise DatasetError(f"{root}: already a dataset")
        if os.path.exists(root) and (not os.path.isdir(root) or os.listdir(root)):
            raise DatasetError(f"{root}: exists and is not an empty directory")
        try:
            os.makedirs(root, mode=0o700, exist_ok=True)
            os.chmod(root, 0o700)
            for sub in ("objects", "records"):
                os.makedirs(os.path.join(root, sub), mode=0o700, exist_ok=True)
        except OSError as exc:
            raise DatasetError(f"{root}: cannot create the dataset there: {exc.strerror or exc}") from None
        config = _config.Config(detector, model, metric, threshold, flip=flip, description=description)
        _config.save(root, config)
        return cls(root, config, DatasetLock(root).acquire())

    def update(self, threshold: float | None = None, description: str | None = None, metric: str | None = None) -> None:
        if threshold is not None:
            self.config.threshold = threshold
        if description is not None:
            self.config.description = description
        if metric is not None:
            self.config.metric = metric
        _config.save(self.root, self.config)

    def log(self, name: str) -> RecordLog:
        if name not in self._logs:
            self._logs[name] = RecordLog(os.path.join(self.root, "records", name))
        return self._logs[name]

    def logs(self) -> list[RecordLog]:
        """Every log on disk, including ones this process has not opened."""
        directory = os.path.join(self.root, "records")
        names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
        return [self.log(n) for n in names if os.path.isdir(os.path.join(directory, n))]

    def flush(self) -> None:
        for log in self._logs.values():
            log.flush()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._lock.release()

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


HOME_ENV = "RECOPS_HOME"


def home() -> str:
    """Where named datasets live: $RECOPS_HOME, else $XDG_DATA_HOME/recops, else ~/.local/share/recops."""
    if os.environ.get(HOME_ENV):
        return os.environ[HOME_ENV]
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "recops")


def locate(name_or_path: str) -> str:
    """A dataset given by path (with a slash, or a dataset right here) or by name (in home())."""
    if os.sep in name_or_path or name_or_path in (".", "..") or is_dataset(name_or_path):
        return name_or_path
    return os.path.join(home(), name_or_path)
