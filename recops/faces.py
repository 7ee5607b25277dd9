"""The faces of a dataset: the latest record of each face id, as rx-detect stored them."""

from __future__ import annotations

from typing import Iterator

from .folding import latest_by_id
from .store.dataset import Dataset

LOG = "faces"


class FaceCatalog:
    """Every stored face by id, deleted ones included (a Deletions view tells those apart)."""

    def __init__(self, dataset: Dataset):
        self._by_id = {record["id"]: record for record in latest_by_id(dataset.log(LOG).records(), "face")}

    def get(self, id: str) -> dict | None:
        return self._by_id.get(id)

    def __contains__(self, id: str) -> bool:
        return id in self._by_id

    def __iter__(self) -> Iterator[dict]:
        return iter(self._by_id.values())
