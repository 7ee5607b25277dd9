"""Models by name: the real ones (dlib's, deepface's) and any a caller registers (tests' fakes).

One instance per name and process: models are loaded on first use, in the worker that uses them.
"""

from __future__ import annotations

from typing import Callable

from .base import Detector, Embedder, FoundFace, scale_face

_detector_factories: dict[str, Callable[[], Detector]] = {}
_embedder_factories: dict[str, Callable[[], Embedder]] = {}
_analyser_factories: dict[str, tuple[str, Callable[[], object]]] = {}
_loaded: dict[tuple[str, str], object] = {}


def register_detector(name: str, factory: Callable[[], Detector]) -> None:
    _detector_factories[name] = factory
    _loaded.pop(("detector", name), None)


def register_embedder(name: str, factory: Callable[[], Embedder]) -> None:
    _embedder_factories[name] = factory
    _loaded.pop(("embedder", name), None)


def register_analyser(name: str, attribute: str, factory: Callable[[], object]) -> None:
    """An attribute analyser (recops.models.attributes.Analyser) for `attribute`: age, gender, emotion or race."""
    _analyser_factories[name] = (attribute, factory)
    _loaded.pop(("analyser", name), None)


def registered(kind: str) -> list[str]:
    """The names registered by callers (tests' fakes) for "detector" or "embedder"."""
    return list(_detector_factories if kind == "detector" else _embedder_factories)


def check_detector(name: str) -> None:
    """Raise ModelError, naming what is missing, unless `name` can be built here."""
    if name not in _detector_factories:
        from .weight_status import require

        require("face_detector", name)


def check_embedder(name: str) -> None:
    if name not in _embedder_factories:
        from .weight_status import require

        require("facial_recognition", name)


def analyser_attribute(name: str) -> str | None:
    """The attribute an analyser estimates; None for a name no analyser has."""
    from .attributes import attribute_of

    return _analyser_factories[name][0] if name in _analyser_factories else attribute_of(name)


def analyser_usable(name: str) -> bool:
    if name in _analyser_factories:
        return True
    from .weight_status import status

    return status("facial_attribute", name).usable


def default_analysers() -> dict[str, str | None]:
    """Per attribute, the first of its candidates usable here (None: none is)."""
    from .attributes import ATTRIBUTES, candidates

    return {
        attribute: next((name for name in candidates(attribute) if analyser_usable(name)), None)
        for attribute in ATTRIBUTES
    }


def model_records(task: str | None = None, usable_only: bool = False) -> list[dict]:
    """rx-models list: a model record for each model of deepface and recops, the defaults marked."""
    from ..model_names import DEFAULT_DETECTOR, DEFAULT_MODEL
    from .weight_status import model_record, statuses

    defaults = {("face_detector", DEFAULT_DETECTOR), ("facial_recognition", DEFAULT_MODEL)}
    defaults |= {("facial_attribute", name) for name in default_analysers().values() if name}
    return [model_record(st, (st.task, st.name) in defaults) for st in statuses(task) if st.usable or not usable_only]


def check_analyser(name: str) -> None:
    if name not in _analyser_factories:
        from .weight_status import require

        require("facial_attribute", name)


def get_analyser(name: str):
    key = ("analyser", name)
    if key not in _loaded:
        from . import attributes_dlib

        if name in _analyser_factories:
            _loaded[key] = _analyser_factories[name][1]()
        elif name in attributes_dlib.MODELS:
            _loaded[key] = attributes_dlib.DlibAttributeAnalyser(name)
        elif name == "fer-emotion":
            from .attributes_fer import FerEmotionAnalyser

            _loaded[key] = FerEmotionAnalyser()
        else:
            from .attributes_deepface import DeepfaceAnalyser

            _loaded[key] = DeepfaceAnalyser(name)
    return _loaded[key]


def _load(kind: str, name: str, factories: dict, build: Callable[[str], object]):
    key = (kind, name)
    if key not in _loaded:
        _loaded[key] = factories[name]() if name in factories else build(name)
    return _loaded[key]


def _builtin_detector(name: str) -> Detector:
    if name == "dlib":
        from .dlib_models import DlibDetector

        return DlibDetector(get_detector)
    from .deepface_models import DeepfaceDetector

    return DeepfaceDetector(name)


def _builtin_embedder(name: str) -> Embedder:
    if name == "Dlib":
        from .dlib_models import DlibEmbedder

        return DlibEmbedder()
    from .deepface_models import DeepfaceEmbedder

    return DeepfaceEmbedder(name)


def embedding_dim(name: str) -> int | None:
    """How many numbers the model's vectors hold, without loading it; None when not known."""
    from ..model_names import DIMENSIONS

    dim = getattr(_embedder_factories.get(name), "dim", None)
    return dim if isinstance(dim, int) else DIMENSIONS.get(name)


def get_detector(name: str) -> Detector:
    return _load("detector", name, _detector_factories, _builtin_detector)


def get_embedder(name: str) -> Embedder:
    return _load("embedder", name, _embedder_factories, _builtin_embedder)


__all__ = [
    "Detector",
    "Embedder",
    "FoundFace",
    "scale_face",
    "register_detector",
    "register_embedder",
    "check_detector",
    "check_embedder",
    "embedding_dim",
    "get_detector",
    "get_embedder",
    "register_analyser",
    "analyser_attribute",
    "analyser_usable",
    "check_analyser",
    "get_analyser",
    "default_analysers",
    "model_records",
]
