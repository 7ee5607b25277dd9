"""Proposals of identities for unidentified faces, and applying a reviewed CSV of them."""

import io

import pytest
from gallery import add_face, hexid

from recops.datasets import create_dataset
from recops.deletions import Deleter
from recops.identities import IdentityEditor, IdentityView
from recops.review import ReviewOptions, link_matched_faces, match_faces, proposal_rows, read_csv, write_csv
from recops.store.dataset import Dataset
from recops.stream import Emitter


@pytest.fixture
def ds(tmp_path):
    """Ada (face 0, photo 0) and Bob (face 1); unidentified faces 2 to 8, some in one photo."""
    create_dataset(str(tmp_path / "case.rx"), threshold=0.4).close()
    with Dataset.open(str(tmp_path / "case.rx")) as dataset:
        faces = {
            0: (0, [1, 0, 0, 0]),
            1: (1, [0, 1, 0, 0]),
            2: (2, [1, 0.1, 0, 0]),
            3: (3, [1, 0.8, 0, 0]),
            4: (3, [1, 0.1, 0, 0]),  # photo 3: both nearest Ada; 3 near Bob too
            5: (5, [1, 0.05, 0, 0]),
            6: (6, [1, 0, 0, 0]),
            7: (7, [1, 0, 0, 0]),
            8: (0, [1, 0.1, 0, 0]),
        }
        for n, (image, vector) in faces.items():
            add_face(dataset, n, image, vector, query=(n == 6))
        editor = IdentityEditor(dataset)
        ada, bob = editor.create("Ada")["id"], editor.create("Bob")["id"]
        editor.link(hexid(0), ada)
        editor.link(hexid(1), bob)
        editor.link(hexid(5), ada, "reject")
        Deleter(dataset).delete(hexid(7))
        dataset.flush()
        yield dataset


def proposed(ds, **options):
    return [(p["face"], p["identity_name"]) for p in match_faces(ds, ReviewOptions(**options))]


def test_each_unidentified_face_gets_its_nearest_identity_one_per_photo(ds):
    # face 4 takes Ada in photo 3, so face 3 gets its next best, Bob; face 5 was rejected from
    # Ada, face 6 is on a query photo, face 7 deleted, face 8 shares photo 0 with Ada herself.
    assert proposed(ds) == [(hexid(2), "Ada"), (hexid(4), "Ada"), (hexid(3), "Bob")]
    (first,) = [p for p in match_faces(ds) if p["face"] == hexid(2)]
    assert first["candidate"] == hexid(0) and first["distance"] < first["threshold"] == 0.4
    assert proposed(ds, exclude_identities=("Ada",)) == [(hexid(3), "Bob")]
    assert proposed(ds, threshold=0.01) == [(hexid(2), "Ada"), (hexid(4), "Ada")]


def test_a_reviewed_csv_applies_what_it_can_and_reports_the_rest(ds):
    view = IdentityView.of(ds)
    ada, bob = view.find("Ada")["id"], view.find("Bob")["id"]
    handle = io.StringIO()
    assert write_csv(match_faces(ds), handle) == 3
    lines = handle.getvalue().splitlines()
    assert lines[0] == "face_id,identity_id,identity_name,distance,threshold,matched_face_id"
    reviewed = (
        "\n".join(
            lines[:3]
            + [
                f"{hexid(3)},{ada},Ada",
                f",{ada}",
                f"{'9' * 32},{ada}",
                f"{hexid(2)},{bob}",
                f"{hexid(5)},{ada}",
                f"{hexid(8)},Ada",
                lines[1],
            ]
        )
        + "\n"
    )
    out = []
    emitter = Emitter(out.append)
    assert link_matched_faces(ds, read_csv(io.StringIO(reviewed), "r.csv"), emitter) == 3
    kinds = [(r["input"], r["kind"]) for r in out if r["type"] == "error"]
    assert kinds == [
        ("r.csv:4", "same-photo"),
        ("r.csv:5", "malformed-input"),
        ("r.csv:6", "unknown-face"),
        ("r.csv:7", "linked-elsewhere"),
        ("r.csv:8", "rejected"),
        ("r.csv:9", "unknown-identity"),
    ]
    ds.flush()
    assert {f: i for f, i in IdentityView.of(ds).face_identity.items()} == {
        hexid(0): ada,
        hexid(1): bob,
        hexid(2): ada,
        hexid(4): ada,
    }
    assert proposed(ds) == [(hexid(3), "Bob")]


def test_rows_without_a_header_are_face_then_identity_and_records_work_too(ds):
    rows = list(read_csv(io.StringIO("f1,i1,whatever\n\nf2,i2\n")))
    assert rows == [
        ("csv:1", {"face_id": "f1", "identity_id": "i1"}),
        ("csv:3", {"face_id": "f2", "identity_id": "i2"}),
    ]
    out = []
    items = [{"type": "proposal", "face": "f", "identity": "i"}, {"type": "note"}, "stray line"]
    emitter = Emitter(out.append)
    assert list(proposal_rows(items, emitter)) == [("proposal 1", {"face_id": "f", "identity_id": "i"})]
    assert [r["type"] for r in out] == ["note", "error"] and emitter.failures == 1
