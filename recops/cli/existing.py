"""The dataset of a tool that changes one: it must exist (a typo must not make a new one)."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Iterator, Sequence

import typer

from ..errors import UsageError
from ..shards import open_shards, roots_of
from ..store.dataset import Dataset
from ..stream import peek

logger = logging.getLogger("recops")


@contextlib.contextmanager
def existing_dataset(
    root: str | None, items: Iterator | None = None, tool: str = "this tool"
) -> Iterator[tuple[Dataset, Iterator]]:
    """-d / $RX_DATASET (`root`), else the dataset the first record comes from; and the items, unread."""
    reads_input = items is not None
    items = iter(()) if items is None else items
    first, items = peek(items) if root is None else (None, items)
    root = root or (first.get("dataset") if isinstance(first, dict) else None)
    if not root and reads_input and first is None:
        # Nothing came (a filter upstream kept nothing): nothing to do, which is not a failure.
        logger.info("nothing on stdin: nothing to do")
        raise typer.Exit(0)
    if not root:
        raise UsageError(f"{tool} needs a dataset: -d DIR or $RX_DATASET")
    with Dataset.open(root) as dataset:
        yield dataset, items


@contextlib.contextmanager
def existing_datasets(
    roots: Sequence[str | os.PathLike] | None,
    listing: str | None,
    items: Iterator | None = None,
    tool: str = "this tool",
) -> Iterator[tuple[Dataset, list[Dataset], Iterator]]:
    """The home dataset, as existing_dataset finds it, and the datasets searched with it (-d
    again, --datasets FILE), open; and the items, unread."""
    roots = roots_of(roots, listing)
    with existing_dataset(roots[0] if roots else None, items, tool) as (dataset, items):
        with open_shards(dataset, roots[1:]) as shards:
            yield dataset, shards, items
