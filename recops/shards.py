"""Several datasets searched as one: a home dataset and its shards.

The home dataset is the first: its identities and links name faces of every shard (face ids
come from content, so a link holds whichever dataset stores the face), its threshold and
calibration judge every candidate, and anything written (matches, recognitions) goes to it.
Each shard is searched with its own index; the candidates of all are one ranking by distance
(exact for every candidate, so shard-independent), then face id.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import os
from typing import Iterator, Sequence

import numpy as np

from .errors import DatasetError, UsageError
from .search import FaceSearch, Neighbour
from .store.dataset import Dataset, is_dataset


def read_list(path: str) -> list[str]:
    """The datasets a file lists, one path a line (blank lines and # comments skipped); a
    relative path is relative to the file's folder, so a list travels with its datasets."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--datasets {path}: cannot read it ({exc})") from None
    roots = []
    for number, line in enumerate(lines, 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        root = entry if os.path.isabs(entry) else os.path.join(os.path.dirname(path), entry)
        if "\0" in entry or not is_dataset(root):
            raise UsageError(f"--datasets {path}:{number}: {entry!r} is not a recops dataset")
        roots.append(root)
    if not roots:
        raise UsageError(f"--datasets {path}: lists no dataset")
    return roots


def roots_of(given: Sequence[str | os.PathLike] | None, listing: str | None) -> list[str]:
    """The datasets of -d (repeated) and then --datasets FILE, in order: the first is the home one."""
    return [*(os.fspath(root) for root in given or ()), *(read_list(listing) if listing else ())]


@contextlib.contextmanager
def open_shards(home: Dataset, roots: Sequence[str]) -> Iterator[list[Dataset]]:
    """The datasets searched beside `home`, open; each must be a dataset of the same model and
    metric, and no two copies of one dataset (they share its id)."""
    with contextlib.ExitStack() as stack:
        shards: list[Dataset] = []
        seen = {home.config.id: home.root}
        for root in roots:
            if not is_dataset(root):
                raise DatasetError(f"{root}: not a recops dataset (a shard must exist)")
            shard = stack.enter_context(Dataset.open(root))
            for field in ("model", "metric"):
                mine, theirs = getattr(home.config, field), getattr(shard.config, field)
                if mine != theirs:
                    raise UsageError(
                        f"datasets searched as one share a {field}: {home.root} has {mine}, {shard.root} has {theirs}"
                    )
            if shard.config.id in seen:
                raise UsageError(
                    f"{seen[shard.config.id]} and {shard.root} are copies of one dataset (id {shard.config.id}): "
                    "give each shard once"
                )
            seen[shard.config.id] = shard.root
            shards.append(shard)
        yield shards


class ShardedSearch:
    """FaceSearch over several datasets: each searched alone, the nearest of all merged. Faces
    added while a stream is matched join the home dataset's part, where they are stored."""

    def __init__(self, parts: Sequence[tuple[Dataset, FaceSearch]]):
        self.searches = {dataset.config.id: search for dataset, search in parts}
        self.home = parts[0][1]
        dims = [(dataset.root, search.dim) for dataset, search in parts if search.dim is not None]
        other = next(((root, dim) for root, dim in dims if dim != dims[0][1]), None)
        if other:
            raise UsageError(
                f"datasets searched as one hold vectors of one length: {dims[0][0]} has {dims[0][1]} numbers, "
                f"{other[0]} has {other[1]}"
            )

    @property
    def size(self) -> int:
        return sum(s.size for s in self.searches.values())

    @property
    def dim(self) -> int | None:
        return next((s.dim for s in self.searches.values() if s.dim is not None), None)

    def add(self, face: str, image: str, vector: np.ndarray) -> None:
        self.home.add(face, image, vector)

    def nearest(self, vector: np.ndarray, k: int) -> list[Neighbour]:
        found = heapq.merge(
            *(
                [dataclasses.replace(n, dataset=id) for n in search.nearest(vector, k)]
                for id, search in self.searches.items()
            ),
            key=lambda n: (n.distance, n.face, n.dataset),
        )
        unique, seen = [], set()
        for neighbour in found:  # a face stored in two shards is one candidate: the nearer copy
            if neighbour.face not in seen:
                seen.add(neighbour.face)
                unique.append(neighbour)
                if len(unique) == k:
                    break
        return unique
