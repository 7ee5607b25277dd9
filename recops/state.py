"""What a dataset says now: each record log folded into its view once per process, and kept
current as this process appends.

Every view of the dataset's logs (images.ImageCatalog, faces.FaceCatalog and Detections,
deletions.Deletions, identities.IdentityView, vectors.Embeddings, attributes.Attributes,
matches.Matches) is asked for through its `of(dataset)`, which lands here: the first ask reads
and folds the logs, every later ask in the process gets the same view. A record appended through
`append` is folded into the views that hold its log, so they never read the log again; a record
appended to the log directly (not through here) makes those views stale, and the next ask folds
them anew. Every view folds by one rule, folding.order (vectors.py says how embeddings apply it).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .store.dataset import Dataset


@dataclass
class _Held:
    view: Any
    folds: tuple[str, ...]
    """Logs whose records `add` folds in as they are appended."""
    reads: tuple[str, ...]
    """Logs the view was built from but cannot fold one record of: an append makes it stale."""
    add: Callable[[dict], None] | None
    counts: dict[str, int]


class State:
    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self._held: dict[str, _Held] = {}

    def _counts(self, logs: Iterable[str]) -> dict[str, int]:
        return {name: self.dataset.log(name).appended for name in logs}

    def view(
        self,
        key: str,
        build: Callable[[], Any],
        folds: tuple[str, ...],
        reads: tuple[str, ...] = (),
        add: Callable[[Any, dict], None] | None = None,
    ) -> Any:
        """The view named `key`, built by `build` from the logs `folds` and `reads` when first asked
        for (or when one of those logs was appended to other than through `append`)."""
        held = self._held.get(key)
        if held is None or held.counts != self._counts(folds + reads):
            view = build()
            held = self._held[key] = _Held(
                view, folds, reads, (lambda record: add(view, record)) if add else None, self._counts(folds + reads)
            )
        return held.view

    def append(self, log: str, record: dict) -> None:
        """Append a record to a log, and fold it into the views that hold that log."""
        self.dataset.log(log).append(record)
        for key, held in list(self._held.items()):
            if log in held.folds and held.add is not None:
                held.add(record)
                held.counts[log] = self.dataset.log(log).appended
            elif log in held.folds or log in held.reads:
                del self._held[key]


_states: "weakref.WeakKeyDictionary[Dataset, State]" = weakref.WeakKeyDictionary()


def state_of(dataset: Dataset) -> State:
    """The one State of an open dataset in this process."""
    state = _states.get(dataset)
    if state is None:
        state = _states[dataset] = State(dataset)
    return state
