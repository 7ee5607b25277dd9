"""rx-analyze's core: a face's apparent age, gender, emotion and race, each by one model, kept.

Each face record passes on, followed by its attribute record. The faces of one image are
analysed together, from one decode of it. With a dataset the records are stored in its
`attributes` log and an attribute a model already gave a face is reused; without one it is a
pure filter. The models are weak and categorise people in a discriminatory way: every record,
and every run's stderr, says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Iterator

from .. import models
from ..attributes import Attributes, fields_of
from ..errors import InputError, ModelError, UsageError
from ..logs import ATTRIBUTES as ATTRIBUTE_LOG
from ..models.attributes import ATTRIBUTES, WARNING, candidates
from ..models.weight_files import fetch_hint
from ..models.weight_status import status
from ..pixels import face_pictures
from ..records import timestamp
from ..sources import image_source, read_source
from ..state import state_of
from ..store.dataset import Dataset
from ..stream import BadInput, Emitter
from .base import Passing, Stage, face_runs, worker_faces

logger = logging.getLogger("recops")
STAGE = "analyze"
# deepface's models take 224-pixel crops: a face this wide loses nothing when a big photo decodes smaller.
SHARP_FACE = 256


@dataclass(frozen=True)
class Unavailable:
    attribute: str
    asked: bool
    reason: str


def choose_models(
    wanted: dict[str, bool | None], named: Iterable[str] = ()
) -> tuple[dict[str, str], list[Unavailable]]:
    """Which model analyses each attribute, and the attributes left without one.

    `wanted` maps an attribute to True (asked for), False (not wanted) or None (wanted where a
    model can run). A model named in `named` is used for its attribute, which it asks for;
    otherwise deepface's model where its file is present, else the one from the package index.
    """
    chosen_by_name: dict[str, str] = {}
    for name in named:
        attribute = models.analyser_attribute(name)
        if attribute is None:
            raise UsageError(f"no attribute model is called {name!r} (rx-models list --task facial_attribute)")
        if wanted.get(attribute) is False:
            raise UsageError(f"{name} estimates {attribute}, which --no-{attribute} turns off")
        chosen_by_name[attribute] = name
    chosen, unavailable = {}, []
    for attribute in ATTRIBUTES:
        if wanted.get(attribute) is False:
            continue
        asked = wanted.get(attribute) is True or attribute in chosen_by_name
        names = [chosen_by_name[attribute]] if attribute in chosen_by_name else candidates(attribute)
        name = next((n for n in names if models.analyser_usable(n)), None)
        if name:
            chosen[attribute] = name
        else:
            unavailable.append(Unavailable(attribute, asked, _why(attribute, names[-1])))
    return chosen, unavailable


def analyze(
    out: Emitter,
    items: Iterable[dict | str | BadInput],
    wanted: dict[str, bool | None],
    named: Iterable[str] = (),
    dataset: Dataset | None = None,
    workers: int = 1,
    force: bool = False,
) -> None:
    """Analyse the faces of a stream with the models choose_models picks. An attribute asked
    for that no model can estimate here is an error record; one merely wanted, a warning."""
    chosen, unavailable = choose_models(wanted, named)
    for gap in unavailable:
        if gap.asked:
            out.fail(gap.attribute, STAGE, gap.reason, "model-unavailable")
        else:
            logger.warning("%s skipped: %s", gap.attribute, gap.reason)
    if not chosen:
        if unavailable:
            raise ModelError("no attribute can be analysed here")
        raise UsageError("nothing to analyse: every attribute is turned off")
    FaceAnalysis(out, chosen, dataset, workers, force).run(items)


def _why(attribute: str, name: str) -> str:
    st = status("facial_attribute", name)
    missing = [f"{f.name} ({fetch_hint(f.name, f.path, f.urls)})" for f in st.files if not f.present]
    missing += [f"the {p} package" for p in st.missing_packages]
    others = "" if len(candidates(attribute)) > 1 else f"; no other {attribute} model runs offline"
    return f"the {name} model is not usable here: it needs {' and '.join(missing)}{others}"


def analyse_faces(data: bytes, faces: list[dict], names: list[str]) -> list[dict]:
    """Each face's fields by each model, from one decode of each picture the faces are on."""
    found: list[dict] = [{} for _ in faces]
    for indices, pixels, on in face_pictures(data, faces, sharp=SHARP_FACE):
        for name in names:
            for index, values in zip(indices, models.get_analyser(name).analyse(pixels, on)):
                found[index].update(values)
    return found


def _work(task) -> list[dict] | InputError:
    if isinstance(task, InputError):
        return task
    source, faces, names = task
    try:
        return analyse_faces(read_source(source), faces, names)
    except InputError as exc:
        return exc
    except Exception as exc:  # one image's failure must not end the run
        return InputError("analyze-failed", f"{type(exc).__name__}: {exc}")


class FaceAnalysis(Stage):
    """Feed it records; it emits them with an attribute record after each face, in input order."""

    stage = STAGE
    tool = "rx-analyze"
    handles = ("face",)
    work = staticmethod(_work)

    def __init__(
        self,
        emitter: Emitter,
        chosen: dict[str, str],
        dataset: Dataset | None = None,
        workers: int = 1,
        force: bool = False,
    ):
        if not chosen:
            raise ModelError("no attribute to analyse")
        for name in chosen.values():
            models.check_analyser(name)
        super().__init__(emitter)
        self.chosen = chosen
        self.dataset = dataset
        self.workers = workers
        self.force = force
        self._own = Attributes() if dataset is None else None
        logger.warning("%s", WARNING)

    @property
    def stated(self) -> Attributes:
        """What was said before: the dataset's attributes (state.py), or this filter's own of this run."""
        return self._own if self._own is not None else Attributes.of(self.dataset)

    def _known(self, face: str) -> dict[str, tuple[dict, str]]:
        """attribute -> (its fields, when): what the chosen models already said of a face."""
        stated = self.stated
        return {
            attribute: said
            for attribute, name in self.chosen.items()
            if (said := stated.by(face, attribute, name)) is not None
        }

    def units(self, records: Iterable[dict]) -> Iterator:
        """The faces of one image together, with the faces that need a model's work and those models."""
        for run in face_runs(records):
            yield run if isinstance(run, Passing) else self._todo(run)

    def finish(self, unit: tuple[list[dict], list[dict], list[str]], result) -> None:
        group, todo, names = unit
        found = iter(result) if isinstance(result, list) else None
        for record in group:
            if not any(record is face for face in todo):
                self.emitter.emit(record)
                # (a repeat of a face whose analysis failed just above has nothing to show)
                if set(self.chosen) <= set(self._known(record.get("id"))):
                    self._emit(record, {}, set())
            elif isinstance(result, InputError):
                self.emitter.emit(record)
                self.emitter.fail(record["id"], STAGE, result.reason, result.kind)
            else:
                self.emitter.emit(record)
                self._emit(record, next(found), set(names))

    def _todo(self, faces: list[dict]) -> tuple[list[dict], list[dict], list[str]]:
        todo, seen, attributes = [], set(), set()
        for face in faces:
            missing = set(self.chosen) if self.force else set(self.chosen) - set(self._known(face.get("id")))
            if missing and face.get("id") not in seen:
                todo.append(face)
                seen.add(face.get("id"))
                attributes |= missing
        return faces, todo, [self.chosen[a] for a in ATTRIBUTES if a in attributes]

    def task(self, unit: tuple[list[dict], list[dict], list[str]]):
        todo, names = unit[1], unit[2]
        if not todo:
            return None
        try:
            faces = worker_faces(todo)
            return image_source(todo[0], self.dataset), faces, names
        except (InputError, KeyError) as exc:
            return exc if isinstance(exc, InputError) else InputError("malformed-input", f"face record lacks {exc}")

    def _emit(self, face: dict, fields: dict, computed: set[str]) -> None:
        """The face's attribute record: what the models just said, the rest as stored."""
        now = timestamp()
        known = self._known(face["id"])
        for attribute, name in self.chosen.items():
            if name in computed:
                known[attribute] = ({k: fields[k] for k in fields_of(attribute)}, now)
        record = {"type": "attribute", "face": face["id"], "image": face.get("image")}
        for attribute in self.chosen:
            record.update(known[attribute][0])
        record |= {
            "models": dict(self.chosen),
            "warning": WARNING,
            "ts": max(known[attribute][1] for attribute in self.chosen),
        }
        if computed and self.dataset:
            state_of(self.dataset).append(ATTRIBUTE_LOG, record)
        elif computed:
            self.stated.add(record)
        self.emitter.emit(record)


def with_extended_fields(out: Emitter, dataset: Dataset) -> Emitter:
    """An emitter that adds the stored attributes of a face to its face records, and those of
    the candidate to match records, as `attributes` (--include-extended-fields)."""
    stored = Attributes.of(dataset)

    def write(record: dict) -> None:
        kind = record.get("type")
        face = record.get("id") if kind == "face" else record.get("candidate") if kind == "match" else None
        shown = stored.of_face(face) if face else None
        out.emit({**record, "attributes": shown} if shown else record)

    return Emitter(write)
