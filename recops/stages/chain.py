"""Stages of a pipeline run in one process, as `rx-a | rx-b | rx-c` runs them in several.

Each stage writes into a list that the next one reads, one batch of records at a time; the
stages keep their state (what is stored, what is memoised) from batch to batch.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol, TypeVar

from ..stream import Emitter


class Stage(Protocol):
    def run(self, items: Iterable) -> None: ...


S = TypeVar("S", bound=Stage)


class Chain:
    def __init__(self) -> None:
        self._stages: list[tuple[Stage, list[dict]]] = []

    def add(self, make: Callable[[Emitter], S]) -> S:
        """Append the stage `make` builds around the emitter it is given."""
        buffer: list[dict] = []
        stage = make(Emitter(buffer.append))
        self._stages.append((stage, buffer))
        return stage

    def run(self, records: Iterable) -> list[dict]:
        for stage, buffer in self._stages:
            buffer.clear()
            stage.run(records)
            records = list(buffer)
        return list(records)
