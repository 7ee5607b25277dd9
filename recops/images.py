"""The images of a dataset: their records merged into one current view per content id.

An image may be recorded many times (a new original path, a consent statement, another
machine's import). The view is the union: every field from the first record that has it, every
path in order of appearance, and consent from the latest record that states it.
"""

from __future__ import annotations

from typing import Iterable, Iterator

LOG = "images"


def merge_image(current: dict | None, record: dict) -> dict:
    if current is None:
        current = {"paths": [], "consent": False}
        consent_key = None
    else:
        consent_key = current.get("_consent_key")
    for key, value in record.items():
        if key == "paths":
            current["paths"].extend(p for p in value if p not in current["paths"])
        elif key == "consent":
            # Latest statement wins; equal timestamps resolve the same way on every replica.
            key_of_record = (record.get("ts", ""), bool(value))
            if consent_key is None or key_of_record > consent_key:
                current["consent"] = bool(value)
                current["_consent_key"] = consent_key = key_of_record
        elif key not in current:
            current[key] = value
    return current


class ImageCatalog:
    def __init__(self, records: Iterable[dict] = ()):
        self._by_id: dict[str, dict] = {}
        for record in records:
            self.add(record)

    def add(self, record: dict) -> dict:
        """Fold in one image record (others are ignored); returns the image's view."""
        if record.get("type") != "image" or "id" not in record:
            return {}
        merged = merge_image(self._by_id.get(record["id"]), record)
        self._by_id[record["id"]] = merged
        return _public(merged)

    def get(self, id: str) -> dict | None:
        found = self._by_id.get(id)
        return _public(found) if found else None

    def __contains__(self, id: str) -> bool:
        return id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[dict]:
        for record in self._by_id.values():
            yield _public(record)


_ORDER = ("type", "id", "size", "media_type", "width", "height", "orientation", "paths", "consent", "ts")


def _public(record: dict) -> dict:
    view = {k: record[k] for k in _ORDER if k in record}
    view.update((k, v) for k, v in record.items() if k not in view and not k.startswith("_"))
    view["paths"] = list(record["paths"])
    return view
