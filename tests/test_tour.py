"""Every function of the original recops, in the order of its documentation, on real photos with
the real models: a dataset by name, its listings, the identity functions, the three imports, match
review, clustering, extended fields, recognize, verify and the web interface, then export, the
deletions, backup and restore. The imports come first, since every other function needs faces."""

import csv
import os
import socket
import subprocess
import time
import urllib.request
import zipfile

import pytest
from conftest import SHARED_FACES, jsonl, tool

pytestmark = pytest.mark.slow
PEOPLE = os.path.join(SHARED_FACES, "face_recognition")
GROUP = os.path.join(SHARED_FACES, "group", "t1.jpg")
UNSEEN_BIDEN = os.path.join(SHARED_FACES, "lfw", "Joseph_Biden", "Joseph_Biden_0001.jpg")
LAYOUT = {  # where each photo goes in the case folder: people to enrol, faces of one person, a crowd
    "people/obama/obama.jpg": "obama/obama.jpg",
    "people/obama/obama1.jpg": "obama/obama1.jpg",
    "people/biden/biden.jpg": "biden/biden.jpg",
    "faces/john1.jpeg": "kit_harington/john1.jpeg",
    "faces/t1.jpg": GROUP,
    "crowd/obama2.jpg": "obama/obama2.jpg",
    "crowd/biden2.jpg": "biden/biden2.jpg",
    "crowd/john2.jpeg": "kit_harington/john2.jpeg",
    "crowd/img1.jpg": "alex_lacamoire/img1.jpg",
}


@pytest.fixture
def case(tmp_path, monkeypatch):
    if not all(os.path.exists(p) for p in (PEOPLE, GROUP, UNSEEN_BIDEN)):
        pytest.skip("needs ../shared/faces (face_recognition, group, lfw)")
    for link, target in LAYOUT.items():
        (tmp_path / link).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / link).symlink_to(os.path.join(PEOPLE, target))
    monkeypatch.setenv("RECOPS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RX_DATASET", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def recops(*args: str, expect: int = 0) -> list[dict]:
    result = subprocess.run([tool("recops"), *args], capture_output=True, timeout=300)
    assert result.returncode == expect, f"recops {' '.join(args)}: {result.stderr.decode()}"
    return jsonl(result.stdout)


def photo_of(records: list[dict]) -> dict[str, str]:
    """Face id -> the file name of its photo, from the image and face records of an import."""
    names = {r["id"]: os.path.basename(r["paths"][-1]) for r in records if r["type"] == "image"}
    return {r["id"]: names[r["image"]] for r in records if r["type"] == "face"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_every_function_of_the_original_in_the_order_of_its_documentation(case):
    (created,) = recops(
        "dataset-create", "case", "--detector", "dlib", "--basemodel", "Dlib", "--distance-metric", "cosine"
    )
    assert created["new"] and created["path"] == str(case / "home" / "case")
    assert recops("dataset-create", "case", "--description", "tour")[0]["description"] == "tour"
    recops("dataset-create", "case", "--detector", "opencv", expect=3)
    assert [(d["path"], d["images"]) for d in recops("dataset-list")] == [(created["path"], 0)]
    assert recops("dataset-list-faces", "-d", "case") == recops("dataset-list-images", "-d", "case") == []

    enrolled = recops("dataset-import-identities", "-d", "case", "people", "--output-objects", "people.csv")
    faces = photo_of(enrolled)
    assert sorted(faces.values()) == ["biden.jpg", "obama.jpg", "obama1.jpg"]
    with open("people.csv", newline="") as handle:
        assert {row[0] for row in csv.reader(handle)} >= {"Image", "Face"}
    (kit,) = recops("identity-create", "-d", "case", "kit_harington")
    one_each = recops(
        "dataset-import-faces", "-d", "case", "--identity-id", kit["id"], "--output-errors", "errors", "faces", expect=1
    )
    faces |= photo_of(one_each)
    assert os.listdir("errors") == ["t1.jpg"], "the group photo holds six faces, not one"
    assert [e["kind"] for e in one_each if e["type"] == "error"] == ["not-one-face"]
    crowd = recops("--log-level", "INFO", "--log-file", "crowd.log", "dataset-import-images", "-d", "case", "crowd")
    faces |= photo_of(crowd)
    assert "0 failure(s)" in open("crowd.log").read()

    listed = recops("dataset-list-images", "-d", "case")
    assert len(listed) == 9
    identities = {i["name"]: i for i in recops("dataset-list-identities", "-d", "case")}
    assert {n: i["faces"] for n, i in identities.items()} == {"obama": 2, "biden": 1, "kit_harington": 1}
    stored = {f["id"] for f in recops("dataset-list-faces", "-d", "case")}
    assert len(stored) == 3 + 1 + 6 + 4

    proposals = recops("dataset-match-faces", "-d", "case", "-o", "proposals.csv")
    assert {faces[p["face"]]: p["identity_name"] for p in proposals} == {
        "obama2.jpg": "obama",
        "biden2.jpg": "biden",
        "john2.jpeg": "kit_harington",
    }
    assert (
        recops("dataset-match-faces", "-d", "case", "--exclude-identities", "obama,biden")[0]["identity_name"]
        == "kit_harington"
    )
    linked = recops("dataset-link-matched-faces", "-d", "case", "proposals.csv")
    assert sorted(faces[r["face"]] for r in linked if r["type"] == "link") == ["biden2.jpg", "john2.jpeg", "obama2.jpg"]
    assert recops("dataset-match-faces", "-d", "case") == []

    alex = next(f for f, name in faces.items() if name == "img1.jpg")
    (scratch,) = recops("identity-create", "-d", "case", "alex", "--color", "#123456")
    recops("identity-link", "-d", "case", scratch["id"], alex)
    assert {i["name"]: i["faces"] for i in recops("dataset-list-identities", "-d", "case")}["alex"] == 1
    recops("identity-delete", "-d", "case", scratch["id"])
    assert "alex" not in {i["name"] for i in recops("dataset-list-identities", "-d", "case")}

    clusters = [
        r
        for r in recops("dataset-cluster-faces", "-d", "case", "-o", "clusters", "--skip-single-faces")
        if r["type"] == "cluster"
    ]
    obama = {f for f, name in faces.items() if name.startswith("obama")}
    assert any(obama <= set(c["faces"]) for c in clusters)
    assert sum(len(os.listdir(os.path.join("clusters", d))) for d in os.listdir("clusters")) == sum(
        len(c["faces"]) for c in clusters
    )

    attributes = [
        r
        for r in recops("dataset-compute-extended-fields", "-d", "case", "--no-emotion", "--no-race")
        if r["type"] == "attribute"
    ]
    assert {a["face"] for a in attributes} == stored and all("warning" in a for a in attributes)

    seen = recops("recognize", "-d", "case", UNSEEN_BIDEN, "--identified-faces", "--include-extended-fields")
    assert {m["identity_name"] for m in seen if m["type"] == "match"} == {"biden"}
    excluded = recops("recognize", "-d", "case", UNSEEN_BIDEN, "--exclude-identities", "biden", "-o", "biden.html")
    assert excluded[0]["type"] == "report" and "No match within the threshold" in open("biden.html").read()
    (same,) = recops("verify", "-d", "case", "people/obama/obama.jpg", "crowd/obama2.jpg")
    (other,) = recops("verify", "people/obama/obama.jpg", "people/biden/biden.jpg", "--threshold", "0.07")
    assert same["verified"] is True and other["verified"] is False

    port = free_port()
    server = subprocess.Popen([tool("recops"), "webui", "-d", "case", "-p", str(port)], stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                overview = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).geturl()
                break
            except OSError:
                time.sleep(0.1)
        page = urllib.request.urlopen(overview + "identities", timeout=5).read().decode()
        assert "kit_harington" in page and "obama" in page
    finally:
        server.terminate()
        server.wait(10)

    (exported,) = recops("dataset-export", "-d", "case", "-o", "export.zip")
    names = zipfile.ZipFile("export.zip").namelist()
    assert (
        sum(n.startswith("identities/obama/") for n in names) == 3 and sum(n.startswith("images/") for n in names) == 10
    )
    group = next(i["id"] for i in listed if any(p.endswith("t1.jpg") for p in i["paths"]))
    recops("face-delete", "-d", "case", alex)
    recops("image-delete", "-d", "case", group)
    assert len(recops("dataset-list-faces", "-d", "case")) == 14 + 1 - 1 - 6  # the recognition's face stays

    recops("backup", "-d", "case", "-o", "backup.zip")
    restored = recops("restore", "backup.zip", "restored.rx")
    assert restored[-1]["type"] == "fsck" and restored[-1]["problems"] == 0
    again = [recops("recognize", "-d", d, UNSEEN_BIDEN, "--identified-faces") for d in ("case", "./restored.rx")]
    assert [[(m["candidate"], m["distance"]) for m in r if m["type"] == "match"] for r in again] == [
        [(m["candidate"], m["distance"]) for m in seen if m["type"] == "match"]
    ] * 2
    recops("dataset-delete", "case", "--yes")
    assert recops("dataset-list") == []
