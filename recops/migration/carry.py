"""One dataset of the original recops carried into one recops dataset, every row checked first.

Each kind is carried in turn, photos first and embeddings last (they take the time), and each
row only when the dataset does not hold it already, so a re-run after an interruption finishes
the job and doubles nothing. A row that cannot come over is an error record naming it (its
table, its id, the column at fault); the others come over all the same.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from .. import models, shapes
from ..attributes import Attributes, fields_of
from ..errors import InputError, ModelError
from ..faces import Detections, FaceCatalog
from ..identities import IdentityEditor, IdentityView, color_for
from ..images import ImageCatalog
from ..logs import ATTRIBUTES, DETECTIONS, FACES, IDENTITIES, IMAGES, MATCHES
from ..matches import RECOGNITION, Matches
from ..model_names import DIMENSIONS, from_original
from ..models.attributes import DEEPFACE, LABELS, WARNING, age, scored
from ..records import error_record, timestamp
from ..stages.detection import face_id
from ..stages.embedding import EmbedOptions, FaceEmbedding
from ..stages.importing import Importer
from ..state import state_of
from ..store.dataset import Dataset
from ..stream import Emitter
from ..vectors import Embeddings
from . import unpickle
from .original import EXTENDED, Original, guid
from .storage import Storage

STAGE = "migrate"
KINDS = ("images", "faces", "embeddings", "identities", "links", "attributes", "matches")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}")
_GENDERS = {"female": "Woman", "male": "Man"}
_PREDICTIONS = {"gender": "gender_prediction", "emotion": "emotion_prediction", "race": "race_prediction"}
AGE_CLASSES = 101
"""deepface's age model scores the ages 0 to 100; the original kept those scores."""


@dataclass
class Tally:
    """What one original dataset held of each kind, and the recops ids it came over as."""

    name: str
    root: str
    original: Counter = field(default_factory=Counter)
    carried: dict[str, dict[str, str]] = field(default_factory=lambda: {kind: {} for kind in KINDS})
    """kind -> original id -> the recops id (or key) it came over as, when it did."""
    migrated: Counter = field(default_factory=Counter)
    checked: tuple[int, int] | None = None
    """rx-fsck's problems and warnings in the dataset written; None: not checked."""

    def records(self) -> list[dict]:
        return [
            {
                "type": "migration",
                "dataset": self.root,
                "original_dataset": self.name,
                "kind": kind,
                "original": self.original[kind],
                "migrated": self.migrated[kind],
                "not_migrated": self.original[kind] - self.migrated[kind],
                **({"fsck_problems": self.checked[0], "fsck_warnings": self.checked[1]} if self.checked else {}),
            }
            for kind in KINDS
        ]


def iso_time(value: object) -> str | None:
    """The original's DateTime (SQLite text, UTC) as recops writes times; None when it is none."""
    if not isinstance(value, str):
        return None
    try:
        parsed = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DatasetMigration:
    def __init__(
        self, original: Original, storage: Storage, row: dict, dataset: Dataset, emitter: Emitter, tally: Tally
    ):
        self.original = original
        self.storage = storage
        self.row = row
        self.dataset = dataset
        self.emitter = emitter
        self.tally = tally
        self.detector = dataset.config.detector
        self.model = dataset.config.model
        self.dim = _dimension(row["basemodel_backend"])
        """The length of the original's descriptors, when its model is one recops knows."""
        self.tables: dict[str, str] = {}
        """original face id -> its table (face or detectedface), for messages."""

    def fail(self, table: str, id: object, exc: InputError, column: str | None = None) -> None:
        what = f"{table} {id}" + (f" ({column})" if column else "")
        extra = {"table": table, "original_dataset": self.tally.name} | ({"column": column} if column else {})
        self.emitter.fail(str(id), STAGE, f"{what}: {exc.reason}", exc.kind, **extra)

    def _store(self, log: str, record: dict) -> None:
        why = shapes.problem(record)
        if why is not None:
            raise InputError("malformed-input", f"it would make an invalid {record['type']} record: {why}")
        state_of(self.dataset).append(log, record)

    def run(self) -> Tally:
        images = self.images()
        faces = self.faces(images)
        identities = self.identities()
        self.links(faces, identities)
        self.matches(faces, identities)
        self.embeddings(faces)
        self.dataset.flush()
        self.count()
        return self.tally

    # images ------------------------------------------------------------------------------------

    def images(self) -> dict[str, dict]:
        """original image id -> its recops image record."""
        consent = self._face_consent()
        catalog = ImageCatalog.of(self.dataset)
        carried: dict[str, dict] = {}
        seen: list[dict] = []
        importers = {
            query: Importer(self.dataset, _Unsaid(seen.append), rehash=True, query=query) for query in (False, True)
        }
        for row in self.original.of_dataset("image", self.row["id"]):
            self.tally.original["images"] += 1
            id = guid(row["id"])
            try:
                if id is None:
                    raise InputError("bad-id", f"its id {row['id']!r} is not an id of the original")
                data = self.storage.read(row["path"])
                given = bool(row["consent"]) and consent.get(id, True)
                if bool(row["consent"]) != given:
                    self.emitter.emit(
                        {
                            "type": "warning",
                            "input": id,
                            "stage": STAGE,
                            "kind": "consent-differs",
                            "reason": f"image {id}: consented, but not every face of it: recorded as not consented",
                        }
                    )
                seen.clear()
                importers[row["marked"] == "DETECT"].add_record(
                    {"type": "image", "data": data, "paths": [self.storage.full_path(row["path"])], "consent": given}
                )
                image = next((r for r in seen if r.get("type") in ("image", "error")), None)
                if image is None or image["type"] == "error":
                    raise InputError(image["kind"] if image else "failed", image["reason"] if image else "not imported")
                self._describe(catalog, image["id"], row["description"])
                carried[id] = catalog.get(image["id"])
                self.tally.carried["images"][id] = image["id"]
            except InputError as exc:
                self.fail("image", row["id"], exc)
        return carried

    def _face_consent(self) -> dict[str, bool]:
        """image id -> whether every face the original holds of it was marked as consented."""
        given: dict[str, bool] = {}
        for table in ("face", "detectedface"):
            for row in self.original.of_dataset(table, self.row["id"]):
                if isinstance(row["image_id"], str):
                    given[row["image_id"]] = given.get(row["image_id"], True) and bool(row["consent"])
        return given

    def _describe(self, catalog: ImageCatalog, id: str, description: object) -> None:
        if not isinstance(description, str) or not description or catalog.get(id).get("description") == description:
            return
        current = catalog.get(id)
        self._store(IMAGES, {**current, "description": description, "ts": timestamp()})

    # faces, their detections and attributes ------------------------------------------------------

    def faces(self, images: dict[str, dict]) -> dict[str, dict]:
        """original face (and detected face) id -> its recops face record."""
        catalog = FaceCatalog.of(self.dataset)
        by_image: dict[str, list[dict]] = {}
        carried: dict[str, dict] = {}
        for table in ("face", "detectedface"):
            for row in self.original.of_dataset(table, self.row["id"]):
                self.tally.original["faces"] += 1
                self.tally.original["embeddings"] += row["descriptor"] is not None
                self.tally.original["attributes"] += any(row[c] is not None for c in EXTENDED)
                self.tables[row["id"]] = table
                try:
                    face = self._face(row, images)
                except InputError as exc:
                    self.fail(table, row["id"], exc)
                    continue
                held = by_image.setdefault(face["image"], [])
                same = next((f for f in held if f["id"] == face["id"]), None)
                if same is None:
                    held.append(face if face["id"] in catalog else {**face, "index": len(held)})
                face = same or held[-1]
                carried[row["id"]] = face
                self.tally.carried["faces"][row["id"]] = face["id"]
                self._descriptor(table, row, face)
                self._attributes(table, row, face)
        for image in images.values():
            self._detection(image["id"], by_image.get(image["id"], []))
        return carried

    def _face(self, row: dict, images: dict[str, dict]) -> dict:
        if guid(row["id"]) is None:
            raise InputError("bad-id", f"its id {row['id']!r} is not an id of the original")
        image = images.get(row["image_id"])
        if image is None:
            raise InputError("no-image", f"its image {row['image_id']} did not come over")
        box = [row[f"box_{side}"] for side in ("left", "top", "right", "bottom")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in box):
            raise InputError("bad-box", f"its box {box} is not four whole numbers")
        left, top = max(0, box[0]), max(0, box[1])
        right, bottom = min(image["width"], box[2]), min(image["height"], box[3])
        if right <= left or bottom <= top:
            raise InputError(
                "bad-box", f"its box {box} holds no pixels of its {image['width']}x{image['height']} image"
            )
        box = [left, top, right, bottom]
        known = FaceCatalog.of(self.dataset).get(face_id(image["id"], self.detector, True, box))
        if known is not None:
            return known
        return {
            "type": "face",
            "id": face_id(image["id"], self.detector, True, box),
            "image": image["id"],
            "box": box,
            "detector": self.detector,
            "aligned": True,
            "original": row["id"],
            "ts": timestamp(),
        }

    def _detection(self, image: str, faces: list[dict]) -> None:
        """The image's detection: the faces the original found in it (none: it found none)."""
        new = [face for face in faces if face["id"] not in FaceCatalog.of(self.dataset)]
        for face in new:
            self._store(FACES, face)
        ids = sorted(face["id"] for face in faces)
        latest = Detections.of(self.dataset).latest.get(image)
        if latest is not None and sorted(latest.get("faces", [])) == ids:
            return
        self._store(
            DETECTIONS,
            {
                "type": "detection",
                "image": image,
                "detector": self.detector,
                "aligned": True,
                "faces": ids,
                "count": len(ids),
                "ts": timestamp(),
            },
        )

    def _descriptor(self, table: str, row: dict, face: dict) -> None:
        """The original's vector is checked, not kept: recops computes the face's embedding
        anew from the photo (docs/migration.md says why)."""
        if row["descriptor"] is None:
            return
        self.tally.carried["embeddings"][row["id"]] = face["id"]
        try:
            vector = unpickle.vector(row["descriptor"])
            if self.dim is not None and len(vector) != self.dim:
                model = self.row["basemodel_backend"]
                raise InputError("bad-vector", f"holds {len(vector)} numbers, not the {self.dim} of a {model} vector")
        except InputError as exc:
            self.fail(table, row["id"], exc, "descriptor")

    def _attributes(self, table: str, row: dict, face: dict) -> None:
        fields: dict = {}
        for attribute in ("age", "gender", "emotion", "race"):
            try:
                fields |= self._attribute(row, attribute)
            except InputError as exc:
                column = "age_predictions" if attribute == "age" else _PREDICTIONS[attribute]
                self.fail(table, row["id"], exc, column)
        said = [a for a in ("age", "gender", "emotion", "race") if any(k in fields for k in fields_of(a))]
        if not said:
            return
        self.tally.carried["attributes"][row["id"]] = face["id"]
        shown = Attributes.of(self.dataset).of_face(face["id"])
        if all(shown.get(key) == value for key, value in fields.items()):
            return
        record = {"type": "attribute", "face": face["id"], "image": face["image"], **fields}
        record |= {"models": {a: DEEPFACE[a] for a in said}, "warning": WARNING, "ts": timestamp()}
        try:
            self._store(ATTRIBUTES, record)
        except InputError as exc:
            self.fail(table, row["id"], exc)

    @staticmethod
    def _attribute(row: dict, attribute: str) -> dict:
        """An attribute's fields as rx-analyze writes them, from the original's scores where it
        kept them, else from the class (or the age) it kept."""
        if attribute == "age":
            if row["age_predictions"] is not None:
                scores = unpickle.vector(row["age_predictions"])
                if len(scores) == AGE_CLASSES and scores.min() >= 0 and math.isclose(scores.sum(), 1, abs_tol=0.01):
                    return age(float(scores @ range(AGE_CLASSES)))
                if not isinstance(row["age"], int):
                    raise InputError("bad-vector", f"holds {len(scores)} scores, not deepface's {AGE_CLASSES} of ages")
            return age(row["age"]) if isinstance(row["age"], int) and not isinstance(row["age"], bool) else {}
        column = _PREDICTIONS[attribute]
        if row[column] is not None:
            scores = unpickle.vector(row[column])
            if len(scores) != len(LABELS[attribute]) or scores.min() < 0:
                raise InputError("bad-vector", f"holds {len(scores)} scores, not one for each of {LABELS[attribute]}")
            return scored(attribute, scores)
        label = row[attribute]
        label = _GENDERS.get(label, label) if attribute == "gender" else label
        if label is None:
            return {}
        if label not in LABELS[attribute]:
            raise InputError("bad-value", f"its {attribute} {label!r} is none of {LABELS[attribute]}")
        return {f"dominant_{attribute}": label}

    # identities, links and matches ---------------------------------------------------------------

    def identities(self) -> dict[str, dict]:
        """original identity id (the recops identity's id too) -> its identity record."""
        carried: dict[str, dict] = {}
        names: dict[str, str] = {}
        for row in self.original.of_dataset("identity", self.row["id"]):
            self.tally.original["identities"] += 1
            try:
                record = self._identity(row, names)
            except InputError as exc:
                self.fail("identity", row["id"], exc)
                continue
            names[record["name"]] = record["id"]
            carried[record["id"]] = record
            self.tally.carried["identities"][record["id"]] = record["id"]
        return carried

    def _identity(self, row: dict, names: dict[str, str]) -> dict:
        id = guid(row["id"])
        if id is None:
            raise InputError("bad-id", f"its id {row['id']!r} is not an id of the original")
        name = row["name"]
        if not isinstance(name, str) or not name.strip():
            raise InputError("invalid-name", "it has no name")
        if name in names:
            raise InputError("duplicate-name", f"identity {names[name]} has its name {name!r} already")
        description = row["description"] if isinstance(row["description"], str) else ""
        view = IdentityView.of(self.dataset)
        current = view.identities.get(id)
        color = row["color"]
        if not (isinstance(color, str) and _COLOR.fullmatch(color)):
            used = (r.get("color") for r in view.identities.values())
            color = current["color"] if current and current.get("color") else color_for(name, used)
            self.emitter.emit(
                {
                    "type": "warning",
                    "input": id,
                    "stage": STAGE,
                    "kind": "bad-color",
                    "reason": f"identity {id}: its colour {row['color']!r} is no #rrggbb colour: {color} instead",
                }
            )
        if row["attributes"] not in (None, "", "{}", "null"):
            self.fail(
                "identity",
                id,
                InputError(
                    "not-carried",
                    "its attributes are not carried: a recops identity has a name, description and colour",
                ),
                "attributes",
            )
        if current is not None and (current.get("name"), current.get("description"), current.get("color")) == (
            name,
            description,
            color,
        ):
            return current
        now = timestamp()
        record = {
            "type": "identity",
            "id": id,
            "name": name,
            "description": description,
            "color": color,
            "created": iso_time(row["created_at"]) or now,
            "ts": now,
        }
        self._store(IDENTITIES, record)
        return record

    def links(self, faces: dict[str, dict], identities: dict[str, dict]) -> None:
        """Each face linked to its identity, as a person linked it; recops links a face to one."""
        editor = IdentityEditor(self.dataset)
        linked: dict[str, str] = {}
        for row in self.original.links(self.row["id"]):
            key = f"{row['face_id']}:{row['identity_id']}"
            self.tally.original["links"] += 1
            try:
                face, identity = faces.get(row["face_id"]), identities.get(row["identity_id"])
                if face is None:
                    raise InputError("no-face", f"its face {row['face_id']} did not come over")
                if identity is None:
                    raise InputError("no-identity", f"its identity {row['identity_id']} did not come over")
                if row["face_id"] in linked:
                    raise InputError(
                        "several-identities",
                        f"face {row['face_id']} is linked to identity {linked[row['face_id']]} already: "
                        "a recops face has one identity",
                    )
                editor.link(face["id"], identity["id"], source="manual")
                linked[row["face_id"]] = row["identity_id"]
                self.tally.carried["links"][key] = f"{face['id']}:{identity['id']}"
            except InputError as exc:
                self.fail("faceidentities", key, exc)

    def matches(self, faces: dict[str, dict], identities: dict[str, dict]) -> None:
        """The matches of the original's recognitions, with the distances it measured then."""
        view, stored = IdentityView.of(self.dataset), Matches.of(self.dataset)
        rows = sorted(
            self.original.matches(self.row["id"]), key=lambda r: (str(r["detected_face_id"]), _sortable(r["distance"]))
        )
        rank: Counter = Counter()
        for row in rows:
            key = f"{row['detected_face_id']}:{row['face_id']}"
            self.tally.original["matches"] += 1
            try:
                query, candidate = faces.get(row["detected_face_id"]), faces.get(row["face_id"])
                if query is None or candidate is None:
                    missing = row["detected_face_id"] if query is None else row["face_id"]
                    raise InputError("no-face", f"face {missing} did not come over")
                rank[query["id"]] += 1
                self.tally.carried["matches"][key] = f"{query['id']}:{candidate['id']}"
                if (query["id"], candidate["id"]) in stored.latest:
                    continue
                identity = identities.get(view.face_identity.get(candidate["id"], ""), {})
                self._store(
                    MATCHES,
                    {
                        "type": "match",
                        "query": query["id"],
                        "query_image": query["image"],
                        "candidate": candidate["id"],
                        "candidate_image": candidate["image"],
                        "identity": identity.get("id"),
                        "identity_name": identity.get("name"),
                        "distance": _number(row["distance"]),
                        "threshold": _number(row["threshold"]),
                        "metric": self.row["distance_metric"],
                        "model": str(self.row["basemodel_backend"]),
                        "rank": rank[query["id"]],
                        "ts": timestamp(),
                    },
                )
                if query["image"] not in stored.recognised:
                    self._store(MATCHES, {"type": RECOGNITION, "image": query["image"], "ts": timestamp()})
            except InputError as exc:
                self.fail("matched_face_association", key, exc)

    # embeddings ---------------------------------------------------------------------------------

    def embeddings(self, faces: dict[str, dict]) -> None:
        """Each face's embedding, computed by recops's embedder from the photo; where the model
        cannot run here, an error record per face names the file it needs."""
        done = Embeddings.of(self.dataset, self.model)
        todo = {face["id"]: face for face in faces.values() if face["id"] not in done}
        if not todo:
            return
        missing = self._missing_weights()
        if missing:
            for original, face in faces.items():
                if face["id"] in todo:
                    why = InputError("model-unavailable", f"no {self.model} embedding: {missing}")
                    self.fail(self.tables[original], original, why)
            return
        errors = Emitter(lambda record: self.emitter.emit(record) if record.get("type") == "error" else None)
        stage = FaceEmbedding(errors, EmbedOptions(self.model, self.dataset.config.flip), self.dataset)
        stage.run({**face, "dataset": self.dataset.root} for face in todo.values())

    def _missing_weights(self) -> str | None:
        """What the model lacks here, in words; None when it can run."""
        from ..models.weight_files import fetch_hint
        from ..models.weight_status import status

        try:
            models.check_embedder(self.model)
            return None
        except ModelError:
            st = status("facial_recognition", self.model)
        lacking = [
            f"the weight file {f.name} ({fetch_hint(f.name, f.path, f.urls)})" for f in st.files if not f.present
        ]
        lacking += [f"the {p} package" for p in st.missing_packages]
        return "the model needs " + " and ".join(lacking) + "; then run rx-embed over the dataset"

    def count(self) -> None:
        """What the dataset holds now of what the original held (this run's work and earlier runs')."""
        view = IdentityView.of(self.dataset)
        present = {
            "images": ImageCatalog.of(self.dataset),
            "faces": FaceCatalog.of(self.dataset),
            "embeddings": Embeddings.of(self.dataset, self.model),
            "identities": view.identities,
            "links": {f"{face}:{identity}" for face, identity in view.face_identity.items()},
            "attributes": set(Attributes.of(self.dataset).faces()),
            "matches": {f"{query}:{candidate}" for query, candidate in Matches.of(self.dataset).latest},
        }
        for kind in KINDS:
            self.tally.migrated[kind] = sum(1 for id in self.tally.carried[kind].values() if id in present[kind])


class _Unsaid(Emitter):
    """The importer's emitter: its failures come back to the migration, which says them once."""

    def fail(self, input: str, stage: str, reason: str, kind: str = "failed", **extra) -> None:
        self.emit(error_record(input, stage, reason, kind, **extra))


def _dimension(name: object) -> int | None:
    try:
        return DIMENSIONS.get(from_original("model", str(name))[0])
    except ValueError:
        return None


def _sortable(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else math.inf


def _number(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    raise InputError("bad-value", f"{value!r} is not a distance")
