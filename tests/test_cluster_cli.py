"""rx-cluster, and the porcelain's dataset-cluster-faces and cluster-to-identity, in real processes.

The photos are imported for real (their crops are exported); their faces and embeddings are
written straight in, so no model runs.
"""

import os

import numpy as np
import pytest
from conftest import jsonl, make_jpeg, run
from test_cluster import person

from recops.logs import EMBEDDINGS, FACES
from recops.records import timestamp
from recops.store.dataset import Dataset


@pytest.fixture
def case(tmp_path):
    """Photos 0-2 show Ada, 3-4 Bob, 5 both of them; photo 6 a stranger."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(7):
        (folder / f"p{n}.jpg").write_bytes(make_jpeg(n, size=(120, 80)))
    root = str(tmp_path / "case.rx")
    assert run(["rx-init", root]).returncode == 0
    imported = {
        os.path.basename(r["paths"][0]): r["id"] for r in jsonl(run(["rx-import", "-d", root, str(folder)]).stdout)
    }
    ada, bob, stranger = person(1, 4, dim=8), person(2, 3, dim=8), person(3, 1, dim=8)
    faces = [
        ("p0.jpg", ada[0]),
        ("p1.jpg", ada[1]),
        ("p2.jpg", ada[2]),
        ("p3.jpg", bob[0]),
        ("p4.jpg", bob[1]),
        ("p5.jpg", ada[3]),
        ("p5.jpg", bob[2]),
        ("p6.jpg", stranger[0]),
    ]
    ids = []
    with Dataset.open(root) as ds:
        for n, (photo, vector) in enumerate(faces):
            face, image = f"{n:032x}", imported[photo]
            ds.log(FACES).append(
                {
                    "type": "face",
                    "id": face,
                    "image": image,
                    "box": [10 + 40 * (n % 2), 10, 50 + 40 * (n % 2), 60],
                    "ts": timestamp(),
                }
            )
            ds.log(EMBEDDINGS).append(
                {
                    "type": "embedding",
                    "face": face,
                    "image": image,
                    "model": "Dlib",
                    "vector": np.asarray(vector, np.float32),
                    "ts": timestamp(),
                }
            )
            ids.append(face)
    return root, ids, tmp_path


def test_rx_cluster_writes_records_and_folders_of_crops(case):
    root, ids, tmp = case
    done = run(["rx-cluster", "-d", root, "--skip-single-faces", "-o", str(tmp / "out")])
    assert done.returncode == 0, done.stderr
    records = jsonl(done.stdout)
    clusters, summary = records[:-1], records[-1]
    assert [c["type"] for c in clusters] == ["cluster", "cluster"] and summary["type"] == "clustering"
    assert [set(c["faces"]) for c in clusters] == [set(ids[0:3]) | {ids[5]}, set(ids[3:5]) | {ids[6]}]
    assert [c["label"] for c in clusters] == [0, 1] and summary["clusters"] == 3  # the stranger, left out
    assert sorted(os.listdir(tmp / "out")) == ["cluster-0", "cluster-1"]
    assert sorted(os.listdir(tmp / "out" / "cluster-1")) == sorted(f"{f}.jpg" for f in clusters[1]["faces"])
    assert (tmp / "out" / "cluster-0" / f"{ids[0]}.jpg").read_bytes()[:2] == b"\xff\xd8"
    again = run(["rx-cluster", "-d", root, "-o", str(tmp / "out")])
    assert again.returncode == 2 and b"not an empty folder" in again.stderr and again.stdout == b""


def test_records_on_stdin_pass_on_and_paths_are_errors(case):
    root, ids, tmp = case
    listed = run(["rx-ls", "images", "-d", root]).stdout
    done = run(["rx-cluster"], input=listed)  # the dataset comes with the records
    assert done.returncode == 0, done.stderr
    types = [r["type"] for r in jsonl(done.stdout)]
    assert types == ["image"] * 7 + ["cluster"] * 3 + ["clustering"]
    assert jsonl(done.stdout)[-1]["full"]
    wrong = run(["rx-cluster", "-d", root], input=b"/some/photo.jpg\n")
    assert wrong.returncode == 1 and b"reads records" in wrong.stderr
    assert jsonl(wrong.stdout)[0]["kind"] == "not-a-record"


def test_a_cluster_becomes_an_identity(case):
    root, ids, tmp = case
    clusters = jsonl(run(["rx-cluster", "-d", root]).stdout)[:-1]
    named = run(["rx-cluster", "name", "0", "Ada", "-d", root])
    assert named.returncode == 0, named.stderr
    records = jsonl(named.stdout)
    assert [r["type"] for r in records] == ["identity"] + ["link"] * 4 + ["cluster"]
    assert records[-1]["id"] == clusters[0]["id"] and records[-1]["identity_name"] == "Ada"
    (ada,) = jsonl(run(["rx-ls", "identities", "-d", root]).stdout)
    assert (ada["name"], ada["faces"]) == ("Ada", 4)
    porcelain = run(["recops", "cluster-to-identity", clusters[1]["id"][:12], "Bob", "-d", root])
    assert porcelain.returncode == 0 and [r["type"] for r in jsonl(porcelain.stdout)][-1] == "cluster", porcelain.stderr
    assert jsonl(porcelain.stdout)[-1]["id"] == clusters[1]["id"], "a unique start of a cluster's id names it"
    stranger = jsonl(run(["rx-cluster", "name", clusters[2]["id"][:12], ada["id"][:12], "-d", root]).stdout)
    assert [r["type"] for r in stranger] == ["link", "cluster"] and stranger[0]["identity"] == ada["id"], (
        "a unique start of an identity's id names it: no identity is created under that name"
    )
    again = jsonl(run(["rx-cluster", "-d", root]).stdout)
    assert not again[-1]["full"] and {c["identity_name"] for c in again[:-1]} == {"Ada", "Bob"}


def test_recops_dataset_cluster_faces(case):
    root, ids, tmp = case
    done = run(["recops", "dataset-cluster-faces", "-d", root, "-o", str(tmp / "clustered"), "--threshold", "0.055"])
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(tmp / "clustered")) == ["cluster-0", "cluster-1", "cluster-2"]
    assert sum(len(os.listdir(tmp / "clustered" / d)) for d in os.listdir(tmp / "clustered")) == len(ids)
