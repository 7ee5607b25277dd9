"""Enrolment and the old recops imports, with the fake models: one face per image, identities
from folders, errors copied aside, re-runs that store nothing and pick up after Ctrl-C."""

import os

import pytest
from conftest import FakeDetector, make_jpeg
from PIL import Image

from recops import models
from recops.datasets import create_dataset
from recops.deletions import Deleter
from recops.identities import IdentityEditor
from recops.listing import list_kind
from recops.records import timestamp
from recops.stages.detection import DetectOptions, FaceDetection
from recops.stages.enrolment import Enrolment, from_folder, named
from recops.stages.folder_imports import (
    CreatedObjects,
    ImportOptions,
    import_faces,
    import_identities,
    import_images,
    objects_file,
)
from recops.stages.importing import Importer
from recops.store.dataset import Dataset
from recops.stream import Emitter


class TwoFaceDetector(FakeDetector):
    """Two faces side by side in a wide image (twice as wide as high), else as FakeDetector."""

    def detect(self, image):
        from recops.models import FoundFace

        h, w = image.shape[:2]
        if w < 2 * h:
            return super().detect(image)
        return [FoundFace((x, h // 4, x + w // 4, 3 * h // 4), 0.9, {}, "fake") for x in (0, w // 2)]


@pytest.fixture
def ds(tmp_path, fake_models):
    models.register_detector("fake2", TwoFaceDetector)
    create_dataset(str(tmp_path / "case.rx"), detector="fake2", model="Fake", threshold=0.5).close()
    with Dataset.open(str(tmp_path / "case.rx")) as dataset:
        yield dataset
    models._detector_factories.pop("fake2", None)


@pytest.fixture
def people(tmp_path):
    """people/ada: 2 portraits; people/bob: 1 portrait, 1 photo of two faces, 1 without a face."""
    root = tmp_path / "people"
    for name, files in {
        "ada": {"a1.jpg": make_jpeg(1), "a2.jpg": make_jpeg(2)},
        "bob": {"b1.jpg": make_jpeg(3), "pair.jpg": make_jpeg(4, size=(120, 40))},
    }.items():
        (root / name).mkdir(parents=True)
        for file, data in files.items():
            (root / name / file).write_bytes(data)
    Image.new("RGB", (40, 30), (9, 9, 9)).save(root / "bob" / "blank.png")
    (root / "notes.txt").write_text("not in an identity folder")
    return root


def imported_records(ds, target, fn=import_identities, **kw):
    out = []
    emitter = Emitter(out.append)
    fn(ds, str(target), emitter, ImportOptions(**kw.pop("options", {})), **kw)
    ds.flush()
    return out, emitter


def names(ds) -> dict:
    """Identity name -> face count."""
    return {identity["name"]: identity["faces"] for identity in list_kind(ds, "identities")}


def test_import_identities_links_each_portrait_to_its_folder(ds, people, tmp_path):
    out, emitter = imported_records(ds, people, options={"errors_to": str(tmp_path / "errors")})
    assert names(ds) == {"ada": 2, "bob": 1}
    errors = {os.path.basename(r["path"]): r for r in out if r["type"] == "error"}
    assert set(errors) == {"pair.jpg", "blank.png"} and emitter.failures == 2
    assert (errors["pair.jpg"]["faces"], errors["blank.png"]["faces"]) == (2, 0)
    assert errors["pair.jpg"]["kind"] == "not-one-face"
    assert sorted(os.listdir(tmp_path / "errors" / "bob")) == ["blank.png", "pair.jpg"]
    assert (tmp_path / "errors" / "bob" / "pair.jpg").read_bytes() == (people / "bob" / "pair.jpg").read_bytes()
    embedded = {r["face"] for r in out if r["type"] == "embedding"}
    linked = {r["face"] for r in out if r["type"] == "link"}
    assert embedded == linked and len(linked) == 3  # the faces of refused images are not embedded


def test_a_rerun_stores_nothing_and_links_nothing_twice(ds, people):
    first, _ = imported_records(ds, people)
    segments = sorted(os.listdir(os.path.join(ds.root, "records", "links")))
    again, emitter = imported_records(ds, people)
    assert sorted(os.listdir(os.path.join(ds.root, "records", "links"))) == segments
    assert [r for r in again if r["type"] == "identity"] == []
    assert [r["ts"] for r in again if r["type"] == "link"] == [r["ts"] for r in first if r["type"] == "link"]
    assert emitter.failures == 2  # the refused images are refused again


def test_an_interrupted_import_finishes_on_a_rerun(ds, people, monkeypatch):
    calls = []
    original = TwoFaceDetector.detect

    def detect_then_stop(self, image):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, image)

    monkeypatch.setattr(TwoFaceDetector, "detect", detect_then_stop)
    with pytest.raises(KeyboardInterrupt):
        imported_records(ds, people)
    ds.flush()
    monkeypatch.setattr(TwoFaceDetector, "detect", original)
    out, _ = imported_records(ds, people)
    assert names(ds) == {"ada": 2, "bob": 1}
    assert len(list(ds.log("detections").records())) == 5  # each image detected once in all


def test_what_a_person_undid_stays_undone(ds, people):
    imported_records(ds, people)
    editor = IdentityEditor(ds)
    ada_faces = [f for f, i in editor.view.face_identity.items() if i == editor.view.find("ada")["id"]]
    editor.link(ada_faces[0], "ada", "reject")
    editor.link(ada_faces[1], "ada", "unlink")
    ds.flush()
    out, emitter = imported_records(ds, people)
    warnings = sorted(r["kind"] for r in out if r["type"] == "warning")
    assert warnings == ["rejected", "unlinked"] and emitter.failures == 2
    assert names(ds) == {"ada": 0, "bob": 1}


def test_deleted_images_and_faces_stay_deleted_on_reimport(ds, people):
    out, _ = imported_records(ds, people, fn=import_images)
    pair = next(r for r in out if r["type"] == "image" and r["paths"][0].endswith("pair.jpg"))
    a1 = next(r for r in out if r["type"] == "image" and r["paths"][0].endswith("a1.jpg"))
    pair_faces = [r["id"] for r in out if r["type"] == "face" and r["image"] == pair["id"]]
    deleter = Deleter(ds)
    deleter.delete(a1["id"])
    deleter.delete(pair_faces[0])  # a false detection: its photo-mate can be enrolled now
    ds.flush()
    again, _ = imported_records(ds, people, fn=import_images, options={"force": True})
    assert [r["kind"] for r in again if r["type"] == "warning"] == ["deleted"]
    assert a1["id"] not in {r["id"] for r in list_kind(ds, "images")}
    faces = {r["id"] for r in list_kind(ds, "faces")}
    assert pair_faces[0] not in faces and pair_faces[1] in faces
    assert pair_faces[0] not in {r["face"] for r in again if r["type"] == "embedding"}
    enrolled, _ = imported_records(ds, people)
    assert names(ds) == {"ada": 1, "bob": 2}


def test_import_faces_links_to_an_existing_identity_or_to_none(ds, people, tmp_path):
    with pytest.raises(Exception, match="no identity 'nobody'"):
        imported_records(ds, people / "ada", fn=import_faces, identity="nobody")
    ada = IdentityEditor(ds).create("Ada Lovelace")
    ds.flush()
    rows = []
    objects = CreatedObjects(timestamp(), rows.append)
    out, _ = imported_records(ds, people / "ada", fn=import_faces, identity=ada["id"][:12], objects=objects)
    assert names(ds) == {"Ada Lovelace": 2}
    assert [r["kind"] for r in rows] == ["Image", "Face", "Image", "Face"]
    assert rows[0]["path"] == str(people / "ada" / "a1.jpg")
    out, _ = imported_records(ds, people / "bob", fn=import_faces)
    assert [r for r in out if r["type"] == "link"] == [] and len([r for r in out if r["type"] == "embedding"]) == 1


def test_objects_file_appends_csv_rows_like_the_original(tmp_path):
    target = tmp_path / "objects.csv"
    for _ in range(2):
        with objects_file(str(target), "csv") as write:
            write({"kind": "Image", "id": "ab", "path": "/p/x,y.jpg"})
    assert target.read_text() == 'Image,ab,"/p/x,y.jpg"\n' * 2


def test_enrol_from_folder_in_a_stream(ds, people):
    imported = []
    with Importer(ds, Emitter(imported.append)) as importer:
        importer.add_arguments([str(people / "ada")])
    detected = []
    FaceDetection(Emitter(detected.append), DetectOptions("fake2"), ds).run(imported + ["not a record"])
    out = []
    emitter = Emitter(out.append)
    Enrolment(emitter, IdentityEditor(ds), from_folder).run(detected + ["a/path.jpg"])
    assert [r["type"] for r in out] == [
        "image",
        "face",
        "identity",
        "link",
        "detection",
        "image",
        "face",
        "link",
        "detection",
        "error",
        "error",
    ]
    assert out[2]["name"] == "ada" and out[-1]["kind"] == "not-a-record" and emitter.failures == 2
    assert from_folder({"paths": ["/x/ada/1.jpg", "/y/ada/1.jpg"]}) == "ada"
    with pytest.raises(Exception, match="different names"):
        from_folder({"paths": ["/x/ada/1.jpg", "/x/bob/1.jpg"]})
    checked = []
    Enrolment(Emitter(checked.append), IdentityEditor(ds), named(None)).run(detected)
    assert "link" not in [r["type"] for r in checked]


def test_the_folder_is_the_one_this_import_read_even_when_the_photo_was_seen_elsewhere(ds, people, tmp_path):
    """A photo first imported from an unsorted folder, then sorted into people/ada: the image
    record keeps both paths, and its `path` says which one this run read."""
    import shutil

    (tmp_path / "unsorted").mkdir()
    shutil.copy(people / "ada" / "a1.jpg", tmp_path / "unsorted" / "a1.jpg")
    with Importer(ds, Emitter(lambda r: None)) as importer:
        importer.add_arguments([str(tmp_path / "unsorted")])
    imported = []
    with Importer(ds, Emitter(imported.append)) as importer:
        importer.add_arguments([str(people / "ada" / "a1.jpg")])
    (image,) = imported
    assert image["path"] == str(people / "ada" / "a1.jpg") and len(image["paths"]) == 2
    assert from_folder(image) == "ada"
    detected = []
    FaceDetection(Emitter(detected.append), DetectOptions("fake2"), ds).run(imported)
    out = []
    Enrolment(Emitter(out.append), IdentityEditor(ds), from_folder).run(detected)
    assert [r["name"] for r in out if r["type"] == "identity"] == ["ada"] and any(r["type"] == "link" for r in out)


def test_one_photo_in_the_folders_of_two_identities_is_refused(ds, people):
    (people / "ada" / "copy-of-b1.jpg").write_bytes((people / "bob" / "b1.jpg").read_bytes())
    out, _ = imported_records(ds, people)
    assert [r["kind"] for r in out if r["type"] == "error"].count("ambiguous-identity") == 2
    assert names(ds) == {"ada": 2}  # bob had only that photo, and pair.jpg and blank.png


def test_a_folder_named_like_the_start_of_an_id_is_a_name(ds, tmp_path):
    ada = IdentityEditor(ds).create("Ada")
    ds.flush()
    folder = tmp_path / "by-folder" / ada["id"][:8]
    folder.mkdir(parents=True)
    (folder / "p.jpg").write_bytes(make_jpeg(7))
    imported_records(ds, tmp_path / "by-folder")
    assert names(ds) == {"Ada": 0, ada["id"][:8]: 1}
