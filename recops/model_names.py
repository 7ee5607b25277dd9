"""Names of deepface's detectors, recognition models and metrics, and its per-model thresholds.

Read from deepface's own tables (cheap imports: no framework is loaded), so a name deepface
accepts is a name recops accepts.
"""

from __future__ import annotations

from .store.config import METRICS  # noqa: F401  (recops.json's metric: the format names them)

DEFAULT_DETECTOR = "dlib"
DEFAULT_MODEL = "Dlib"
DEFAULT_METRIC = "cosine"


# The length of each recognition model's vectors (deepface's output_shape): what an embedding
# record from elsewhere must hold, known without loading the model.
DIMENSIONS = {
    "VGG-Face": 4096,
    "Facenet": 128,
    "Facenet512": 512,
    "OpenFace": 128,
    "DeepFace": 4096,
    "DeepID": 160,
    "Dlib": 128,
    "ArcFace": 512,
    "SFace": 128,
    "GhostFaceNet": 512,
    "Buffalo_L": 512,
}


def _available() -> dict:
    from deepface.modules.modeling import AVAILABLE_MODELS

    return AVAILABLE_MODELS


def detectors() -> list[str]:
    return list(_available()["face_detector"])


def recognition_models() -> list[str]:
    return list(_available()["facial_recognition"])


def default_threshold(model: str, metric: str) -> float:
    from deepface.config.threshold import thresholds

    try:
        return float(thresholds[model][metric])
    except KeyError:
        raise KeyError(f"deepface has no threshold for model {model!r} with metric {metric!r}") from None


def check_choice(kind: str, value: str, choices: list[str] | tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"unknown {kind} {value!r}; choose from: {', '.join(choices)}")
    return value


# The original recops (forensic-toolkit/recops) named deepface's wrappers of its day; a dataset,
# database or script from it names models so. None: nothing today computes the same vectors.
ORIGINAL_MODELS: dict[str, str | None] = {
    "DlibWrapper": "Dlib",
    "DlibResNet": "Dlib",
    "VGGFace": "VGG-Face",
    "FbDeepFace": "DeepFace",
    "Boosting": None,
}
ORIGINAL_DETECTORS: dict[str, str] = {
    "OpenCvWrapper": "opencv",
    "SsdWrapper": "ssd",
    "DlibWrapper": "dlib",
    "MtcnnWrapper": "mtcnn",
    "RetinaFaceWrapper": "retinaface",
    "MediapipeWrapper": "mediapipe",
}
WHY_NO_BOOSTING = (
    "the original's 'Boosting' combined VGG-Face, Facenet, OpenFace and DeepFace through a tree model that "
    "deepface no longer ships; choose one recognition model (the default is Dlib)"
)


def from_original(kind: str, name: str) -> tuple[str, str | None]:
    """Today's name for a model the original recops named `name` (`kind`: "model" or "detector"),
    and a note saying so (None when the name is today's); ValueError where nothing replaces it."""
    table = ORIGINAL_MODELS if kind == "model" else ORIGINAL_DETECTORS
    if name not in table:
        return name, None
    today = table[name]
    if today is None:
        raise ValueError(f"{kind} {name!r} of the original recops has no equivalent: {WHY_NO_BOOSTING}")
    return today, f"{kind} {name!r} is the original recops's name for {today!r}"
