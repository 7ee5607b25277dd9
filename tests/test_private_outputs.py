"""Files the tools write for the user hold faces, names and ids: 0600 files in 0700 folders,
whatever the umask (022 here, which would make them world-readable)."""

import os
import stat

import pytest
from conftest import jsonl, make_jpeg, run
from gallery import add_face, hexid
from test_cluster_cli import case  # noqa: F401 (a fixture)
from typer.testing import CliRunner

from recops.cli import porcelain
from recops.datasets import create_dataset
from recops.identities import IdentityEditor
from recops.stages.folder_imports import ImportOptions, import_faces, objects_file
from recops.store.dataset import Dataset
from recops.stream import Emitter

UMASK = {"preexec_fn": lambda: os.umask(0o022)}


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def proposals(tmp_path):
    root = str(tmp_path / "case.rx")
    create_dataset(root, threshold=0.3).close()
    with Dataset.open(root) as dataset:
        for n, vector in enumerate([[1, 0, 0, 0], [1, 0.1, 0, 0]]):
            add_face(dataset, n, n, vector)
        editor = IdentityEditor(dataset)
        editor.link(hexid(0), editor.create("Ada")["id"])
    return root


def test_proposal_csvs_are_private(proposals, tmp_path):
    csv = tmp_path / "review" / "proposals.csv"
    csv.parent.mkdir()
    done = run(["rx-review", "propose", "-d", proposals, "--csv", str(csv)], **UMASK)
    assert done.returncode == 0, done.stderr
    assert mode(csv) == 0o600 and "Ada" in csv.read_text()
    done = run(["recops", "dataset-match-faces", "-d", proposals, "-o", str(tmp_path / "p.csv")], **UMASK)
    assert done.returncode == 0 and mode(tmp_path / "p.csv") == 0o600
    refused = run(["rx-review", "propose", "-d", proposals, "--csv", str(tmp_path / "none" / "p.csv")], **UMASK)
    assert refused.returncode == 2 and b"--csv" in refused.stderr


def test_cluster_crops_are_private(case, tmp_path):  # noqa: F811
    root, _, _ = case
    target = tmp_path / "new" / "crops"
    done = run(["rx-cluster", "-d", root, "-o", str(target)], **UMASK)
    assert done.returncode == 0, done.stderr
    folders = [target.parent, target] + [target / name for name in os.listdir(target)]
    files = [folder / name for folder in folders[2:] for name in os.listdir(folder)]
    assert files and {mode(f) for f in folders} == {0o700} and {mode(f) for f in files} == {0o600}


def test_recognitions_objects_and_refused_copies_are_private(tmp_path, fake_models, umask_022):
    root = str(tmp_path / "case.rx")
    create_dataset(root, detector="fake", model="Fake", threshold=1.0).close()
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "one.jpg").write_bytes(make_jpeg(1))
    (photos / "two.jpg").write_bytes(make_jpeg(2, size=(60, 60)))
    from PIL import Image

    Image.new("RGB", (40, 30), (9, 9, 9)).save(photos / "blank.png")
    objects, errors = tmp_path / "objects.csv", tmp_path / "errors" / "nested"
    with Dataset.open(root) as dataset, objects_file(str(objects)) as write:
        from recops.records import timestamp
        from recops.stages.folder_imports import CreatedObjects

        import_faces(
            dataset,
            str(photos),
            Emitter(lambda r: None),
            ImportOptions(errors_to=str(errors)),
            objects=CreatedObjects(timestamp(), write),
        )
    assert mode(objects) == 0o600 and objects.read_text().count("Image") == 3
    assert os.listdir(errors) == ["blank.png"] and {mode(errors.parent), mode(errors)} == {0o700}
    assert mode(errors / "blank.png") == 0o600
    output = tmp_path / "seen.jsonl"
    done = CliRunner().invoke(porcelain.app, ["recognize", str(photos / "one.jpg"), "-d", root, "-o", str(output)])
    assert done.exit_code == 0, done.output
    assert mode(output) == 0o600 and [r["type"] for r in jsonl(output.read_bytes())][:2] == ["image", "face"]
