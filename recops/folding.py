"""How copies of a dataset agree: every view folds records in one order, (timestamp, content).

Two replicas merged by copying files hold the same records, whatever order their files arrived
in; sorting by timestamp, then by the record's own content, makes every fold see them in the
same order, so a conflict (a face linked on one machine, unlinked on the other) ends the same
way everywhere: the later statement wins, and equal times are broken by content.
"""

from __future__ import annotations

from typing import Iterable, Iterator


def order(record: dict) -> tuple:
    return (record.get("ts", ""), repr(sorted(record.items(), key=lambda kv: kv[0])))


def newer(record: dict, held: dict | None) -> bool:
    """Whether `record` comes after `held` in order (always, when nothing is held). The content
    is compared only when the timestamps are equal: a fold of a million records stays cheap."""
    if held is None:
        return True
    ts, held_ts = record.get("ts", ""), held.get("ts", "")
    if ts != held_ts:
        return ts > held_ts
    return order(record) > order(held)


def latest_by_id(records: Iterable[dict], type: str) -> Iterator[dict]:
    """The latest record of each id of one type; a record with `deleted: true` is a tombstone
    and hides its id."""
    latest: dict[str, dict] = {}
    for record in records:
        if record.get("type") != type or "id" not in record:
            continue
        if newer(record, latest.get(record["id"])):
            latest[record["id"]] = record
    return (r for r in latest.values() if not r.get("deleted"))
