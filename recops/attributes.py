"""The attributes log's view: what the latest statement says of each face's apparent age,
gender, emotion and race, and which model said it (folding.order decides which is latest)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from .folding import newer, order
from .logs import ATTRIBUTES
from .state import state_of

if TYPE_CHECKING:
    from .store.dataset import Dataset

NAMES = ("age", "gender", "emotion", "race")


def fields_of(attribute: str) -> tuple[str, ...]:
    """The record fields that carry an attribute: `age`, or the scores and the dominant class."""
    return ("age",) if attribute == "age" else (attribute, f"dominant_{attribute}")


class Attributes:
    """face -> attribute -> model -> the latest record that states it."""

    def __init__(self, records: Iterable[dict] = ()):
        self._stated: dict[str, dict[str, dict[str, dict]]] = {}
        for record in records:
            self.add(record)

    @classmethod
    def of(cls, dataset: "Dataset") -> "Attributes":
        return state_of(dataset).view(
            ATTRIBUTES, lambda: cls(dataset.log(ATTRIBUTES).records()), folds=(ATTRIBUTES,), add=cls.add
        )

    def add(self, record: dict) -> None:
        if record.get("type") != "attribute":
            return
        models = record.get("models") if isinstance(record.get("models"), dict) else {}
        for attribute in NAMES:
            if any(k in record for k in fields_of(attribute)):
                # a record without `models` (a script's, an older recops's) is of no known model
                by_model = self._stated.setdefault(record["face"], {}).setdefault(attribute, {})
                model = models.get(attribute, "")
                if newer(record, by_model.get(model)):
                    by_model[model] = record

    def by(self, face: str, attribute: str, model: str) -> tuple[dict, str] | None:
        """The fields `model` gave `face` for `attribute`, and when; None when it gave none."""
        record = self._stated.get(face, {}).get(attribute, {}).get(model)
        if record is None or not all(k in record for k in fields_of(attribute)):
            return None
        return {k: record[k] for k in fields_of(attribute)}, record.get("ts", "")

    def of_face(self, face: str) -> dict:
        """The latest fields of each attribute of a face, whatever the model, with `models` (which
        model said each) and the `warning` they carry: what reports and --include-extended-fields show."""
        shown: dict = {}
        latest: dict[str, dict] = {}
        for attribute, by_model in self._stated.get(face, {}).items():
            record = max(by_model.values(), key=order)
            latest[attribute] = record
            shown.update({k: record[k] for k in fields_of(attribute) if k in record})
        said = {a: r["models"][a] for a, r in latest.items() if isinstance(r.get("models"), dict) and a in r["models"]}
        if said:
            shown["models"] = said
        warning = max(latest.values(), key=order).get("warning") if latest else None
        if warning:
            shown["warning"] = warning
        return shown

    def faces(self) -> Iterable[str]:
        return self._stated.keys()
