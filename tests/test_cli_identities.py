"""The identity, deletion and review functions through the installed commands, in real processes."""

import csv
import io
import json
import os
import shutil

import pytest
from conftest import jsonl, run
from gallery import add_face, hexid

from recops.datasets import create_dataset
from recops.identities import IdentityEditor
from recops.store.dataset import Dataset


@pytest.fixture
def ds(tmp_path):
    """Faces 0-4 written straight in (no model needed): 0 and 1 near each other, 2 and 3 in one photo."""
    root = tmp_path / "case.rx"
    create_dataset(str(root), threshold=0.3).close()
    with Dataset.open(str(root)) as dataset:
        for n, (image, vector) in enumerate(
            [(0, [1, 0, 0, 0]), (1, [1, 0.1, 0, 0]), (2, [1, 0.05, 0, 0]), (2, [1, 0.02, 0, 0]), (4, [0, 0, 1, 0])]
        ):
            add_face(dataset, n, image, vector)
    return str(root)


def test_identity_create_link_reject_and_delete(ds):
    created = run(["recops", "identity-create", "Ada", "-d", ds, "--color", "#123456", "--description", "first"])
    ada = jsonl(created.stdout)[0]
    assert created.returncode == 0 and (ada["name"], ada["color"], ada["description"]) == ("Ada", "#123456", "first")
    again = run(["recops", "identity-create", "Ada", "--dataset-id", ds])
    assert jsonl(again.stdout)[0]["id"] == ada["id"] and b"exists already" in again.stderr
    linked = run(["recops", "identity-link", ada["id"], hexid(0), "-d", ds])
    assert linked.returncode == 0 and jsonl(linked.stdout)[0]["op"] == "link"
    faces = "\n".join([hexid(1), hexid(9)]).encode()
    rejected = run(["rx-identity", "reject", "Ada", "-d", ds], input=faces)
    assert rejected.returncode == 1 and b"no face" in rejected.stderr
    assert [r["type"] for r in jsonl(rejected.stdout)] == ["link", "error"]
    renamed = jsonl(run(["rx-identity", "update", "Ada", "-d", ds, "--name", "Ada L."]).stdout)[0]
    assert renamed["id"] == ada["id"]
    (listed,) = jsonl(run(["recops", "dataset-list-identities", "-d", ds]).stdout)
    assert (listed["name"], listed["faces"]) == ("Ada L.", 1)
    unknown = run(["recops", "identity-link", "Nobody", hexid(0), "-d", ds])
    assert unknown.returncode == 2 and b"no identity 'Nobody'" in unknown.stderr
    assert run(["recops", "identity-delete", ada["id"], "-d", ds]).returncode == 0
    assert jsonl(run(["rx-ls", "identities", "-d", ds]).stdout) == []
    assert [f["identity"] for f in jsonl(run(["rx-ls", "faces", "-d", ds]).stdout)] == [None] * 5


def test_match_faces_to_a_csv_review_it_and_link_what_is_kept(ds, tmp_path):
    with Dataset.open(ds) as dataset:
        editor = IdentityEditor(dataset)
        ada = editor.create("Ada")["id"]
        editor.link(hexid(0), ada)
    proposals_csv = tmp_path / "proposals.csv"
    matched = run(["recops", "dataset-match-faces", "-d", ds, "-o", str(proposals_csv)])
    assert matched.returncode == 0, matched.stderr
    # faces 2 and 3 share a photo: only the nearer, 3, is proposed; face 4 is nobody near
    assert [(p["face"], p["identity_name"]) for p in jsonl(matched.stdout)] == [(hexid(3), "Ada"), (hexid(1), "Ada")]
    rows = list(csv.DictReader(io.StringIO(proposals_csv.read_text())))
    assert list(rows[0]) == ["face_id", "identity_id", "identity_name", "distance", "threshold", "matched_face_id"]
    assert rows[0]["matched_face_id"] == hexid(0) and float(rows[0]["threshold"]) == 0.3
    kept = tmp_path / "kept.csv"
    kept.write_text(f"face_id,identity_id\n{hexid(3)},{ada}\n{hexid(2)},{ada}\n{hexid(9)},{ada}\n")
    linked = run(["recops", "dataset-link-matched-faces", str(kept), "-d", ds])
    assert linked.returncode == 1
    assert [(r["type"], r.get("kind")) for r in jsonl(linked.stdout)] == [
        ("link", None),
        ("error", "same-photo"),
        ("error", "unknown-face"),
    ]
    assert linked.stderr.count(b"error") == 2
    unknown = run(["rx-review", "propose", "-d", ds, "--exclude-identities", "Nobody"])
    assert unknown.returncode == 2 and unknown.stdout == b"" and b"Nobody" in unknown.stderr
    assert jsonl(run(["rx-review", "propose", "-d", ds]).stdout)[0]["face"] == hexid(1)
    piped = run(["rx-review", "apply", "-d", ds], input=run(["rx-review", "propose", "-d", ds]).stdout)
    assert piped.returncode == 0 and [r["face"] for r in jsonl(piped.stdout)] == [hexid(1)]


def test_delete_faces_images_and_the_dataset(ds, tmp_path):
    assert jsonl(run(["recops", "face-delete", hexid(4), "-d", ds]).stdout)[0]["target"] == "face"
    assert run(["recops", "image-delete", hexid(0, "a"), "-d", ds]).returncode == 0
    missing = run(["recops", "face-delete", "0" * 32, "-d", ds])
    assert missing.returncode == 2 and b"no face" in missing.stderr
    listed = run(["rx-ls", "faces", "-d", ds]).stdout
    assert sorted(f["id"] for f in jsonl(listed)) == [hexid(1), hexid(2), hexid(3)]
    piped = run(["rx-delete"], input=b"\n".join(line for line in listed.splitlines() if hexid(1).encode() in line))
    assert piped.returncode == 0 and [r["type"] for r in jsonl(piped.stdout)] == ["face", "deletion"]
    assert len(jsonl(run(["rx-ls", "faces", "-d", ds]).stdout)) == 2
    refused = run(["recops", "dataset-delete", ds])
    assert refused.returncode == 2 and b"--yes" in refused.stderr and os.path.isdir(ds)
    assert run(["recops", "dataset-delete", str(tmp_path), "--yes"]).returncode == 3
    deleted = run(["recops", "dataset-delete", ds, "--yes"])
    assert deleted.returncode == 0 and json.loads(deleted.stdout)["deleted"] is True and not os.path.exists(ds)


def test_rx_ls_finds_where_an_identity_appears(ds):
    with Dataset.open(ds) as dataset:
        editor = IdentityEditor(dataset)
        ada = editor.create("Ada")
        editor.link(hexid(0), ada["id"])
        editor.link(hexid(4), ada["id"])
    faces = jsonl(run(["rx-ls", "faces", "-d", ds, "--identity", "Ada"]).stdout)
    assert sorted(f["id"] for f in faces) == [hexid(0), hexid(4)] and {f["identity_name"] for f in faces} == {"Ada"}
    photos = jsonl(run(["rx-ls", "images", "-d", ds, "-i", ada["id"]]).stdout)
    assert sorted(p["id"] for p in photos) == [hexid(0, "a"), hexid(4, "a")]
    nobody = jsonl(run(["rx-ls", "faces", "-d", ds, "--identity", "none"]).stdout)
    assert sorted(f["id"] for f in nobody) == [hexid(1), hexid(2), hexid(3)]
    unknown = run(["rx-ls", "faces", "-d", ds, "--identity", "Bob"])
    assert unknown.returncode == 2 and b"no identity 'Bob'" in unknown.stderr
    assert run(["rx-ls", "identities", "-d", ds, "--identity", "Ada"]).returncode == 2


def test_a_filter_that_kept_nothing_leaves_nothing_to_do(ds):
    """`rx-ls faces | jq 'select(...)' | rx-delete` when nothing matched: no dataset named, none needed."""
    for tool in (["rx-delete"], ["rx-identity", "link", "Ada"]):
        nothing = run(tool, input=b"")
        assert nothing.returncode == 0 and nothing.stdout == b"", tool
    assert run(["rx-identity", "create", "Ada"]).returncode == 2  # no input to read: the dataset is needed


FACE_IDS = ["abcd1" + "0" * 27, "abcd2" + "0" * 27, "5e1f" + "1" * 28, "5e2f" + "2" * 28]
IMAGE_IDS = ["9a" + "3" * 30, "9b" + "4" * 30, "9c" + "5" * 30, "9d" + "6" * 30]


@pytest.fixture
def home(tmp_path):
    """$RECOPS_HOME with one dataset, case: faces whose ids start abcd1, abcd2, 5e1f, 5e2f."""
    import numpy as np

    from recops.logs import EMBEDDINGS, FACES, IMAGES
    from recops.records import image_record, timestamp

    root = tmp_path / "home" / "case"
    create_dataset(str(root), threshold=0.3).close()
    with Dataset.open(str(root)) as dataset:
        for n, (face, image) in enumerate(zip(FACE_IDS, IMAGE_IDS)):
            dataset.log(IMAGES).append(image_record(image, 1, "image/jpeg", 10, 10, [f"/p/{n}.jpg"], False))
            dataset.log(FACES).append(
                {"type": "face", "id": face, "image": image, "box": [0, 0, 5, 5], "ts": timestamp()}
            )
            dataset.log(EMBEDDINGS).append(
                {
                    "type": "embedding",
                    "face": face,
                    "image": image,
                    "model": "Dlib",
                    "vector": np.asarray([1, n / 100, 0, 0], np.float32),
                    "ts": timestamp(),
                }
            )
    return {"RECOPS_HOME": str(tmp_path / "home")}, str(root)


def test_ids_are_taken_as_git_takes_them_a_unique_start_will_do(home, tmp_path):
    env, root = home
    (listed,) = jsonl(run(["recops", "dataset-list"], env=env).stdout)
    for dataset in (listed["id"], listed["id"][:12], listed["id"][:4].upper()):
        shown = run(["recops", "dataset-list-faces", "-d", dataset], env=env)
        assert shown.returncode == 0 and len(jsonl(shown.stdout)) == 4, shown.stderr
    ada = jsonl(run(["recops", "identity-create", "Ada", "-d", listed["id"][:12]], env=env).stdout)[0]
    linked = run(["recops", "identity-link", ada["id"][:12], FACE_IDS[2][:12], "-d", root])
    assert linked.returncode == 0, linked.stderr
    assert jsonl(linked.stdout)[0]["face"] == FACE_IDS[2]
    assert run(["rx-identity", "link", ada["id"][:8], "5e2f", "-d", root]).returncode == 0
    faces = jsonl(run(["rx-ls", "faces", "-d", root, "--identity", ada["id"][:12]]).stdout)
    assert sorted(f["id"] for f in faces) == FACE_IDS[2:]
    assert run(["rx-identity", "unlink", ada["id"][:12], FACE_IDS[2][:12], "-d", root]).returncode == 0
    assert run(["rx-identity", "update", ada["id"][:12], "-d", root, "--name", "Ada L."]).returncode == 0
    bob = jsonl(run(["rx-identity", "create", "Bob", "-d", root]).stdout)[0]
    merged = run(["rx-identity", "merge", bob["id"][:12], ada["id"][:12], "-d", root])
    assert merged.returncode == 0 and jsonl(merged.stdout)[-1] == {
        **jsonl(merged.stdout)[-1],
        "id": bob["id"],
        "deleted": True,
    }
    ambiguous = run(["rx-delete", "-d", root, "abcd"])
    assert ambiguous.returncode == 1 and jsonl(ambiguous.stdout)[0]["kind"] == "ambiguous-id"
    assert FACE_IDS[0].encode() in ambiguous.stderr and FACE_IDS[1].encode() in ambiguous.stderr
    too_short = run(["recops", "face-delete", "abc", "-d", root])
    assert too_short.returncode == 2 and b"no face abc" in too_short.stderr
    assert run(["recops", "face-delete", "abcd1", "-d", root]).returncode == 0
    assert run(["rx-delete", "-d", root, IMAGE_IDS[1][:12]]).returncode == 0
    assert run(["recops", "image-delete", IMAGE_IDS[2][:12], "-d", root]).returncode == 0
    assert [f["id"] for f in jsonl(run(["rx-ls", "faces", "-d", root]).stdout)] == [FACE_IDS[3]]
    kept = tmp_path / "kept.csv"
    kept.write_text(f"face_id,identity_id\n{FACE_IDS[3][:12]},{ada['id'][:12]}\n")
    applied = run(["recops", "dataset-link-matched-faces", str(kept), "-d", root])
    assert applied.returncode == 0 and jsonl(applied.stdout)[0]["face"] == FACE_IDS[3], applied.stderr
    unknown = run(["recops", "dataset-list-faces", "-d", "ffffffff"], env=env)
    assert unknown.returncode != 0 and b"ffffffff" in unknown.stderr
    shutil.copytree(root, os.path.join(os.path.dirname(root), "copy"))  # copies of one dataset share its id
    both = run(["recops", "dataset-list-faces", "-d", listed["id"][:12]], env=env)
    assert both.returncode == 2 and b"ambiguous" in both.stderr and b"copy" in both.stderr


def test_a_name_wins_over_a_start_of_an_id(home):
    from recops.logs import IDENTITIES

    _, root = home
    with Dataset.open(root) as dataset:
        editor = IdentityEditor(dataset)
        cafe = editor.create("cafe")
        dataset.log(IDENTITIES).append({"type": "identity", "id": "cafe" + "7" * 28, "name": "Other", "ts": "2026"})
    linked = run(["rx-identity", "link", "cafe", FACE_IDS[2], "-d", root])
    assert jsonl(linked.stdout)[0]["identity"] == cafe["id"]
    by_start = run(["rx-identity", "link", "cafe7", FACE_IDS[3], "-d", root])
    assert jsonl(by_start.stdout)[0]["identity"] == "cafe" + "7" * 28
