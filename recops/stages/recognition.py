"""recops recognize: rx-import | rx-detect | rx-embed | rx-match in one process, keeping what it saw.

The query images are stored marked as queries, with their faces, embeddings and matches, so a
recognition can be reviewed later; query faces stay out of the gallery unless someone links them
to an identity. A photo the dataset holds already stays in the gallery: a `recognition` record
(in the matches log) is what says it was recognised, as it says for every photo recognised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .chain import Chain
from .detection import DetectOptions, FaceDetection
from .embedding import EmbedOptions, FaceEmbedding
from .importing import Importer
from .matching import MATCHES, FaceMatching, Matcher, MatchOptions
from ..records import timestamp
from ..store.dataset import Dataset
from ..stream import Emitter

ATTRIBUTES = "attributes"
RECOGNITION = "recognition"


@dataclass(frozen=True)
class RecognizeOptions:
    consent: bool | None = None
    align: bool = True
    force: bool = False
    include_extended_fields: bool = False
    match: MatchOptions = MatchOptions()


def recognize(dataset: Dataset, paths: Iterable[str], out: Emitter, options: RecognizeOptions = RecognizeOptions()) -> None:
    chain = Chain()
    chain.add(lambda e: FaceDetection(e, DetectOptions(dataset.config.detector, options.align), dataset, force=options.force))
    chain.add(lambda e: FaceEmbedding(e, EmbedOptions(dataset.config.model, dataset.config.flip), dataset, force=options.force))
    chain.add(lambda e: FaceMatching(e, Matcher(dataset, options.match), save=True))
    extended = _attributes(dataset) if options.include_extended_fields else {}
    for path in paths:
        imported: list[dict] = []
        with Importer(dataset, Emitter(imported.append), options.consent, query=True) as importer:
            importer.add_arguments([path])
        seen = []
        for record in chain.run(imported):
            if record.get("type") == "image":
                seen.append(record["id"])
            if extended and record.get("type") in ("face", "match"):
                face = record["id"] if record["type"] == "face" else record["candidate"]
                if face in extended:
                    record = {**record, "attributes": extended[face]}
            out.emit(record)
        for image in seen:
            dataset.log(MATCHES).append({"type": RECOGNITION, "image": image, "ts": timestamp()})


def recognised(records: Iterable[dict]) -> dict[str, str]:
    """The time each image was last recognised, from the matches log's records."""
    found: dict[str, str] = {}
    for record in records:
        if record.get("type") == RECOGNITION and isinstance(record.get("image"), str):
            found[record["image"]] = max(found.get(record["image"], ""), str(record.get("ts", "")))
    return found


def _attributes(dataset: Dataset) -> dict[str, dict]:
    """The latest attributes (age, gender, emotion, ...) stored for each face."""
    found: dict[str, dict] = {}
    for record in dataset.log(ATTRIBUTES).records():
        if record.get("type") == "attribute" and "face" in record:
            found.setdefault(record["face"], {}).update(
                {k: v for k, v in record.items() if k not in ("type", "face", "image", "ts")})
    return found
