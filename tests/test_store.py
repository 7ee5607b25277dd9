import json
import os
import stat

import pytest

from recops import metrics, model_names
from recops.datasets import create_dataset
from recops.errors import DatasetError, LockedError
from recops.store import config
from recops.store.atomic import write_atomic
from recops.store.dataset import Dataset, find_datasets, locate
from recops.store.objects import ObjectStore, content_id
from recops.store.segments import RecordLog, SegmentDamaged
from recops.store.tree import Tree
from recops.thresholds import effective_threshold, threshold_source


def test_write_atomic_leaves_only_the_named_file(tmp_path):
    target = tmp_path / "f"
    write_atomic(str(target), b"data", mode=0o400)
    assert target.read_bytes() == b"data"
    assert stat.S_IMODE(target.stat().st_mode) == 0o400
    assert os.listdir(tmp_path) == ["f"]


def test_objects_are_stored_once_read_only_and_fanned_out(tmp_path):
    store = ObjectStore(Tree(str(tmp_path)))
    id = content_id(b"hello")
    assert store.put(id, b"hello") is True
    assert store.put(id, b"hello") is False
    path = store.path(id)
    assert path == str(tmp_path / "objects" / id[:2] / id[2:])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o400
    assert list(store.ids()) == [id] and store.read(id) == b"hello"


def test_record_log_appends_new_immutable_segments(tmp_path):
    log = RecordLog(Tree(str(tmp_path)), "images", flush_every=2)
    for n in range(5):
        log.append({"type": "t", "n": n})
    log.flush()
    assert len(log.segments()) == 3
    assert [r["n"] for r in log.records()] == [0, 1, 2, 3, 4]
    assert all(stat.S_IMODE(os.stat(s.path).st_mode) == 0o400 for s in log.segments())


def test_torn_segment_is_detected_and_skipped(tmp_path, caplog):
    log = RecordLog(Tree(str(tmp_path)), "images")
    log.append({"type": "t", "n": 1})
    path = log.flush()
    log.append({"type": "t", "n": 2})
    log.flush()
    os.chmod(path, 0o600)
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) - 1)
    with pytest.raises(SegmentDamaged, match="does not match"):
        log.segments()[0].records()
    assert [r["n"] for r in log.records()] == [2]
    assert "run rx-fsck" in caplog.text


def test_dataset_is_private_and_has_versioned_config(tmp_path):
    root = tmp_path / "case.rx"
    create_dataset(str(root), description="a case").close()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    data = json.loads((root / "recops.json").read_text())
    assert data["format"] == config.FORMAT_VERSION and data["detector"] == "dlib" and data["model"] == "Dlib"
    with Dataset.open(str(root)) as ds:
        assert ds.config.description == "a case"
        assert threshold_source(ds.config)[0] == "calibration" and 0.07 < effective_threshold(ds.config) < 0.09


def test_a_dataset_names_only_metrics_recops_computes():
    assert config.METRICS is metrics.METRICS is model_names.METRICS


def test_unknown_format_version_is_refused(dataset):
    path = dataset / "recops.json"
    data = json.loads(path.read_text())
    data["format"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="format 99"):
        Dataset.open(str(dataset))


def test_not_a_dataset(tmp_path):
    with pytest.raises(DatasetError, match="not a recops dataset"):
        Dataset.open(str(tmp_path))
    with pytest.raises(DatasetError, match="no such dataset"):
        Dataset.open(str(tmp_path / "nope"))


def test_shared_holders_coexist_and_exclusive_waits_for_them(dataset):
    first = Dataset.open(str(dataset))
    second = Dataset.open(str(dataset))
    with pytest.raises(LockedError, match="in use"):
        Dataset.open(str(dataset), exclusive=True, wait=False)
    first.close()
    second.close()
    Dataset.open(str(dataset), exclusive=True, wait=False).close()


def test_find_datasets_and_locate_by_name(tmp_path, monkeypatch):
    for name in ("a.rx", "nested/b.rx"):
        create_dataset(str(tmp_path / name)).close()
    assert [os.path.relpath(p, tmp_path) for p in find_datasets(str(tmp_path))] == ["a.rx", "nested/b.rx"]
    monkeypatch.setenv("RECOPS_HOME", str(tmp_path / "home"))
    assert locate("case1") == str(tmp_path / "home" / "case1")
    assert locate("./case1") == "./case1"
