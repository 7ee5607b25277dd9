"""The unit of work of the stages that read face records: the faces of one image, together."""

from __future__ import annotations

from typing import Iterable, Iterator

from ..stream import BadInput, Emitter


def face_runs(items: Iterable[dict | str | BadInput], emitter: Emitter, stage: str, tool: str) -> Iterator[list[dict]]:
    """Runs of consecutive face records of one image, and every other record alone. Paths and
    malformed input are error records: these stages read records, not photos."""
    run: list[dict] = []
    for item in items:
        if isinstance(item, BadInput):
            emitter.bad_input(item)
            continue
        if isinstance(item, str):
            emitter.fail(item, stage, f"{tool} reads face records; pipe paths through rx-detect first", "not-a-record")
            continue
        if run and not (item.get("type") == "face" and item.get("image") == run[0].get("image")):
            yield run
            run = []
        if item.get("type") == "face":
            run.append(item)
        else:
            yield [item]
    if run:
        yield run
