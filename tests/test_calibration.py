"""Calibrated error rates: pair distances measured, thresholds chosen for a false-match rate, and
every verdict carrying its error rate."""

import json
import math

import numpy as np
import pytest
from conftest import jsonl, run
from gallery import add_face

from recops.calibrate import CalibrateOptions, calibrate
from recops.calibration import Calibration, Calibrations, in_words, measure
from recops.datasets import create_dataset, init_dataset
from recops.errors import UsageError
from recops.identities import IdentityEditor
from recops.review import FALSE_ALARM, match_faces
from recops.stages.matching import Matcher, MatchOptions
from recops.store.dataset import Dataset
from recops.stream import Emitter
from recops.thresholds import calibration_of, convert, effective_threshold


def people(count: int, faces: int, spread: float = 0.35, dim: int = 16, seed: int = 0):
    """`count` made-up people of `faces` faces each: (vectors, names)."""
    rng = np.random.default_rng(seed)
    vectors, names = [], []
    for n in range(count):
        centre = rng.normal(size=dim)
        for _ in range(faces):
            vectors.append(centre + spread * rng.normal(size=dim))
            names.append(f"person {n}")
    return np.asarray(vectors), names


def test_every_pair_is_counted_once_and_one_photo_is_two_people():
    vectors, names = people(3, 4)
    photos = [f"p{n}" for n in range(len(names))]
    photos[1] = photos[0]  # two faces of person 0 in one photo: never one person
    curve = measure(vectors, names, photos)["cosine"]
    assert curve.genuine.sum() == 3 * 6 - 1 and curve.impostor.sum() == 3 * 4 * 8 // 2 + 1


def test_rates_and_thresholds_follow_the_counts():
    vectors, names = people(40, 6)
    curve = measure(vectors, names, [str(n) for n in range(len(names))])["cosine"]
    for fmr in (0.1, 0.01, 0.001):
        threshold = curve.threshold_for(fmr)
        assert curve.fmr(threshold) == pytest.approx(fmr, rel=0.05, abs=1e-4)
    distances = np.linspace(0, 1, 50)
    assert all(np.diff([curve.fmr(d) for d in distances]) >= 0) and all(
        np.diff([curve.fnmr(d) for d in distances]) <= 0
    )
    best = curve.best_accuracy()
    assert curve.fmr(best) + curve.fnmr(best) <= min(curve.fmr(d) + curve.fnmr(d) for d in distances) + 1e-9
    exact = [
        1 - u @ v / np.linalg.norm(u) / np.linalg.norm(v)
        for i, u in enumerate(vectors)
        for j, v in enumerate(vectors)
        if j > i and names[i] != names[j]
    ]
    t = curve.threshold_for(0.05)
    assert np.mean(np.array(exact) <= t) == pytest.approx(0.05, abs=0.002)


def test_a_calibration_survives_its_record():
    vectors, names = people(5, 3)
    curves = measure(vectors, names, [str(n) for n in range(len(names))])
    made = Calibration("x", "dlib", "Dlib", False, curves, 5, 15, "made-up faces", "2026-12-03")
    again = Calibration.from_dict(json.loads(json.dumps(made.to_dict())))
    assert again.curve("angular").fmr(0.2) == made.curve("angular").fmr(0.2) and again.pairs("cosine") == made.pairs(
        "cosine"
    )


@pytest.mark.parametrize(
    "fmr,words",
    [
        (0.1, "about 1 in 10 strangers"),
        (1.3e-5, "about 1 in 80,000 strangers"),
        (0.0, "no stranger of the calibration"),
        (None, "no calibration"),
    ],
)
def test_error_rates_in_words(fmr, words):
    assert in_words(fmr).startswith(words)


@pytest.fixture
def labelled(tmp_path):
    """A dataset of 30 people of 5 faces each, every face linked to its person."""
    root = str(tmp_path / "case.rx")
    create_dataset(root, threshold=0.3).close()
    vectors, names = people(30, 5)
    with Dataset.open(root) as dataset:
        faces = [add_face(dataset, n, n, v) for n, v in enumerate(vectors)]
        dataset.flush()
        editor = IdentityEditor(dataset)
        ids = {}
        for face, name in zip(faces, names):
            ids.setdefault(name, editor.create(name)["id"])
            editor.link(face, ids[name])
    return root, vectors, faces


def test_rx_calibrate_keeps_the_calibration_and_sets_the_threshold_it_says(labelled, tmp_path):
    root, vectors, faces = labelled
    result = run(["rx-calibrate", "-d", root, "--target-fmr", "0.01", "-o", str(tmp_path / "curves.html")])
    assert result.returncode == 0, result.stderr.decode()
    (summary,) = jsonl(result.stdout)
    assert summary["type"] == "calibrated" and summary["people"] == 30 and summary["genuine_pairs"] == 30 * 10
    assert summary["fmr"] == pytest.approx(0.01, rel=0.1)
    with Dataset.open(root) as dataset:
        config = dataset.config
        assert config.threshold == summary["threshold"] and config.threshold_fmr == 0.01
        assert config.calibration == summary["id"] and "at a false-match rate of 0.01" in config.threshold_source
        assert calibration_of(dataset).name == summary["name"] == Calibrations.of(dataset).get(summary["id"]).name
        match = Matcher(dataset).matches(faces[0], "b" * 32, vectors[0])[0]
    assert match["calibration"] == summary["name"] and 0 <= match["fmr"] <= 0.01
    assert match["expected_false"] == pytest.approx(match["fmr"] * 150, rel=0.01)
    page = (tmp_path / "curves.html").read_text()
    assert page.count("<polyline") == 4 and "strangers would match this closely" in page
    assert "http" not in page.replace("http-equiv", "") and oct((tmp_path / "curves.html").stat().st_mode)[-3:] == "600"
    with Dataset.open(root) as dataset:  # the stored calibration passes the door of every read
        assert [r["id"] for r in dataset.log("calibrations").records()] == [summary["id"]]


def test_too_few_labels_are_said_and_a_best_accuracy_threshold_is_kept(labelled):
    root, _, _ = labelled
    result = run(["rx-calibrate", "-d", root, "--target-fmr", "0.00001"])
    warnings = [r for r in jsonl(result.stdout) if r["type"] == "warning"]
    assert result.returncode == 0 and warnings[0]["kind"] == "too-few-labels" and b"too few" in result.stderr
    with Dataset.open(root) as dataset:
        summary = calibrate(dataset, Emitter(lambda r: None), CalibrateOptions(best_accuracy=True))
        assert dataset.config.threshold_fmr is None and "best accuracy" in dataset.config.threshold_source
    assert summary["fnmr"] < 0.2


def test_a_gallery_wide_false_alarm_rate_becomes_a_threshold(labelled):
    root, vectors, faces = labelled
    with Dataset.open(root) as dataset:
        calibrate(dataset, Emitter(lambda r: None))
        matcher = Matcher(dataset, MatchOptions(max_false_alarm=0.1))
        curve = calibration_of(dataset).curve("cosine")
        assert matcher.threshold == pytest.approx(curve.threshold_for(0.1 / 150), abs=1e-6)
    both = run(["rx-match", "-d", root, "--threshold", "0.1", "--max-false-alarm", "0.1"], input=b"")
    assert both.returncode == 2 and b"not both" in both.stderr
    assert run(["rx-match", "-d", root, "--max-false-alarm", "1.5"], input=b"").returncode == 2


def test_a_threshold_follows_its_metric(labelled):
    root, _, _ = labelled
    dataset, _ = init_dataset(root, metric="euclidean_l2")  # a person's 0.3 cosine
    assert dataset.config.threshold == pytest.approx(math.sqrt(2 * 0.3))
    dataset.close()
    dataset, _ = init_dataset(root, metric="euclidean")  # no equivalent: the default holds
    assert dataset.config.threshold is None
    dataset.close()
    with Dataset.open(root) as dataset:
        calibrate(dataset, Emitter(lambda r: None), CalibrateOptions(target_fmr=0.01))
    dataset, _ = init_dataset(root, metric="angular")  # calibrated: chosen again for its rate
    assert calibration_of(dataset).curve("angular").fmr(dataset.config.threshold) == pytest.approx(0.01, rel=0.1)
    dataset.close()
    assert convert(0.07, "cosine", "angular") == pytest.approx(math.acos(0.93) / math.pi, abs=1e-6)
    assert convert(0.5, "euclidean", "cosine") is None


def test_calibrating_needs_two_people(tmp_path):
    root = str(tmp_path / "case.rx")
    create_dataset(root).close()
    with Dataset.open(root) as dataset, pytest.raises(UsageError, match="two people"):
        calibrate(dataset, Emitter(lambda r: None))


def test_a_dataset_without_a_calibration_keeps_deepfaces_threshold(tmp_path):
    root = str(tmp_path / "case.rx")
    create_dataset(root, model="SFace").close()
    with Dataset.open(root) as dataset:
        assert calibration_of(dataset) is None and effective_threshold(dataset.config) == pytest.approx(0.593)
        assert "fmr" not in Matcher(dataset).error_rates(0.1)


def test_proposals_keep_a_gallery_wide_false_alarm_rate_unless_a_person_set_the_threshold(labelled):
    root, vectors, _ = labelled
    with Dataset.open(root) as dataset:
        add_face(dataset, 999, 999, vectors[0] + 0.01)
        dataset.flush()
        (proposal,) = match_faces(dataset)
        assert proposal["threshold"] == dataset.config.threshold == 0.3  # a person's threshold holds
        calibrate(dataset, Emitter(lambda r: None), CalibrateOptions(target_fmr=0.05))
        (proposal,) = match_faces(dataset)
        curve = calibration_of(dataset).curve("cosine")
        assert proposal["threshold"] == pytest.approx(curve.threshold_for(FALSE_ALARM / 150), abs=1e-6)
        assert proposal["threshold"] < dataset.config.threshold and proposal["fmr"] <= FALSE_ALARM / 150


def test_the_original_match_faces_takes_a_false_alarm_rate_too(labelled):
    root, vectors, _ = labelled
    with Dataset.open(root) as dataset:
        add_face(dataset, 999, 999, vectors[0] + 0.01)
        dataset.flush()
        calibrate(dataset, Emitter(lambda r: None), CalibrateOptions(target_fmr=0.05))
        wanted = calibration_of(dataset).curve("cosine").threshold_for(0.1 / 150)
    result = run(["recops", "dataset-match-faces", "-d", root, "--max-false-alarm", "0.1"])
    (proposal,) = jsonl(result.stdout)
    assert result.returncode == 0 and proposal["threshold"] == pytest.approx(wanted, abs=1e-6)
    both = run(["recops", "dataset-match-faces", "-d", root, "--max-false-alarm", "0.1", "--threshold", "0.2"])
    assert both.returncode == 2 and b"not both" in both.stderr
