"""Backup and restore, export, and garbage collection."""

import os
import stat
import zipfile

import pytest
from conftest import jsonl, run

from recops.backup import backup, restore
from recops.datasets import create_dataset
from recops.export import export, safe_name
from recops.fsck import fsck
from recops.identities import IdentityEditor
from recops.stages.detection import DetectOptions, FaceDetection
from recops.stages.importing import Importer
from recops.store.dataset import Dataset
from recops.stream import Emitter


@pytest.fixture
def filled(tmp_path, photos, fake_models):
    """A dataset with 5 images, their faces (fake detector), an identity with one face."""
    root = str(tmp_path / "case.rx")
    create_dataset(root, detector="fake", model="Fake").close()
    with Dataset.open(root) as ds:
        imported = []
        with Importer(ds, Emitter(imported.append)) as importer:
            importer.add_arguments([str(photos)])
        found = []
        FaceDetection(Emitter(found.append), DetectOptions("fake"), ds).run(imported)
        faces = [r for r in found if r["type"] == "face"]
        editor = IdentityEditor(ds)
        ada = editor.create("Ada/../<b>", "", "#00ff01")
        editor.link(faces[0]["id"], ada["id"])
    return root, imported, faces


def test_backup_restores_to_the_same_dataset(filled, tmp_path):
    root, imported, faces = filled
    with Dataset.open(root) as ds:
        record = backup(ds, str(tmp_path / "b.zip"))
    assert record["files"] > 5
    names = zipfile.ZipFile(tmp_path / "b.zip").namelist()
    assert "recops.json" in names and "lock" not in names and not any(n.startswith("/") for n in names)
    restored = restore(str(tmp_path / "b.zip"), str(tmp_path / "back.rx"))
    assert restored["dataset"] == str(tmp_path / "back.rx")
    with Dataset.open(str(tmp_path / "back.rx")) as ds:
        assert fsck(ds, Emitter(lambda r: None)).problems == 0
        assert stat.S_IMODE(os.stat(ds.root).st_mode) == 0o700
        assert sorted(ds.objects.ids()) == sorted(r["id"] for r in imported)
    before = jsonl(run(["rx-ls", "identities", "-d", root]).stdout)
    after = jsonl(run(["rx-ls", "identities", "-d", str(tmp_path / "back.rx")]).stdout)
    assert before == after and after[0]["faces"] == 1


def test_export_writes_images_identities_and_faces(filled, tmp_path):
    root, imported, faces = filled
    with Dataset.open(root) as ds:
        record = export(ds, str(tmp_path / "e.zip"))
    names = zipfile.ZipFile(tmp_path / "e.zip").namelist()
    assert record["images"] == 5 and record["identity_faces"] == 1 and record["faces"] == len(faces) - 1
    assert f"identities/{safe_name('Ada/../<b>', 'x')}/{faces[0]['id']}.jpg" in names
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)
    assert sum(n.startswith("images/") for n in names) == 5


def test_gc_reclaims_deleted_images_and_merges_record_files(filled, photos):
    root, imported, faces = filled
    victim = imported[0]["id"]
    assert run(["recops", "image-delete", victim, "-d", root]).returncode == 0
    open(os.path.join(root, "objects", ".tmp-leftover"), "wb").close()
    with Dataset.open(root) as ds:
        segments_before = sum(len(l.segments()) for l in ds.logs())
    result = run(["rx-gc", "-d", root])
    (report,) = jsonl(result.stdout)
    assert result.returncode == 0 and report["objects_removed"] == 1 and report["temp_files"] == 1
    assert report["segments_before"] == segments_before and report["segments_after"] <= len(
        os.listdir(os.path.join(root, "records"))
    )
    assert report["records_dropped"] >= 1
    with Dataset.open(root) as ds:
        assert victim not in set(ds.objects.ids())
        assert fsck(ds, Emitter(lambda r: None)).problems == 0
        assert any(r["type"] == "deletion" and r["id"] == victim for r in ds.log("deletions").records())
    again = jsonl(run(["rx-gc", "-d", root]).stdout)[0]
    assert again["objects_removed"] == 0 and again["records_dropped"] == 0
    listed = jsonl(run(["rx-ls", "images", "-d", root]).stdout)
    assert victim not in {i["id"] for i in listed} and len(listed) == 4


def test_gc_waits_for_nobody_unless_asked(filled):
    root, _, _ = filled
    holder = Dataset.open(root)
    try:
        busy = run(["rx-gc", "-d", root])
        assert busy.returncode == 6 and b"in use" in busy.stderr
    finally:
        holder.close()


def test_gc_refuses_a_damaged_dataset(filled):
    root, _, _ = filled
    segment = next(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, "records", "images")) for f in fs)
    os.chmod(segment, 0o600)
    with open(segment, "ab") as handle:
        handle.write(b"\x00")
    result = run(["rx-gc", "-d", root])
    assert result.returncode == 5 and b"damaged" in result.stderr
    with Dataset.open(root) as ds:
        assert len(list(ds.objects.ids())) == 5


def test_porcelain_backup_restore_and_export(filled, tmp_path):
    root, _, _ = filled
    made = run(["recops", "backup", "-d", root, "-o", str(tmp_path / "p.zip")])
    assert made.returncode == 0 and jsonl(made.stdout)[0]["type"] == "backup"
    back = run(["recops", "restore", str(tmp_path / "p.zip"), str(tmp_path / "p.rx")])
    assert back.returncode == 0 and [r["type"] for r in jsonl(back.stdout)] == ["restore", "fsck"]
    exported = run(["recops", "dataset-export", "-d", root, "-o", str(tmp_path / "x.zip")])
    assert exported.returncode == 0 and zipfile.is_zipfile(tmp_path / "x.zip")


def test_a_zip_that_cannot_be_written_is_a_usage_error_that_leaves_nothing(filled, tmp_path):
    root, _, _ = filled
    for function in ("backup", "dataset-export"):
        refused = run(["recops", function, "-d", root, "-o", str(tmp_path / "missing" / "out.zip")])
        assert refused.returncode == 2 and b"cannot write there" in refused.stderr and refused.stdout == b""
    made = run(["recops", "backup", "-d", root, "-o", str(tmp_path / "ok.zip")])
    assert made.returncode == 0 and os.stat(tmp_path / "ok.zip").st_mode & 0o077 == 0, "faces stay private"
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]
