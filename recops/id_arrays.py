"""Many ids held as n x 16 bytes (the 32 hex digits of each): at ten million faces 160 MB, where
a list of str took 900 MB and a dict from them to numbers as much again."""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

ID_BYTES = 16
BLOCK = 1 << 16


def raw_ids(ids: Iterable[str]) -> np.ndarray:
    """n x 16 bytes from hex ids."""
    return np.frombuffer(bytes.fromhex("".join(ids)), np.uint8).reshape(-1, ID_BYTES)


def hex_ids(raw: np.ndarray) -> list[str]:
    text = raw.tobytes().hex()
    return [text[i : i + 2 * ID_BYTES] for i in range(0, len(text), 2 * ID_BYTES)]


def id_keys(raw: np.ndarray) -> np.ndarray:
    """The ids as one column that sorts and compares as their hex text does."""
    return np.ascontiguousarray(raw).view(f"S{ID_BYTES}").ravel()


def sorting(raw: np.ndarray) -> np.ndarray:
    """The order of the ids as text; equal ids stay in their order."""
    return np.argsort(id_keys(raw), kind="stable")


class Ids(Sequence[str]):
    """A sequence of hex ids over n x 16 bytes; each made as it is read."""

    def __init__(self, raw: np.ndarray):
        self.raw = raw

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, n):
        if isinstance(n, slice):
            return hex_ids(self.raw[n])
        return self.raw[n].tobytes().hex()

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self.raw), BLOCK):
            yield from hex_ids(self.raw[start : start + BLOCK])


class SortedIds(Ids):
    """Ids in increasing order, each found by bisection: a dict's lookups without its memory."""

    def __init__(self, raw: np.ndarray):
        super().__init__(raw)
        self._keys = id_keys(raw)

    def find(self, raw: np.ndarray) -> np.ndarray:
        """The position of each of n x 16-byte ids, -1 where absent."""
        keys = id_keys(raw)
        at = np.minimum(np.searchsorted(self._keys, keys), max(len(self._keys) - 1, 0))
        found = at.astype(np.int64)
        if not len(self._keys):
            return np.full(len(keys), -1, np.int64)
        found[self._keys[at] != keys] = -1
        return found

    def positions(self, ids: Sequence[str]) -> np.ndarray:
        return self.find(raw_ids(ids)) if len(ids) else np.zeros(0, np.int64)

    def get(self, face: str, default: int | None = None) -> int | None:
        try:
            found = int(self.positions([face])[0])
        except ValueError:  # not hex: not one of ours
            return default
        return default if found < 0 else found

    def __contains__(self, face) -> bool:
        return isinstance(face, str) and len(face) == 2 * ID_BYTES and self.get(face) is not None

    def index(self, face, start: int = 0, stop: int | None = None) -> int:
        found = self.get(face) if isinstance(face, str) and len(face) == 2 * ID_BYTES else None
        if found is None:
            raise ValueError(f"{face!r} is not here")
        return found
