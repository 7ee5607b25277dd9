"""Facial attributes (age, gender, emotion, race) as a report shows them, always with a warning."""

from __future__ import annotations

from typing import Iterable

SHOWN = ("age", "gender", "emotion", "race")
WARNING = (
    "Age, gender, emotion and race come from models that are weak and that categorise people "
    "in a discriminatory way: treat them as unreliable, never as evidence."
)
_NOT_ATTRIBUTES = ("type", "face", "image", "ts")


def fold_attributes(records: Iterable[dict], into: dict[str, dict]) -> dict[str, dict]:
    """The latest attributes of each face: from attribute records, and from the `attributes` map
    that faces carry (and matches, for their candidate face)."""
    for record in records:
        kind = record.get("type")
        if kind == "attribute" and record.get("face"):
            into.setdefault(record["face"], {}).update({k: v for k, v in record.items() if k not in _NOT_ATTRIBUTES})
        elif kind in ("face", "match") and isinstance(record.get("attributes"), dict):
            face = record.get("id") if kind == "face" else record.get("candidate")
            if face:
                into.setdefault(face, {}).update(record["attributes"])
    return into


def describe(attributes: dict | None) -> list[dict]:
    """[{name, value}] for the attributes present, as short text ("Man 97%")."""
    if not attributes:
        return []
    shown = []
    for name in SHOWN:
        value = attributes.get(name)
        dominant = attributes.get(f"dominant_{name}")
        if isinstance(dominant, str) and not (isinstance(value, dict) and "label" in value):
            # deepface's own shape: dominant_gender beside a map of scores in percent
            value = {"label": dominant, "scores": value if isinstance(value, dict) else {}}
        text = _text(value)
        if text:
            shown.append({"name": name, "value": text})
    return shown


def _text(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:.0f}"
    if isinstance(value, dict):
        label = value.get("label")
        if label is None:
            return ""
        scores = value.get("scores")
        score = scores.get(label) if isinstance(scores, dict) else None
        if isinstance(score, (int, float)):
            return f"{label} {score * 100 if score <= 1 else score:.0f}%"
        return str(label)
    return str(value)


def warning_of(attributes: Iterable[dict]) -> str:
    """The warning the attribute records carry (the analyser's own words), else recops's."""
    for found in attributes:
        if isinstance(found.get("warning"), str) and found["warning"].strip():
            return found["warning"]
    return WARNING
