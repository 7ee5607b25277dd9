"""The matches log's view: the matches kept (by recognitions, and by rx-match --save), the latest
of each pair of faces, and when each photo was last recognised."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from .folding import newer
from .logs import MATCHES
from .state import state_of

if TYPE_CHECKING:
    from .store.dataset import Dataset

RECOGNITION = "recognition"
"""The record a recognition leaves of each photo it recognised: {"type": "recognition", "image", "ts"}."""


class Matches:
    def __init__(self, records: Iterable[dict] = ()):
        self.latest: dict[tuple[str, str], dict] = {}
        """(query face, candidate face) -> the latest match record of the pair."""
        self.recognised: dict[str, str] = {}
        """image -> when it was last recognised."""
        for record in records:
            self.add(record)

    @classmethod
    def of(cls, dataset: "Dataset") -> "Matches":
        return state_of(dataset).view(
            MATCHES, lambda: cls(dataset.log(MATCHES).records()), folds=(MATCHES,), add=cls.add
        )

    def add(self, record: dict) -> None:
        kind = record.get("type")
        if kind == "match":
            key = (record["query"], record["candidate"])
            if newer(record, self.latest.get(key)):
                self.latest[key] = record
        elif kind == RECOGNITION:
            self.recognised[record["image"]] = max(self.recognised.get(record["image"], ""), record.get("ts", ""))
