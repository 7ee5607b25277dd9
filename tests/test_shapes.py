"""Records of a known type with missing or wrong fields: an error record where they are read."""

import json

import numpy as np
import pytest
from conftest import jsonl, run

from recops.shapes import label, problem

MALFORMED = [
    {"type": "image"},
    {"type": "image", "id": "a" * 32, "paths": "one.jpg"},
    {"type": "face", "id": "f1", "image": "i1", "box": [1, 2]},
    {"type": "face", "id": "f2", "image": "i1", "box": [10, 10, 5, 20]},
    {"type": "face", "id": "f3", "box": [1, 2, 3, 4]},
    {"type": "embedding", "face": "f4", "image": "i1", "model": "Dlib", "vector": "zz"},
    {"type": "embedding", "face": "f5", "image": "i1", "model": "Dlib", "vector": []},
    {"type": "match", "query": "q"},
    {"type": "cluster", "faces": "f1"},
    {"type": "verification", "boxes": [[1, 2, 3]]},
    {"type": "link", "face": "f1"},
]


@pytest.mark.parametrize("record", MALFORMED, ids=lambda r: json.dumps(r)[:60])
def test_a_malformed_record_says_what_is_wrong(record):
    assert problem(record).startswith(f"malformed {record['type']} record: ")


F, I = "f" * 32, "1" * 32


def test_well_formed_records_and_unknown_types_pass():
    assert problem({"type": "face", "id": F, "image": I, "box": [1, 2.5, 30, 40], "extra": 1}) is None
    assert problem({"type": "embedding", "face": F, "image": I, "model": "Dlib", "vector": b"\0" * 512}) is None
    assert (
        problem({"type": "embedding", "face": F, "image": I, "model": "Dlib", "vector": np.zeros(128, np.float32)})
        is None
    )
    assert problem({"type": "face", "id": F, "image": I, "box": list(np.array([1, 2, 3, 4], np.float32))}) is None
    assert problem({"type": "something-new"}) is None and problem({"type": "error"}) is None
    assert label({"type": "match", "query": "q"}) == "q" and label({"type": "image"}) == "image"


def test_every_pipeline_tool_reports_them_and_goes_on(dataset, photos, fake_models):
    good = run(["rx-import", "-d", str(dataset), str(photos / "img0.jpg")]).stdout
    stream = b"".join(json.dumps(r).encode() + b"\n" for r in MALFORMED) + good
    for tool in (
        ["rx-detect", "-j", "2"],
        ["rx-embed", "-j", "2"],
        ["rx-match"],
        ["rx-analyze", "--no-race"],
        ["rx-enrol", "--identity", "X"],
    ):
        result = run([*tool, "-d", str(dataset)], input=stream)
        records = jsonl(result.stdout)
        errors = [r for r in records if r["type"] == "error"]
        assert result.returncode == 1 and b"internal error" not in result.stderr, (tool, result.stderr.decode())
        assert len(errors) == len(MALFORMED) and all(e["kind"] == "malformed-input" for e in errors), tool
        assert any(r["type"] == "image" for r in records), f"{tool}: the good record after them was lost"
