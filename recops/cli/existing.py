"""The dataset of a tool that changes one: it must exist (a typo must not make a new one)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from ..errors import UsageError
from ..store.dataset import Dataset
from ..stream import peek


@contextlib.contextmanager
def existing_dataset(dataset: str | None, items: Iterator | None = None, tool: str = "this tool") -> Iterator[tuple[Dataset, Iterator]]:
    """-d / $RX_DATASET, else the dataset the first record comes from; and the items, unread."""
    items = iter(()) if items is None else items
    first, items = peek(items) if dataset is None else (None, items)
    root = dataset or (first.get("dataset") if isinstance(first, dict) else None)
    if not root:
        raise UsageError(f"{tool} needs a dataset: -d DIR or $RX_DATASET")
    with Dataset.open(root) as opened:
        yield opened, items
