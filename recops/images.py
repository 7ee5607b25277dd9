"""The images of a dataset: their records merged into one current view per content id.

An image may be recorded many times (a new original path, a consent statement, another
machine's import). The view is the union: every field from the first record that has it, every
path in order of appearance, consent and face regions (a sidecar edited since) from the latest
record that states them (by timestamp, then by value, so every replica resolves a tie the same
way), and `query` only while every record says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator

from .logs import IMAGES
from .state import state_of

if TYPE_CHECKING:
    from .store.dataset import Dataset


class ImageCatalog:
    """Takes ownership of the records it is given (they are merged in place, not copied)."""

    def __init__(self, records: Iterable[dict] = ()):
        self._by_id: dict[str, dict] = {}
        self._consent_key: dict[str, tuple] = {}
        self._regions_key: dict[str, tuple] = {}
        for record in records:
            self.add(record)

    @classmethod
    def of(cls, dataset: "Dataset") -> "ImageCatalog":
        """The dataset's images now (state.py); records it appends through the state fold in."""
        # The catalog merges records in place: a record on its way to disk is given as a copy.
        return state_of(dataset).view(
            IMAGES,
            lambda: cls(dataset.log(IMAGES).records()),
            folds=(IMAGES,),
            add=lambda catalog, record: catalog.add(dict(record)),
        )

    def add(self, record: dict) -> None:
        """Fold in one image record; other records are ignored."""
        if record.get("type") != "image" or "id" not in record:
            return
        id = record["id"]
        held = self._by_id.get(id)
        if held is None:
            held = self._by_id[id] = record
            held["paths"] = list(record.get("paths", ()))
            held.setdefault("consent", False)
            held["query"] = bool(record.get("query"))
        else:
            paths = held["paths"]
            paths.extend(p for p in record.get("paths", ()) if p not in paths)
            for key, value in record.items():
                held.setdefault(key, value)
            # An image stays a query (kept by a recognition, outside the gallery) only while
            # nobody imported it otherwise.
            held["query"] = held["query"] and bool(record.get("query"))
        if "consent" in record:
            key = (record.get("ts", ""), bool(record["consent"]))
            if key > self._consent_key.get(id, ("",)):
                held["consent"] = bool(record["consent"])
                self._consent_key[id] = key
        if "regions" in record:
            key = (record.get("ts", ""), repr(record["regions"]))
            if key > self._regions_key.get(id, ("",)):
                held["regions"] = record["regions"]
                if record.get("regions_source"):
                    held["regions_source"] = record["regions_source"]
                else:
                    held.pop("regions_source", None)
                self._regions_key[id] = key

    def states(self, id: str, paths: list[str], consent: bool | None, query: bool = False) -> bool:
        """Whether the image is known with all of `paths`, this consent if stated, and as a
        gallery image unless this is a query import (a query import changes nothing)."""
        held = self._by_id.get(id)
        if held is None or (consent is not None and consent != held["consent"]) or (held["query"] and not query):
            return False
        known = held["paths"]
        for path in paths:
            if path not in known:
                return False
        return True

    def get(self, id: str, **extra) -> dict | None:
        """A copy of the image's current view (with `extra` fields), or None."""
        held = self._by_id.get(id)
        return {**held, "paths": list(held["paths"]), **extra} if held else None

    def __contains__(self, id: str) -> bool:
        return id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[dict]:
        for id in self._by_id:
            yield self.get(id)
