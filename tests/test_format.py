"""A dataset written before the code was reorganised (tests/data/format1.rx, format 1) opens and
reads the same after it: every record type, folded by today's views."""

import shutil

import numpy as np
import pytest
from conftest import REPO

from recops.clustering.history import current
from recops.deletions import Deletions
from recops.faces import FaceCatalog
from recops.fsck import fsck
from recops.identities import IdentityView
from recops.images import ImageCatalog
from recops.stages.matching import Matcher, MatchOptions
from recops.store.dataset import Dataset
from recops.stream import Emitter

KEPT = f"{REPO}/tests/data/format1.rx"


@pytest.fixture
def format1(tmp_path, fake_models):
    root = tmp_path / "format1.rx"
    shutil.copytree(KEPT, root)
    with Dataset.open(str(root)) as dataset:
        yield dataset


def test_a_format_1_dataset_passes_rx_fsck(format1):
    report = fsck(format1, Emitter(lambda record: None))
    assert (report.problems, report.warnings, report.objects, report.records) == (0, 0, 4, 31)
    assert format1.config.format == 1 and format1.config.description == "format 1 as written"


def test_a_format_1_dataset_reads_as_it_was_written(format1):
    images = list(ImageCatalog.of(format1))
    assert len(images) == 4 and [i["query"] for i in images].count(True) == 1
    assert all(i["consent"] for i in images if not i["query"])
    deletions = Deletions.of(format1)
    faces = [f for f in FaceCatalog.of(format1) if not deletions.hides(f["id"], f["image"])]
    assert len(list(FaceCatalog.of(format1))) == 4 and len(faces) == 3
    view = IdentityView.of(format1)
    (ada,) = view.identities.values()
    assert (ada["name"], ada["color"], ada["description"]) == ("Ada", "#ff7a00", "a person")
    assert list(view.face_counts().values()) == [1] and len(view.rejected) == 1
    clustering = current(format1, lambda face: deletions.hides(face))
    assert clustering is not None and sum(c["size"] for c in clustering.clusters.values()) == 2
    kinds = [r["type"] for r in format1.log("matches").records()]
    assert kinds.count("recognition") == 1 and "match" in kinds
    ages = [r["age"] for r in format1.log("attributes").records()]
    assert ages == [30, 30]  # one photo each


def test_a_format_1_dataset_is_searched_as_before(format1):
    face = next(r for r in format1.log("embeddings").records())
    vector = np.frombuffer(face["vector"], "<f4")
    found = Matcher(format1, MatchOptions(threshold=1e6)).matches("0" * 32, "1" * 32, vector)
    assert found and found[0]["candidate"] == face["face"] and found[0]["distance"] < 1e-4
