"""Two copies of one dataset, changed apart, merged by copying files both ways, agree."""

import os
import shutil

import pytest
from conftest import make_jpeg

from recops.datasets import create_dataset
from recops.deletions import Deleter
from recops.identities import IdentityEditor, IdentityView
from recops.listing import list_kind
from recops.stages.folder_imports import ImportOptions, import_identities, import_images
from recops.store.dataset import Dataset
from recops.stream import Emitter


def copy_missing(source: str, target: str) -> None:
    """What `cp -rn` and `rsync --ignore-existing` do: copy every file the target lacks."""
    for folder, _, files in os.walk(source):
        into = os.path.join(target, os.path.relpath(folder, source))
        os.makedirs(into, exist_ok=True)
        for name in files:
            if not os.path.exists(os.path.join(into, name)):
                shutil.copy2(os.path.join(folder, name), os.path.join(into, name))


def state(root: str) -> dict:
    """The identity view and the listings, less the dataset's own path."""
    with Dataset.open(root) as ds:
        view = IdentityView.of(ds)
        listed = {
            kind: sorted((r | {"dataset": None} for r in list_kind(ds, kind)), key=lambda r: r["id"])
            for kind in ("images", "faces", "identities")
        }
        return {
            "names": {id: r["name"] for id, r in view.identities.items()},
            "links": view.face_identity,
            "rejected": view.rejected,
            **listed,
        }


@pytest.fixture
def original(tmp_path, fake_models):
    people = tmp_path / "people"
    for n, name in enumerate(["ada", "ada", "bob", "bob", "cyd"]):
        (people / name).mkdir(parents=True, exist_ok=True)
        (people / name / f"{n}.jpg").write_bytes(make_jpeg(n))
    (tmp_path / "crowd").mkdir()
    for n in range(5, 9):
        (tmp_path / "crowd" / f"{n}.jpg").write_bytes(make_jpeg(n))
    root = str(tmp_path / "a.rx")
    create_dataset(root, detector="fake", model="Fake", threshold=0.5).close()
    with Dataset.open(root) as ds:
        import_identities(ds, str(people), Emitter(lambda r: None), ImportOptions())
        import_images(ds, str(tmp_path / "crowd"), Emitter(lambda r: None), ImportOptions())
    return root


def test_copies_changed_apart_end_the_same_after_copying_both_ways(original, tmp_path):
    a, b = original, str(tmp_path / "b.rx")
    shutil.copytree(a, b)
    with Dataset.open(a) as ds:
        editor = IdentityEditor(ds)
        ada, bob, cyd = (editor.view.find(n)["id"] for n in ("ada", "bob", "cyd"))
        crowd = sorted(r["id"] for r in list_kind(ds, "faces") if r["identity"] is None)
        ada_faces = sorted(f for f, i in editor.view.face_identity.items() if i == ada)
        bob_faces = sorted(f for f, i in editor.view.face_identity.items() if i == bob)
    with Dataset.open(a) as ds:  # on A: links, a rename, a new identity
        editor = IdentityEditor(ds)
        editor.link(crowd[0], ada)
        editor.link(crowd[1], bob)
        editor.update(bob, name="Robert")
        dan = editor.create("Dan")["id"]
        editor.link(crowd[2], dan)
    with Dataset.open(b) as ds:  # on B, later: unlinks, rejects, deletions
        editor = IdentityEditor(ds)
        editor.link(ada_faces[0], ada, "unlink")
        editor.link(bob_faces[0], bob, "reject")
        editor.link(crowd[0], ada, "reject")  # A linked it; B, later, says it is not Ada
        editor.delete(cyd)
        Deleter(ds).delete(crowd[3])

    copy_missing(a, b)
    copy_missing(b, a)

    merged = state(a)
    assert merged == state(b)
    assert merged["links"] == {ada_faces[1]: ada, bob_faces[1]: bob, crowd[1]: bob, crowd[2]: dan}
    assert merged["rejected"] == {(bob_faces[0], bob), (crowd[0], ada)}
    assert sorted(merged["names"].values()) == ["Dan", "Robert", "ada"]
    assert crowd[3] not in {f["id"] for f in merged["faces"]} and len(merged["faces"]) == 8
    assert {i["name"]: i["faces"] for i in merged["identities"]} == {"ada": 1, "Robert": 2, "Dan": 1}


def test_an_identity_created_on_both_copies_shows_twice_until_merged(tmp_path, fake_models):
    """Two investigators import the same folder of people, each into their copy: identity ids
    are made apart, so after a sync each name is there twice; rx-identity merge makes them one,
    and the merge syncs like any change."""
    from conftest import jsonl, run

    people = tmp_path / "people" / "ada"
    people.mkdir(parents=True)
    for n in range(2):
        (people / f"{n}.jpg").write_bytes(make_jpeg(n))
    a, b = str(tmp_path / "a.rx"), str(tmp_path / "b.rx")
    create_dataset(a, detector="fake", model="Fake").close()
    shutil.copytree(a, b)
    for root in (a, b):
        with Dataset.open(root) as ds:
            import_identities(ds, str(tmp_path / "people"), Emitter(lambda r: None), ImportOptions())
    copy_missing(a, b)
    copy_missing(b, a)
    twice = [i for i in jsonl(run(["rx-ls", "identities", "-d", a]).stdout) if i["name"] == "ada"]
    assert len(twice) == 2 and sum(i["faces"] for i in twice) == 2  # each face holds one of the links
    merged = run(["rx-identity", "merge", twice[0]["id"], twice[1]["id"], "-d", a])
    assert merged.returncode == 0 and [r["type"] for r in jsonl(merged.stdout)][-1] == "identity"
    copy_missing(a, b)
    assert state(a) == state(b)
    (ada,) = [i for i in jsonl(run(["rx-ls", "identities", "-d", b]).stdout) if i["name"] == "ada"]
    assert ada["id"] == twice[1]["id"] and ada["faces"] == 2
