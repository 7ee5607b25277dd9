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


def check_detector(name: str) -> None:
    """Raise ModelError, naming what is missing, unless `name` can be built here."""
    if name not in _detector_factories:
        from . import weights

        weights.require("face_detector", name)


def check_embedder(name: str) -> None:
    if name not in _embedder_factories:
        from . import weights

        weights.require("facial_recognition", name)


def analyser_attribute(name: str) -> str | None:
    """The attribute an analyser estimates; None for a name no analyser has."""
    from .attributes import attribute_of

    return _analyser_factories[name][0] if name in _analyser_factories else attribute_of(name)


def analyser_usable(name: str) -> bool:
    if name in _analyser_factories:
        return True
    from . import weights

    return weights.status("facial_attribute", name).usable


def check_analyser(name: str) -> None:
    if name not in _analyser_factories:
        from . import weights

        weights.require("facial_attribute", name)


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


def _load(kind: str, name: str, factories: dict, builtin: str, builtin_class: str, deepface_class: str):
    key = (kind, name)
    if key not in _loaded:
        if name in factories:
            _loaded[key] = factories[name]()
        elif name == builtin:
            from . import dlib_models

            _loaded[key] = getattr(dlib_models, builtin_class)()
        else:
            from . import deepface_models

            _loaded[key] = getattr(deepface_models, deepface_class)(name)
    return _loaded[key]


def embedding_dim(name: str) -> int | None:
    """How many numbers the model's vectors hold, without loading it; None when not known."""
    from ..model_names import DIMENSIONS

    dim = getattr(_embedder_factories.get(name), "dim", None)
    return dim if isinstance(dim, int) else DIMENSIONS.get(name)


def get_detector(name: str) -> Detector:
    return _load("detector", name, _detector_factories, "dlib", "DlibDetector", "DeepfaceDetector")


def get_embedder(name: str) -> Embedder:
    return _load("embedder", name, _embedder_factories, "Dlib", "DlibEmbedder", "DeepfaceEmbedder")


__all__ = ["Detector", "Embedder", "FoundFace", "scale_face", "register_detector", "register_embedder",
           "check_detector", "check_embedder", "embedding_dim", "get_detector", "get_embedder",
           "register_analyser", "analyser_attribute", "analyser_usable", "check_analyser", "get_analyser"]
