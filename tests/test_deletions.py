"""Tombstones for faces and images, honoured by every view; deleting a whole dataset."""

import os

import pytest
from gallery import add_face, hexid

from recops.datasets import create_dataset
from recops.deletions import Deleter, remove_dataset
from recops.errors import DatasetError, LockedError
from recops.identities import IdentityEditor
from recops.listing import list_kind
from recops.stages.matching import Matcher
from recops.store.dataset import Dataset


@pytest.fixture
def ds(tmp_path):
    create_dataset(str(tmp_path / "case.rx"), threshold=0.5).close()
    with Dataset.open(str(tmp_path / "case.rx")) as dataset:
        for n in range(4):  # faces 0 and 1 in photo 0, 2 in photo 2, 3 in photo 3
            add_face(dataset, n, n if n != 1 else 0, [1, 0.01 * n, 0, 0])
        yield dataset


def ids(ds, kind):
    return sorted(r["id"] for r in list_kind(ds, kind))


def test_every_view_honours_a_deletion(ds):
    editor = IdentityEditor(ds)
    ada = editor.create("Ada")["id"]
    editor.link(hexid(0), ada)
    editor.link(hexid(2), ada)
    deleter = Deleter(ds)
    assert deleter.delete(hexid(0, "a"))["target"] == "image"  # the kind of an id is looked up
    assert deleter.delete(hexid(2))["target"] == "face"
    ds.flush()
    assert ids(ds, "images") == [hexid(2, "a"), hexid(3, "a")]
    assert ids(ds, "faces") == [hexid(3)]
    assert [i["faces"] for i in list_kind(ds, "identities")] == [0]
    matches = Matcher(ds).matches("q" * 32, "b" * 32, [1, 0, 0, 0])
    assert [m["candidate"] for m in matches] == [hexid(3)]


def test_removing_a_dataset_takes_its_lock_and_refuses_what_is_not_one(tmp_path, ds):
    with pytest.raises(DatasetError, match="not a recops dataset"):
        remove_dataset(str(tmp_path))
    with pytest.raises(LockedError):  # the fixture holds it open
        remove_dataset(ds.root)
    ds.close()
    notes = os.path.join(ds.root, "notes.txt")
    open(notes, "w").close()
    with pytest.raises(DatasetError, match="notes.txt"):
        remove_dataset(ds.root)
    os.unlink(notes)
    assert remove_dataset(ds.root) == ds.root
    assert os.listdir(tmp_path) == []
