"""rx-analyze with deterministic fake analysers: records, the warning, memo, choices, errors."""

import json

import numpy as np
import pytest
from conftest import jsonl, make_jpeg, run
from typer.testing import CliRunner

from recops import models
from recops.attributes import Attributes
from recops.datasets import create_dataset
from recops.errors import ModelError, UsageError
from recops.models.attributes import LABELS, WARNING, scored
from recops.stages.analysis import FaceAnalysis, analyze, choose_models, with_extended_fields
from recops.stages.detection import DetectOptions, FaceDetection
from recops.stages.importing import Importer
from recops.store.dataset import Dataset
from recops.stream import BadInput, Emitter

ALL = {"age": None, "gender": None, "emotion": None, "race": None}
FAKES = {"age": "fake-age", "gender": "fake-gender", "emotion": "fake-emotion", "race": "fake-race"}
calls: list[tuple[str, int]] = []


class FakeAnalyser:
    """Reads the mean colour of each box: equal faces, equal attributes."""

    def __init__(self, attribute):
        self.attribute = attribute
        self.name = FAKES[attribute]

    def analyse(self, image, faces):
        calls.append((self.name, len(faces)))
        found = []
        for face in faces:
            left, top, right, bottom = face["box"]
            mean = image[top:bottom, left:right].reshape(-1, 3).mean(axis=0) + 1
            if self.attribute == "age":
                found.append({"age": round(float(mean[0]) / 4, 1)})
            else:
                found.append(scored(self.attribute, np.resize(mean, len(LABELS[self.attribute]))))
        return found


@pytest.fixture
def fakes(fake_models):
    calls.clear()
    for attribute, name in FAKES.items():
        models.register_analyser(name, attribute, lambda a=attribute: FakeAnalyser(a))
    yield
    for name in FAKES.values():
        models._analyser_factories.pop(name, None)
        models._loaded.pop(("analyser", name), None)


@pytest.fixture
def ds(tmp_path):
    root = tmp_path / "case.rx"
    create_dataset(str(root)).close()
    with Dataset.open(str(root)) as dataset:
        yield dataset


def detected(ds, paths):
    images = []
    with Importer(ds, Emitter(images.append)) as importer:
        importer.add_arguments([str(p) for p in paths])
    out = []
    FaceDetection(Emitter(out.append), DetectOptions("fake"), ds).run(images)
    return out


def analysed(ds, items, chosen=None, workers=1, force=False):
    out = []
    emitter = Emitter(out.append)
    FaceAnalysis(emitter, chosen or dict(FAKES), ds, workers, force).run(items)
    return out, emitter


def test_an_attribute_record_follows_each_face_with_deepfaces_fields_and_the_warning(ds, photos, fakes):
    records = detected(ds, sorted(photos.iterdir()))
    out, emitter = analysed(ds, records)
    types = [r["type"] for r in out]
    assert types[:4] == ["image", "face", "attribute", "detection"] and emitter.failures == 0
    face, attribute = out[1], out[2]
    assert (attribute["face"], attribute["image"]) == (face["id"], face["image"])
    assert set(attribute) == {
        "type",
        "face",
        "image",
        "age",
        "gender",
        "dominant_gender",
        "emotion",
        "dominant_emotion",
        "race",
        "dominant_race",
        "models",
        "warning",
        "ts",
    }
    assert list(attribute["emotion"]) == list(LABELS["emotion"]) and len(attribute["race"]) == 6
    assert attribute["dominant_gender"] in ("Woman", "Man") and abs(sum(attribute["gender"].values()) - 100) < 0.1
    assert attribute["models"] == FAKES and attribute["warning"] == WARNING
    assert types.count("attribute") == types.count("face") == 3  # the PNGs are flat: no face
    stored = list(ds.log("attributes").records())
    assert [r["face"] for r in stored] == [r["face"] for r in out if r["type"] == "attribute"]


def test_what_a_model_said_is_reused_and_only_missing_attributes_are_computed(ds, photos, fakes):
    records = detected(ds, sorted(photos.iterdir()))
    first, _ = analysed(ds, records, {"age": "fake-age", "gender": "fake-gender"})
    calls.clear()
    again, _ = analysed(ds, records, {"age": "fake-age", "gender": "fake-gender"})
    assert calls == [] and again == first
    more, _ = analysed(ds, records, {"age": "fake-age", "gender": "fake-gender", "emotion": "fake-emotion"})
    assert {name for name, _ in calls} == {"fake-emotion"}
    assert [r["age"] for r in more if r["type"] == "attribute"] == [r["age"] for r in first if r["type"] == "attribute"]
    calls.clear()
    analysed(ds, records, {"age": "fake-age"}, force=True)
    assert {name for name, _ in calls} == {"fake-age"} and sum(n for _, n in calls) == 3
    assert len(list(ds.log("attributes").records())) == 9  # 3 faces: first run, emotion added, forced


def test_a_pure_filter_reads_the_original_files_and_stores_nothing(photos, fakes):
    records = detected(None, [photos / "img0.jpg", photos / "img1.jpg"])
    out, emitter = analysed(None, records, workers=2)
    assert [r["type"] for r in out] == ["image", "face", "attribute", "detection"] * 2 and emitter.failures == 0


def test_workers_keep_input_order(ds, tmp_path, fakes):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(10):
        (folder / f"{i:02d}.jpg").write_bytes(make_jpeg(300 + i))
    records = detected(ds, sorted(folder.iterdir()))
    one, _ = analysed(None, records)
    three, _ = analysed(None, records, workers=3)

    def strip(rs):
        return [{k: v for k, v in r.items() if k != "ts"} for r in rs]

    assert strip(three) == strip(one)


def test_a_face_that_fails_is_an_error_and_everything_else_goes_on(photos, fakes):
    records = detected(None, [photos / "img0.jpg", photos / "img1.jpg"])
    faces = [r for r in records if r["type"] == "face"]
    lost = dict(faces[0], path="/gone.jpg")
    items = [lost, {"type": "note"}, str(photos / "img2.jpg"), BadInput("x", "broken"), faces[1]]
    out, emitter = analysed(None, items)
    assert [r["type"] for r in out] == ["face", "error", "note", "error", "error", "face", "attribute"]
    assert (out[1]["input"], out[1]["stage"], out[3]["kind"]) == (lost["id"], "analyze", "not-a-record")
    assert emitter.failures == 3


def test_defaults_are_the_models_with_real_weights_and_race_is_skipped_naming_its_file():
    chosen, unavailable = choose_models(dict(ALL))
    assert chosen == {"age": "dlib-age", "gender": "dlib-gender", "emotion": "fer-emotion"}
    [race] = unavailable
    assert (race.attribute, race.asked) == ("race", False)
    assert "race_model_single_batch" in race.reason and "rx-models add" in race.reason
    assert choose_models(dict(ALL, race=True))[1][0].asked
    assert choose_models({**ALL, "age": False, "race": False}) == (
        {"gender": "dlib-gender", "emotion": "fer-emotion"},
        [],
    )


def test_a_named_model_is_used_for_its_attribute(fakes):
    chosen, unavailable = choose_models(dict(ALL), ["fake-race", "fake-age"])
    assert chosen == {"age": "fake-age", "gender": "dlib-gender", "emotion": "fer-emotion", "race": "fake-race"}
    assert unavailable == []
    with pytest.raises(UsageError, match="no attribute model is called 'ArcFace'"):
        choose_models(dict(ALL), ["ArcFace"])
    with pytest.raises(UsageError, match="--no-age"):
        choose_models(dict(ALL, age=False), ["fake-age"])


def test_race_asked_for_without_its_file_is_one_error_record_and_the_rest_is_analysed(photos, fakes):
    records = detected(None, [photos / "img0.jpg"])
    out = []
    emitter = Emitter(out.append)
    analyze(emitter, records, {"age": None, "gender": False, "emotion": False, "race": True}, ["fake-age"])
    assert [r["type"] for r in out] == ["error", "image", "face", "attribute", "detection"]
    assert (out[0]["input"], out[0]["kind"]) == ("race", "model-unavailable") and emitter.failures == 1
    assert out[3]["models"] == {"age": "fake-age"} and "race" not in out[3]
    with pytest.raises(ModelError):
        analyze(Emitter([].append), records, {"age": False, "gender": False, "emotion": False, "race": True})
    with pytest.raises(UsageError, match="nothing to analyse"):
        analyze(Emitter([].append), records, {"age": False, "gender": False, "emotion": False, "race": False})


def test_recognize_and_rx_match_add_the_stored_attributes(ds, photos, fakes):
    records = detected(ds, [photos / "img0.jpg"])
    out, _ = analysed(ds, records)
    face = next(r for r in records if r["type"] == "face")
    stored = Attributes.of(ds).of_face(face["id"])
    assert stored["age"] == out[2]["age"] and stored["models"] == FAKES and stored["warning"] == WARNING
    passed = []
    sink = with_extended_fields(Emitter(passed.append), ds)
    sink.emit({"type": "match", "query": "q", "candidate": face["id"]})
    sink.emit(face)
    sink.emit({"type": "match", "query": "q", "candidate": "someone else"})
    assert passed[0]["attributes"] == stored and passed[1]["attributes"] == stored and "attributes" not in passed[2]


# --- Through the command line ------------------------------------------------------------------


def test_help_texts_carry_the_warning():
    from recops.cli.analyze import app as analyze_app
    from recops.cli.porcelain import app as porcelain_app

    runner = CliRunner()
    for app, args in ((analyze_app, ["--help"]), (porcelain_app, ["dataset-compute-extended-fields", "--help"])):
        text = " ".join(runner.invoke(app, args).stdout.split())
        assert "weak and questionable models that categorise people in a discriminatory way" in text


def test_rx_models_lists_the_attribute_models_with_real_weights_as_defaults():
    records = jsonl(run(["rx-models", "list", "--task", "facial_attribute"]).stdout)
    by_name = {r["name"]: r for r in records}
    assert {"Age", "Gender", "Emotion", "Race", "dlib-age", "dlib-gender", "fer-emotion"} <= set(by_name)
    for name in ("dlib-age", "dlib-gender", "fer-emotion"):
        assert by_name[name]["usable"] and by_name[name]["default"], by_name[name]
    assert not by_name["Race"]["usable"] and not by_name["Race"]["default"]


def test_rx_models_add_takes_the_packaged_files_byte_for_byte(tmp_path):
    from recops.models import weight_status

    shipped = weight_status.status("facial_attribute", "dlib-gender").files[0].path
    home = tmp_path / "home"
    copy = tmp_path / "gender-v1.onnx"
    copy.write_bytes(open(shipped, "rb").read())
    env = {"DEEPFACE_HOME": str(home)}
    added = run(["rx-models", "add", str(copy)], env=env)
    assert added.returncode == 0, added.stderr.decode()
    assert json.loads(added.stdout)["models"] == ["facial_attribute/dlib-gender"]
    copy.write_bytes(open(shipped, "rb").read()[:-1] + b"x")
    refused = run(["rx-models", "add", str(copy)], env=env)
    assert refused.returncode == 1 and b"not the known gender-v1.onnx" in refused.stderr


def test_deepfaces_models_get_analyzes_crops_and_give_its_fields(monkeypatch):
    from recops.models import attributes_deepface

    seen = []

    class Client:
        def __init__(self, output):
            self.output = output

        def predict(self, batch):
            seen.append(batch.shape)
            return np.asarray([self.output] * len(batch)) if len(batch) > 1 else np.asarray(self.output)

    outputs = {"Race": [0.1, 0.1, 0.1, 0.5, 0.1, 0.1], "Age": 41.26, "Gender": [0.2, 0.8]}
    monkeypatch.setattr(attributes_deepface, "_build", lambda task, name: Client(outputs[name]))
    image = np.random.default_rng(1).integers(0, 255, (120, 100, 3), dtype=np.uint8)
    faces = [
        {"box": [20, 30, 80, 100], "landmarks": {"left_eye": [60, 50], "right_eye": [40, 50]}},
        {"box": [10, 10, 40, 50]},
    ]
    race = attributes_deepface.DeepfaceAnalyser("Race").analyse(image, faces)
    assert seen == [(2, 224, 224, 3)]
    assert race[0] == {
        "race": {
            "asian": 10.0,
            "indian": 10.0,
            "black": 10.0,
            "white": 50.0,
            "middle eastern": 10.0,
            "latino hispanic": 10.0,
        },
        "dominant_race": "white",
    }
    assert attributes_deepface.DeepfaceAnalyser("Age").analyse(image, faces[:1]) == [{"age": 41.3}]
    assert attributes_deepface.DeepfaceAnalyser("Gender").analyse(image, faces[1:])[0]["dominant_gender"] == "Man"


def test_labels_are_deepfaces():
    from deepface.models.demography import DemographyUtils

    assert LABELS == {
        "gender": tuple(DemographyUtils.GENDER_LABELS),
        "emotion": tuple(DemographyUtils.EMOTION_LABELS),
        "race": tuple(DemographyUtils.RACE_LABELS),
    }
