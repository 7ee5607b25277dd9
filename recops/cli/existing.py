"""The dataset of a tool that changes one: it must exist (a typo must not make a new one)."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

import typer

from ..errors import UsageError
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
