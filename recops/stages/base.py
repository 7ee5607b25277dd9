"""The one shape of every stage: classify each input once, pass on what is not the stage's, and
leave the stage only its own work.

    items ─ records() ─┬─ malformed input ─────────────────── an error record
                       ├─ a path ─ path() ──────────────────── records (rx-detect, rx-import) or an error
                       └─ a record ─ admit() ─ units() ─┬─ Passing(record) ── emitted as it came
                                                        └─ a unit ─ task() ─ work() ─ finish()

A stage names the record types it `handles`; `units` groups them into units of work (a record
alone by default; the faces of one image; a face and the embedding that follows it) and wraps
every other record in Passing, so it goes on in its place. `task` is what a worker needs for a
unit (None: nothing to compute), `work` runs it (in worker processes when `workers` > 1, so it is
a module-level function of what pickles), and `finish` emits the unit with what came back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from ..parallel import ordered_map
from ..pixels import PICTURE_FIELDS
from ..stream import BadInput, Emitter


@dataclass(frozen=True)
class Passing:
    """A record the stage does not handle: it goes on untouched, in its place in the stream."""

    record: dict


def records(items: Iterable, emitter: Emitter, path: Callable[[str], Iterable[dict]]) -> Iterator[dict]:
    """The records of a stream: malformed input becomes an error record, a path goes to `path`."""
    for item in items:
        if isinstance(item, BadInput):
            emitter.bad_input(item)
        elif isinstance(item, str):
            yield from path(item)
        else:
            yield item


def refuse_paths(emitter: Emitter, stage: str, tool: str, reads: str = "records") -> Callable[[str], Iterable[dict]]:
    """For stages that read records only: a path is an error record saying what to pipe in."""

    def refuse(path: str) -> Iterable[dict]:
        emitter.fail(path, stage, f"{tool} reads {reads}; pipe paths through rx-detect first", "not-a-record")
        return ()

    return refuse


def worker_faces(faces: list[dict]) -> list[dict]:
    """What a worker needs of each face to find and read it: its box, landmarks, alignment and picture."""
    return [{k: f[k] for k in ("box", "landmarks", "aligned", *PICTURE_FIELDS) if k in f} for f in faces]


def face_runs(records: Iterable[dict]) -> Iterator[list[dict] | Passing]:
    """Runs of consecutive face records of one image (the faces of a photo are worked on from one
    decode of it); every other record passes."""
    run: list[dict] = []
    for record in records:
        if run and not (record.get("type") == "face" and record.get("image") == run[0].get("image")):
            yield run
            run = []
        if record.get("type") == "face":
            run.append(record)
        else:
            yield Passing(record)
    if run:
        yield run


def followed(
    records: Iterable[dict], kind: str, belongs: Callable[[dict, dict], bool]
) -> Iterator[tuple[dict, dict | None]]:
    """Each record with the one right after it when that belongs to it (a face and its embedding),
    else with None; a record so taken is not given again on its own."""
    held: dict | None = None
    for record in records:
        if held is not None:
            if belongs(held, record):
                yield held, record
                held = None
                continue
            yield held, None
            held = None
        if record.get("type") == kind:
            held = record
        else:
            yield record, None
    if held is not None:
        yield held, None


class Stage:
    """A filter of a record stream (see the module's picture); subclasses say what is theirs."""

    stage = "stage"
    """The `stage` of its error records."""
    tool = "recops"
    handles: tuple[str, ...] = ()
    workers = 1

    def __init__(self, emitter: Emitter):
        self.emitter = emitter

    def run(self, items: Iterable) -> None:
        units = self.units(self.admitted(records(items, self.emitter, self.path)))
        for unit, result in ordered_map(units, type(self).work, self.workers, self._task):
            if isinstance(unit, Passing):
                self.passing(unit.record)
            else:
                self.finish(unit, result)

    def path(self, path: str) -> Iterable[dict]:
        """A path in the stream: refused, unless the stage reads photos."""
        return refuse_paths(self.emitter, self.stage, self.tool)(path)

    def admitted(self, records: Iterable[dict]) -> Iterator[dict]:
        """The records as the stage takes them in (a foreign image imported first, say)."""
        return iter(records)

    def units(self, records: Iterable[dict]) -> Iterator:
        for record in records:
            yield record if record.get("type") in self.handles else Passing(record)

    def _task(self, unit) -> object | None:
        return None if isinstance(unit, Passing) else self.task(unit)

    def task(self, unit) -> object | None:
        """What a worker needs for the unit; None when there is nothing to compute."""
        return None

    @staticmethod
    def work(task: object) -> object:
        raise NotImplementedError

    def passing(self, record: dict) -> None:
        self.emitter.emit(record)

    def finish(self, unit, result) -> None:
        raise NotImplementedError
