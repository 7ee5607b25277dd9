"""Models by name: the real ones (dlib's, deepface's) and any a caller registers (tests' fakes).

One instance per name and process: models are loaded on first use, in the worker that uses them.
"""

from __future__ import annotations

from typing import Callable

from .base import Detector, Embedder, FoundFace, scale_face

_detector_factories: dict[str, Callable[[], Detector]] = {}
_embedder_factories: dict[str, Callable[[], Embedder]] = {}
_loaded: dict[tuple[str, str], object] = {}


def register_detector(name: str, factory: Callable[[], Detector]) -> None:
    _detector_factories[name] = factory
    _loaded.pop(("detector", name), None)


def register_embedder(name: str, factory: Callable[[], Embedder]) -> None:
    _embedder_factories[name] = factory
    _loaded.pop(("embedder", name), None)


def check_detector(name: str) -> None:
    """Raise ModelError, naming what is missing, unless `name` can be built here."""
    if name not in _detector_factories:
        from . import weights

        weights.require("face_detector", name)


def check_embedder(name: str) -> None:
    if name not in _embedder_factories:
        from . import weights

        weights.require("facial_recognition", name)


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


def get_detector(name: str) -> Detector:
    return _load("detector", name, _detector_factories, "dlib", "DlibDetector", "DeepfaceDetector")


def get_embedder(name: str) -> Embedder:
    return _load("embedder", name, _embedder_factories, "Dlib", "DlibEmbedder", "DeepfaceEmbedder")


__all__ = ["Detector", "Embedder", "FoundFace", "scale_face", "register_detector", "register_embedder",
           "check_detector", "check_embedder", "get_detector", "get_embedder"]
