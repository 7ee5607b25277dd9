"""recops recognize: rx-import | rx-detect | rx-embed | rx-match in one process, keeping what it saw.

The query images are stored marked as queries, with their faces, embeddings and matches, so a
recognition can be reviewed later; query faces stay out of the gallery unless someone links them
to an identity. A photo the dataset holds already stays in the gallery: a `recognition` record
(in the matches log) is what says it was recognised, as it says for every photo recognised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..logs import MATCHES
from ..matches import RECOGNITION
from ..records import timestamp
from ..state import state_of
from ..store.dataset import Dataset
from ..stream import Emitter
from .analysis import with_extended_fields
from .chain import Chain
from .detection import DetectOptions, FaceDetection
from .embedding import EmbedOptions, FaceEmbedding
from .importing import Importer
from .matching import FaceMatching, Matcher, MatchOptions


@dataclass(frozen=True)
class RecognizeOptions:
    consent: bool | None = None
    align: bool = True
    force: bool = False
    include_extended_fields: bool = False
    match: MatchOptions = MatchOptions()


def recognize(
    dataset: Dataset,
    paths: Iterable[str],
    out: Emitter,
    options: RecognizeOptions = RecognizeOptions(),
    shards: Sequence[Dataset] = (),
) -> None:
    """Recognise the faces of photos against `dataset`'s gallery, and `shards`' with it
    (shards.py); what it keeps goes to `dataset`."""
    chain = Chain()
    chain.add(
        lambda e: FaceDetection(e, DetectOptions(dataset.config.detector, options.align), dataset, force=options.force)
    )
    chain.add(
        lambda e: FaceEmbedding(
            e, EmbedOptions(dataset.config.model, dataset.config.flip), dataset, force=options.force
        )
    )
    chain.add(lambda e: FaceMatching(e, Matcher(dataset, options.match, shards), save=True))
    sink = with_extended_fields(out, dataset) if options.include_extended_fields else out
    for path in paths:
        imported: list[dict] = []
        with Importer(dataset, Emitter(imported.append), options.consent, query=True) as importer:
            importer.add_arguments([path])
        seen = []
        for record in chain.run(imported):
            if record.get("type") == "image":
                seen.append(record["id"])
            sink.emit(record)
        for image in seen:
            state_of(dataset).append(MATCHES, {"type": RECOGNITION, "image": image, "ts": timestamp()})
