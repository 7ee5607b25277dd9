"""What rx-detect and rx-embed share: their input, their dataset, their workers."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated, Iterator, Optional

import typer

from ..datasets import open_or_create
from ..inputs import walk_files
from ..parallel import cpu_count
from ..store.dataset import Dataset, is_dataset
from ..stream import peek, read_items

JobsOpt = Annotated[
    Optional[int], typer.Option("-j", "--jobs", metavar="N", help="Worker processes [default: one per core].")
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Recompute what the dataset already holds.")]


def jobs(value: int | None) -> int:
    return max(1, value or cpu_count())


def inputs(paths: list[str] | None, null: bool) -> Iterator:
    """Paths given as arguments (folders walked), then whatever stdin carries (unless it is a
    terminal and no "-" asks for it)."""
    for path in paths or []:
        if path != "-" and os.path.isdir(path):
            yield from walk_files(path, prune=is_dataset)
        elif path != "-":
            yield path
    if not paths or "-" in paths:
        if not sys.stdin.isatty() or paths:
            yield from read_items(sys.stdin.buffer, null)


@contextlib.contextmanager
def stream_dataset(root: str | None, items: Iterator) -> Iterator[tuple[Dataset | None, Iterator]]:
    """The dataset to store in: -d / $RX_DATASET (`root`, created when missing), else the one the
    first record comes from, when it is here: records from another machine (parallel -S) name a
    dataset that host does not have, and are worked on from their inline bytes."""
    first, items = peek(items)
    if root:
        dataset = open_or_create(root)[0]
    elif isinstance(first, dict) and isinstance(first.get("dataset"), str) and is_dataset(first["dataset"]):
        dataset = Dataset.open(first["dataset"])
    else:
        yield None, items
        return
    with dataset:
        yield dataset, items
