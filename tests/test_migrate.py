"""recops migrate: an original recops database and storage folder into recops datasets."""

import hashlib
import os
import pickle

import numpy as np
import pytest
from conftest import SHARED_FACES, make_jpeg
from original_recops import Evil, OriginalRecops, pickled

from recops.errors import InputError
from recops.migration import migrate, unpickle
from recops.migration.carry import KINDS
from recops.migration.run import safe_name
from recops.migration.storage import checked_path
from recops.stream import Emitter

PEOPLE = os.path.join(SHARED_FACES, "face_recognition")


def snapshot(folder) -> dict:
    """Every file below `folder` by its path, with its bytes' hash (a link by its target)."""
    found = {}
    for directory, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                found[path] = "-> " + os.readlink(path)
            else:
                with open(path, "rb") as f:
                    found[path] = hashlib.sha256(f.read()).hexdigest()
    return found


def run_migrate(original, home, **kw) -> tuple[list, list[dict]]:
    records = []
    tallies = migrate(original.database, original.root, str(home), Emitter(records.append), **kw)
    return tallies, records


def table(tallies) -> dict:
    return {
        (t.name, r["kind"]): (r["original"], r["migrated"], r["not_migrated"]) for t in tallies for r in t.records()
    }


# the doors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_arrays_and_lists_of_any_protocol_decode(protocol):
    vector = np.linspace(-1, 1, 128)
    assert np.array_equal(unpickle.vector(pickle.dumps(vector, protocol=protocol)), vector)
    assert np.array_equal(
        unpickle.vector(pickle.dumps(vector.astype(np.float32), protocol=protocol)), vector.astype(np.float32)
    )
    assert np.array_equal(unpickle.vector(pickle.dumps(vector.tolist(), protocol=protocol)), vector)
    assert unpickle.decode(pickle.dumps(np.float32(0.5), protocol=protocol)) == 0.5


def test_a_pickle_that_names_anything_else_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(InputError) as caught:
        unpickle.decode(pickled(Evil(f"touch {marker}")))
    assert caught.value.kind == "unsafe-pickle" and "system, which is not admitted" in caught.value.reason
    assert not marker.exists()
    codec = pickle.dumps(np.arange(3.0), protocol=2).replace(b"latin1", b"zlib__")
    with pytest.raises(InputError):
        unpickle.decode(codec)
    for bad in (b"not a pickle", pickle.dumps({"a": 1}), pickle.dumps(np.array(["x"])), b"\x80" + b"\x00" * (2 << 20)):
        with pytest.raises(InputError):
            unpickle.vector(bad)


class Reduced:
    """A pickle that calls `function` with `args` when loaded."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def test_a_pickle_cannot_ask_for_memory_beyond_its_own_size():
    from numpy._core.multiarray import _reconstruct

    for hostile in (
        Reduced(np.ndarray, (10**10,)),
        Reduced(bytearray, 10**12),
        Reduced(_reconstruct, np.ndarray, (10**10,), b"b"),
    ):
        with pytest.raises(InputError):
            unpickle.decode(pickle.dumps(hostile, protocol=2))
    with pytest.raises(InputError, match="more than any vector"):
        unpickle.vector(pickle.dumps([0.5] * 70_000))


@pytest.mark.parametrize(
    "path", ["", "/etc/passwd", "../outside.jpg", "image/../../x", "image//x", "./image/x", "image/x\0.jpg"]
)
def test_a_path_that_could_lead_out_of_the_storage_folder_is_refused(path):
    with pytest.raises(InputError) as caught:
        checked_path(path)
    assert caught.value.kind == "unsafe-path"


def test_dataset_names_are_made_safe():
    assert safe_name("Case: Obama & Biden") == "Case-Obama-Biden"
    assert safe_name("../../etc") == "etc"
    assert safe_name("..") == "dataset" and safe_name("") == "dataset" and safe_name(None) == "dataset"
    assert len(safe_name("x" * 300)) == 64


def test_the_original_s_locations_by_its_uris(monkeypatch, tmp_path):
    from recops.errors import UsageError
    from recops.migration.original import database_file, default_locations

    assert database_file("sqlite:////abs/recops.db") == "/abs/recops.db"
    assert database_file("sqlite:///rel/recops.db") == "rel/recops.db"
    with pytest.raises(UsageError):
        database_file("postgresql://host/db")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DATABASE_URI", raising=False)
    monkeypatch.delenv("STORAGE_URI", raising=False)
    data = str(tmp_path / ".recops" / "data")
    assert default_locations() == (f"{data}/recops.db", data)
    monkeypatch.setenv("DATABASE_URI", "sqlite:////cases/x.db")
    monkeypatch.setenv("STORAGE_URI", "file:///cases")
    assert default_locations() == ("/cases/x.db", "/cases")


def test_datasets_are_never_written_into_the_storage_folder(small_case):
    from recops.errors import UsageError

    with pytest.raises(UsageError, match="inside the storage folder"):
        run_migrate(small_case, os.path.join(small_case.root, "recops"))
    assert not os.path.exists(os.path.join(small_case.root, "recops"))


def test_a_database_of_another_schema_is_refused(tmp_path):
    import sqlite3

    from recops.errors import DatasetError

    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE dataset (id TEXT)").connection.commit()
    (tmp_path / "storage").mkdir()
    with pytest.raises(DatasetError, match="not a database of the original recops: it lacks"):
        migrate(str(tmp_path / "other.db"), str(tmp_path / "storage"), str(tmp_path / "home"), Emitter(lambda r: None))


# with the fake models: the bookkeeping -------------------------------------------------------------


@pytest.fixture
def small_case(tmp_path, fake_models):
    """One dataset of the fake model: three photos, a face on each, two identities, one bad face row."""
    original = OriginalRecops(str(tmp_path / "data"))
    ds = original.dataset("small case", detector="fake", basemodel="Fake", threshold=1.0)
    people = [original.identity(ds, name, color) for name, color in (("Ann", "#ff0000"), ("Bob", "red; x"))]
    faces = []
    for i in range(3):
        image = original.image(ds, make_jpeg(i, size=(80, 60)), consent=i == 0)
        faces.append(original.face(ds, image, (20, 15, 60, 45), pickled(np.ones(4)), consent=i == 0))
    original.link(faces[0], people[0])
    original.link(faces[1], people[1])
    original.link(faces[1], people[0])
    original.face(ds, image, (10, 10, 30, 30), b"\x80\x05garbage")
    original.close()
    return original


def test_a_rerun_doubles_nothing_and_an_interrupted_run_is_finished(small_case, tmp_path, monkeypatch):
    from recops.migration.carry import DatasetMigration

    home = tmp_path / "home"

    def interrupted(self, *args):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(DatasetMigration, "links", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_migrate(small_case, home)
    tallies, records = run_migrate(small_case, home)
    first = table(tallies)
    assert first[("small case", "images")] == (3, 3, 0)
    assert first[("small case", "faces")] == (4, 4, 0)
    assert first[("small case", "embeddings")] == (4, 4, 0)
    assert first[("small case", "identities")] == (2, 2, 0)
    assert first[("small case", "links")] == (3, 2, 1)
    errors = [r for r in records if r["type"] == "error"]
    assert {e["kind"] for e in errors} == {"bad-pickle", "several-identities"}
    assert any(r["type"] == "warning" and r["kind"] == "bad-color" for r in records)
    (root,) = [t.root for t in tallies]
    assert os.path.basename(root) == "small-case"
    from recops.migration.original import Original

    with Original.open(small_case.database) as original:
        (row,) = original.datasets()
        counted = tallies[0].original
        assert all(original.counts(row["id"])[kind] == counted[kind] for kind in KINDS), (
            "a refused dataset is counted alike"
        )
    stored = snapshot(os.path.join(root, "records"))
    again, _ = run_migrate(small_case, home)
    assert table(again) == first and [t.root for t in again] == [root]
    assert snapshot(os.path.join(root, "records")) == stored, "a re-run wrote records"
    assert sorted(os.listdir(home)) == ["small-case"]


# with the real models on real photos -----------------------------------------------------------------

GALLERY = {
    "Barack Obama": ("#ff0000", "44th president", ["obama/obama.jpg", "obama/obama1.jpg"]),
    "Joe Biden": ("#0000ff", "46th president", ["biden/biden.jpg"]),
    "Kit Harington": ("#00ff01", "", ["kit_harington/john1.jpeg"]),
    "Rose Leslie": ("#ffd400", "", ["rose_leslie/img1.jpg"]),
}
UNSEEN = {"obama/obama3.jpg": "Barack Obama", "biden/biden2.jpg": "Joe Biden"}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """An original database of three datasets, migrated by the real command, then migrated again."""
    if not os.path.isdir(os.path.join(PEOPLE, "obama")):
        pytest.skip("needs ../shared/faces/face_recognition")
    from conftest import jsonl, run
    from original_recops import OriginalDescriptors

    from recops import models
    from recops.pixels import load_rgb

    work = tmp_path_factory.mktemp("migrate")
    original = OriginalRecops(str(work / "data"))
    describe, detector = OriginalDescriptors(), models.get_detector("dlib")

    def photo(file):
        with open(os.path.join(PEOPLE, file), "rb") as f:
            data = f.read()
        rgb, _ = load_rgb(data)
        (found,) = detector.detect(rgb)
        return data, found.box, describe(rgb, found.box)

    ds = original.dataset("Case: Obama & Biden")
    expected = {"links": set(), "descriptors": [], "faces": {}, "vectors": {}}
    for name, (color, description, files) in GALLERY.items():
        person = original.identity(ds, name, color, description)
        for file in files:
            data, box, vector = photo(file)
            consent = name == "Joe Biden" or file == "obama/obama.jpg"
            image = original.image(ds, data, consent=consent)
            extended = {}
            if file == "obama/obama.jpg":
                ages = np.full(101, 0.001, np.float32)
                ages[52] = 1 - ages.sum() + 0.001
                extended = dict(
                    age=52,
                    age_predictions=pickled(ages),
                    gender="male",
                    gender_prediction=pickled(np.array([0.02, 0.98], np.float32)),
                    emotion="happy",
                    race="white",
                    race_prediction=pickled(np.array([0.1, 0.1, 0.1, 0.5, 0.1, 0.1], np.float32)),
                )
            blob = pickled(vector if file != "obama/obama1.jpg" else vector.tolist())
            if name == "Kit Harington":
                blob = pickled(Evil(f"touch {work / 'pwned'}"))
            elif name == "Rose Leslie":
                blob = pickled(vector[:64])
            else:
                expected["descriptors"].append((vector, name))
                expected["vectors"][(hashlib.md5(data).hexdigest(), tuple(int(v) for v in box))] = vector
            face = original.face(ds, image, box, blob, consent=consent and file != "obama/obama.jpg", **extended)
            original.link(face, person)
            expected["links"].add((name, hashlib.md5(data).hexdigest(), tuple(int(v) for v in box)))
            expected["faces"][face] = (data, box)
    query_data, query_box, query_vector = photo("obama/obama2.jpg")
    query = original.image(ds, query_data, marked="DETECT")
    detected = original.face(ds, query, query_box, pickled(query_vector), table="detectedface")
    obama_face = next(iter(expected["faces"]))
    original.match(detected, obama_face, 0.031, 0.07)
    # rows that cannot come over: a missing file, a path out of the storage folder, a link in it
    (work / "outside.jpg").write_bytes(make_jpeg(7))
    original.image(ds, make_jpeg(8), path="image/6f1ed002ab5595859014ebf0951522d9")
    original.image(ds, make_jpeg(9), path="../outside.jpg")
    os.symlink("../../outside.jpg", work / "data" / "image" / "linked")
    original.image(ds, make_jpeg(7), path="image/linked")

    arc = original.dataset("arcface case", detector="retinaface", basemodel="ArcFace", threshold=0.68)
    data, box, _ = photo("lin_manuel_miranda/lin-manuel-miranda.png")
    face = original.face(arc, original.image(arc, data), box, pickled(np.linspace(0, 1, 512)))
    original.link(face, original.identity(arc, "Lin-Manuel Miranda"))
    boosted = original.dataset("boosted", basemodel="Boosting")
    data, box, vector = photo("alex_lacamoire/img1.jpg")
    original.face(boosted, original.image(boosted, data), box, pickled(vector))
    original.close()

    before = snapshot(work / "data")
    env = {"RECOPS_HOME": str(work / "home")}
    command = ["recops", "migrate", "--database", f"sqlite:///{work}/data/recops.db", "--storage", str(work / "data")]
    first = run(command, env=env, cwd=work)
    stored = snapshot(work / "home")
    again = run(command, env=env, cwd=work)
    results = [(r.returncode, jsonl(r.stdout), r.stderr.decode()) for r in (first, again)]
    return work, before, stored, expected, results


def tally_of(records) -> dict:
    return {
        (r["original_dataset"], r["kind"]): (r["original"], r["migrated"], r["not_migrated"])
        for r in records
        if r["type"] == "migration"
    }


@pytest.mark.slow
def test_counts_before_and_after_per_kind(case):
    work, _, _, _, [(code, records, err), _] = case
    assert code == 1, err
    tally = tally_of(records)
    print("\n".join(f"{k}: {v}" for k, v in tally.items()))
    name = "Case: Obama & Biden"
    assert tally[(name, "images")] == (9, 6, 3)
    assert tally[(name, "faces")] == (6, 6, 0)
    assert tally[(name, "embeddings")] == (6, 6, 0)
    assert tally[(name, "identities")] == (4, 4, 0)
    assert tally[(name, "links")] == (5, 5, 0)
    assert tally[(name, "attributes")] == (1, 1, 0)
    assert tally[(name, "matches")] == (1, 1, 0)
    assert tally[("arcface case", "faces")] == (1, 1, 0) and tally[("arcface case", "links")] == (1, 1, 0)
    assert tally[("arcface case", "embeddings")] == (1, 0, 1)
    assert tally[("boosted", "images")] == (1, 0, 1) and tally[("boosted", "embeddings")] == (1, 0, 1)
    checks = {r["dataset"]: r.get("fsck_problems") for r in records if r["type"] == "migration"}
    assert sorted(checks.values(), key=str) == [0, 0, None], "each dataset written is checked, and sound"
    assert sorted(os.listdir(work / "home")) == ["Case-Obama-Biden", "arcface-case"]


@pytest.mark.slow
def test_each_thing_not_migrated_is_an_error_record_and_a_line_on_stderr(case):
    work, _, _, _, [(_, records, err), _] = case
    errors = [r for r in records if r["type"] == "error"]
    by_kind = {}
    for error in errors:
        by_kind.setdefault(error["kind"], []).append(error)
        assert err.count(error["reason"]) == 1
    assert sorted(by_kind) == [
        "bad-vector",
        "missing",
        "model-unavailable",
        "no-equivalent",
        "symlink",
        "unsafe-path",
        "unsafe-pickle",
    ]
    assert (
        by_kind["unsafe-pickle"][0]["column"] == "descriptor"
        and "posix.system" in by_kind["unsafe-pickle"][0]["reason"]
    )
    assert not (work / "pwned").exists()
    assert "64 numbers, not the 128" in by_kind["bad-vector"][0]["reason"]
    assert "../outside.jpg" in by_kind["unsafe-path"][0]["reason"]
    assert "the weight file arcface_weights" in by_kind["model-unavailable"][0]["reason"]
    assert "Boosting" in by_kind["no-equivalent"][0]["reason"] and "--model" in by_kind["no-equivalent"][0]["reason"]


@pytest.mark.slow
def test_the_original_is_left_byte_for_byte_as_it_was(case):
    work, before, _, _, _ = case
    assert snapshot(work / "data") == before


@pytest.mark.slow
def test_a_rerun_doubles_nothing(case):
    work, _, stored, _, [(_, first, _), (code, again, err)] = case
    assert code == 1
    assert tally_of(again) == tally_of(first)
    now = snapshot(work / "home")
    changed = sorted(k for k in set(now) | set(stored) if now.get(k) != stored.get(k) and "/cache/" not in k)
    assert not changed, "a re-run wrote these"


@pytest.mark.slow
def test_identities_links_consent_and_attributes_come_over(case):
    from recops.attributes import Attributes
    from recops.faces import FaceCatalog
    from recops.identities import IdentityView
    from recops.images import ImageCatalog
    from recops.store.dataset import Dataset
    from recops.store.objects import content_id

    work, _, _, expected, _ = case
    with Dataset.open(str(work / "home" / "Case-Obama-Biden")) as dataset:
        view, faces, images = IdentityView.of(dataset), FaceCatalog.of(dataset), ImageCatalog.of(dataset)
        names = {i["name"]: i for i in view.identities.values()}
        assert {n: (i["color"], i["description"]) for n, i in names.items()} == {
            n: (c, d) for n, (c, d, _) in GALLERY.items()
        }
        by_content = {content_id(data): hashlib.md5(data).hexdigest() for data, _ in expected["faces"].values()}
        links = {
            (view.identities[identity]["name"], by_content[faces.get(face)["image"]], tuple(faces.get(face)["box"]))
            for face, identity in view.face_identity.items()
        }
        assert links == expected["links"]
        consent = {by_content[i["id"]]: i["consent"] for i in images if i["id"] in by_content}
        assert sum(consent.values()) == 1, "biden's photo only: obama.jpg's face was not consented"
        (attributes,) = [Attributes.of(dataset).of_face(f) for f in Attributes.of(dataset).faces()]
        assert abs(attributes["age"] - 52) < 1 and attributes["dominant_gender"] == "Man"
        assert attributes["dominant_race"] == "white" and attributes["models"]["age"] == "Age"
        assert sum(1 for i in images if i.get("query")) == 1


@pytest.mark.slow
def test_an_unseen_photo_is_recognised_as_the_original_recognised_it(case):
    from conftest import jsonl, run
    from original_recops import OriginalDescriptors, cosine

    from recops import models
    from recops.pixels import load_rgb

    work, _, _, expected, _ = case
    describe, detector = OriginalDescriptors(), models.get_detector("dlib")
    for file, name in UNSEEN.items():
        path = os.path.join(PEOPLE, file)
        with open(path, "rb") as f:
            rgb, _ = load_rgb(f.read())
        (found,) = detector.detect(rgb)
        vector = describe(rgb, found.box)
        distance, said = min((cosine(vector, v), who) for v, who in expected["descriptors"])
        assert distance <= 0.07 and said == name, "the original's answer"
        done = run(["recops", "recognize", path, "-d", "Case-Obama-Biden"], env={"RECOPS_HOME": str(work / "home")})
        assert done.returncode == 0, done.stderr.decode()
        best = [r for r in jsonl(done.stdout) if r["type"] == "match" and r["rank"] == 1]
        assert [r["identity_name"] for r in best] == [name], "the migrated dataset's answer"


@pytest.mark.slow
def test_the_original_s_dlib_descriptors_are_near_recops_s_but_not_the_same(case):
    """Why migrate computes embeddings anew (docs/migration.md): the same face's two vectors are
    closer than any two photos of one person, yet shifted by a good part of the threshold."""
    from original_recops import cosine

    from recops.faces import FaceCatalog
    from recops.store.dataset import Dataset
    from recops.store.objects import content_id
    from recops.vectors import Embeddings, as_vector

    work, _, _, expected, _ = case
    md5 = {content_id(data): hashlib.md5(data).hexdigest() for data, _ in expected["faces"].values()}
    with Dataset.open(str(work / "home" / "Case-Obama-Biden")) as dataset:
        embeddings = Embeddings.of(dataset, "Dlib")
        shifts = [
            cosine(expected["vectors"][key], as_vector(embeddings.get(face["id"])["vector"]).astype(np.float64))
            for face in FaceCatalog.of(dataset)
            if (key := (md5.get(face["image"]), tuple(face["box"]))) in expected["vectors"]
        ]
    print("cosine distance, original DlibResNet descriptor to recops's Dlib embedding:", [round(d, 4) for d in shifts])
    assert len(shifts) == 3
    assert max(shifts) < 0.035 and np.mean(shifts) > 0.005


def test_a_rerun_with_another_model_is_refused_and_leaves_the_dataset_alone(small_case, tmp_path):
    home = tmp_path / "home"
    run_migrate(small_case, home)
    stored = snapshot(home)
    tallies, records = run_migrate(small_case, home, model="Dlib")
    (error,) = [r for r in records if r["type"] == "error" and r["kind"] == "model-differs"]
    assert "give --model Fake" in error["reason"]
    assert table(tallies)[("small case", "faces")] == (4, 0, 4)
    assert snapshot(home) == stored
