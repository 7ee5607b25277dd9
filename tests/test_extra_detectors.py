"""MTCNN and MediaPipe, recops's extras, through deepface's wrappers on real photos (../shared/faces)."""

import os
import subprocess

import pytest
from conftest import SHARED_FACES, jsonl, tool

from recops.models import weight_status
from recops.stages.detection import DetectOptions, find_faces

pytestmark = pytest.mark.slow

LFW = os.path.join(SHARED_FACES, "lfw")
GROUP = os.path.join(SHARED_FACES, "group", "t1.jpg")
PORTRAITS = ["Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "Serena_Williams/Serena_Williams_0001.jpg"]
# The six faces of the group photo (1280x886), their centres marked by hand.
GROUP_FACES = [(121, 336), (320, 220), (503, 348), (778, 420), (934, 131), (1172, 336)]


def detector(name: str) -> str:
    st = weight_status.status("face_detector", name)
    if not st.usable:
        pytest.skip(f"{name} is not usable here: {st.note}")
    if not os.path.isdir(LFW) or not os.path.isfile(GROUP):
        pytest.skip(f"no LFW photos or group photo under {SHARED_FACES}")
    return name


def holds(box, point) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def faces_of(path: str, options: DetectOptions):
    with open(path, "rb") as handle:
        return [face for _, face in find_faces(handle.read(), options)]


@pytest.mark.parametrize("name", ["mtcnn", "mediapipe"])
def test_finds_the_face_of_each_portrait_with_its_eyes(name):
    options = DetectOptions(detector(name))
    for portrait in PORTRAITS:
        faces = faces_of(os.path.join(LFW, portrait), options)
        central = [f for f in faces if holds(f.box, (125, 125))]
        assert len(central) == 1, (portrait, faces)
        face = central[0]
        assert 60 < face.box[2] - face.box[0] < 160 and 0.5 < face.confidence <= 1
        assert set(face.landmarks) == {"left_eye", "right_eye"} and face.method == name
        # The person's own left eye, on the right of the picture, as every recops detector names it.
        assert face.landmarks["left_eye"][0] > face.landmarks["right_eye"][0]
        assert all(holds(face.box, point) for point in face.landmarks.values())
        assert faces_of(os.path.join(LFW, portrait), DetectOptions(name, min_size=200)) == []


def test_mtcnn_finds_the_six_people_of_the_group_photo():
    faces = faces_of(GROUP, DetectOptions(detector("mtcnn")))
    assert all(any(holds(f.box, point) for f in faces) for point in GROUP_FACES)
    assert len(faces) <= len(GROUP_FACES) + 1
    smaller = faces_of(GROUP, DetectOptions("mtcnn", max_side=640))
    assert sum(any(holds(f.box, point) for f in smaller) for point in GROUP_FACES) >= 5


def pipeline(command: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    bin_dir = os.path.dirname(tool("rx-detect"))
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"],
        cwd=cwd,
        capture_output=True,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **(env or {})},
        timeout=300,
    )


@pytest.mark.parametrize("name", ["mtcnn", "mediapipe"])
def test_a_dataset_of_the_detector_detects_embeds_and_reuses(name, tmp_path):
    photos = " ".join(f"'{os.path.join(LFW, p)}'" for p in PORTRAITS) + f" '{GROUP}'"
    made = pipeline(
        f"rx-init -q --detector {detector(name)} case.rx && rx-import -d case.rx {photos} | rx-detect | rx-embed",
        tmp_path,
    )
    assert made.returncode == 0, made.stderr.decode()[-2000:]
    records = jsonl(made.stdout)
    faces = [r for r in records if r["type"] == "face"]
    embeddings = [r for r in records if r["type"] == "embedding"]
    assert {(f["detector"], f["aligned"]) for f in faces} == {(name, True)}
    assert len(embeddings) == len(faces) >= 2 and {len(e["vector"]) for e in embeddings} == {128}
    again = pipeline(f"rx-import -d case.rx {photos} | rx-detect", tmp_path)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert [r["id"] for r in jsonl(again.stdout) if r["type"] == "face"] == [f["id"] for f in faces]


def test_mediapipe_full_range_model_by_deepfaces_variable(tmp_path):
    """deepface's default BlazeFace model is the short-range one (faces within about 2 m): it finds none of
    the group photo's small faces, the full-range one some."""
    detector("mediapipe")
    found = {}
    for selection in ("0", "1"):
        done = pipeline(f"rx-detect --detector mediapipe '{GROUP}'", tmp_path, {"MEDIAPIPE_MODEL_SELECTION": selection})
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        found[selection] = [r["box"] for r in jsonl(done.stdout) if r["type"] == "face"]
    assert found["0"] == [] and found["1"]
    assert all(any(holds(box, point) for point in GROUP_FACES) for box in found["1"])


def test_installing_tensorflow_leaves_the_recognition_models_on_onnx():
    """recops[mtcnn] brings TensorFlow, which deepface would otherwise prefer for every model."""
    import importlib.util
    import sys

    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed (recops[mtcnn]): deepface runs on ONNX anyway")
    engine = "import recops; from deepface.commons.backend_utils import get_backend_engine as g; print(g())"
    env = {k: v for k, v in os.environ.items() if k != "DEEPFACE_BACKEND_ENGINE"}
    ran = subprocess.run([sys.executable, "-c", engine], env=env, capture_output=True, text=True, check=True)
    assert ran.stdout.split()[-1] == "onnx"
    chosen = subprocess.run(
        [sys.executable, "-c", engine],
        env=env | {"DEEPFACE_BACKEND_ENGINE": "tensorflow"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert chosen.stdout.split()[-1] == "tensorflow"  # the user's choice stands
