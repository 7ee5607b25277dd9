"""rx-merge's core: the answers of several shards' searches, one ranking per query face.

A query fanned out to hosts that each hold a shard (`parallel --pipe -S ...  rx-match -d SHARD
--searched`) comes back once from each: its face and embedding records, its matches in that
shard, and a `searched` record. The merge passes every other record on once, and gives each
query one ranking: its candidates by distance (exact, so shard-independent), then face id, then
dataset id, whatever order the shards answered in; ranks 1..n again, and `expected_false` over
the faces of every shard searched. A query is emitted once `shards` datasets answered it (their
`searched` records say which), else at the end of input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

import xxhash

from .identities import IdentityView
from .records import timestamp
from .stream import BadInput, Emitter

STAGE = "merge"


@dataclass(frozen=True)
class MergeOptions:
    maximum: int = 10
    shards: int | None = None
    """Emit a query once this many datasets answered it; None: at the end of input."""
    best_per_identity: bool = False


@dataclass
class _Query:
    matches: list[dict] = field(default_factory=list)
    searched: list[dict] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)


def _seen_key(record: dict) -> object:
    """What makes two records of the shards' answers one: the same face, embedding or image, or
    else the same content but for the time it was written."""
    kind = record.get("type")
    if kind in ("face", "image"):
        return kind, record.get("id")
    if kind == "embedding":
        return kind, record.get("face"), record.get("model")
    content = {k: v for k, v in record.items() if k != "ts"}
    return xxhash.xxh3_128_hexdigest(json.dumps(content, sort_keys=True, default=repr).encode())


class MatchMerge:
    """Feed it the records of several shards' answers; `identities` (the home dataset's view)
    names each candidate's identity, where links of faces in any shard live."""

    def __init__(
        self, emitter: Emitter, options: MergeOptions = MergeOptions(), identities: IdentityView | None = None
    ):
        self.emitter = emitter
        self.options = options
        self.identities = identities
        self.pending: dict[str, _Query] = {}
        self.ranked: set[str] = set()
        """Queries written: what comes for them later (a retried shard's second answer) is dropped."""
        self.seen: set = set()

    def run(self, items: Iterable) -> None:
        for item in items:
            if isinstance(item, BadInput):
                self.emitter.bad_input(item)
            elif not isinstance(item, dict):
                self.emitter.fail(str(item), STAGE, "not a record: rx-merge reads rx-match's records", "not-a-record")
            elif item.get("type") in ("match", "searched") and item["query"] in self.ranked:
                continue
            elif item.get("type") == "match":
                self.pending.setdefault(item["query"], _Query()).matches.append(item)
            elif item.get("type") == "searched":
                self._searched(item)
            else:
                key = _seen_key(item)
                if key not in self.seen:
                    self.seen.add(key)
                    self.emitter.emit(item)
        for query in list(self.pending):
            self._emit(query)

    def _searched(self, record: dict) -> None:
        query = self.pending.setdefault(record["query"], _Query())
        query.searched.append(record)
        query.answered.update(record["datasets"])
        if self.options.shards is not None and len(query.answered) >= self.options.shards:
            self._emit(record["query"])

    def _emit(self, face: str) -> None:
        query = self.pending.pop(face)
        self.ranked.add(face)
        thresholds = [r["threshold"] for r in query.searched + query.matches if "threshold" in r]
        threshold = min(thresholds) if thresholds else None
        gallery = self._gallery(query)
        ranked = self._ranked(query.matches, threshold)
        for rank, match in enumerate(ranked, 1):
            self.emitter.emit(self._restated(match, rank, gallery, threshold))
        if query.searched:
            first = query.searched[0]
            self.emitter.emit(
                {
                    **first,
                    "datasets": sorted(query.answered),
                    "gallery": gallery,
                    "matches": len(ranked),
                    **({"threshold": threshold} if threshold is not None else {}),
                    "ts": timestamp(),
                }
            )

    def _gallery(self, query: _Query) -> int:
        """The faces of every dataset searched: from the searched records, else (rx-match without
        --searched) from each candidate dataset's matches."""
        if query.searched:
            by_datasets = {tuple(r["datasets"]): r["gallery"] for r in query.searched}
        else:
            by_datasets = {(m.get("candidate_dataset"),): m.get("gallery", 0) for m in query.matches}
        return sum(by_datasets.values())

    def _ranked(self, matches: list[dict], threshold: float | None) -> list[dict]:
        kept, faces, identities = [], set(), set()
        order = sorted(matches, key=lambda m: (m.get("distance", 0.0), m["candidate"], m.get("candidate_dataset", "")))
        for match in order:
            if match["candidate"] in faces or (threshold is not None and match.get("distance", 0.0) > threshold):
                continue
            identity = self._identity(match)
            if identity is not None and (match["query"], identity) in self._rejected:
                continue
            if self.options.best_per_identity and identity is not None:
                if identity in identities:
                    continue
                identities.add(identity)
            faces.add(match["candidate"])
            kept.append(match)
            if len(kept) == self.options.maximum:
                break
        return kept

    @property
    def _rejected(self) -> set:
        return self.identities.rejected if self.identities is not None else set()

    def _identity(self, match: dict) -> str | None:
        if self.identities is None:
            return match.get("identity")
        return self.identities.face_identity.get(match["candidate"])

    def _restated(self, match: dict, rank: int, gallery: int, threshold: float | None) -> dict:
        record = {**match, "rank": rank, "gallery": gallery}
        if threshold is not None:
            record["threshold"] = threshold
        if "fmr" in match:
            record["expected_false"] = float(f"{match['fmr'] * gallery:.3g}")
        if self.identities is not None:
            identity = self.identities.identity_of(match["candidate"])
            record["identity"] = identity["id"] if identity else None
            record["identity_name"] = identity.get("name") if identity else None
        return record
