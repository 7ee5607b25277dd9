"""Identity operations as append-only records: create, rename, delete, link, unlink, reject."""

import pytest
from gallery import add_face, hexid

from recops.datasets import create_dataset
from recops.deletions import Deleter, Deletions
from recops.errors import InputError
from recops.identities import PALETTE, IdentityEditor, IdentityView, color_for
from recops.logs import IDENTITIES, LINKS
from recops.store.dataset import Dataset


@pytest.fixture
def ds(tmp_path):
    create_dataset(str(tmp_path / "case.rx"), threshold=0.1).close()
    with Dataset.open(str(tmp_path / "case.rx")) as dataset:
        for n, image in enumerate([0, 0, 1, 2]):  # faces 0 and 1 share photo 0
            add_face(dataset, n, image, [1, n, 0, 0])
        yield dataset


def reread(ds) -> IdentityView:
    ds.flush()
    return IdentityView.of(ds)


def test_create_rename_recolour_delete_keep_one_id(ds):
    editor = IdentityEditor(ds)
    ada = editor.create("Ada", "the first", "#ff0000")
    assert len(ada["id"]) == 32 and ada["color"] == "#ff0000"
    renamed = editor.update("Ada", name="Ada L.", color="#0000ff")
    assert renamed["id"] == ada["id"] and renamed["description"] == "the first"
    assert reread(ds).identities[ada["id"]]["name"] == "Ada L." and reread(ds).find("Ada") is None
    editor.link(hexid(2), ada["id"])
    editor.delete(ada["id"])
    view = reread(ds)
    assert view.identities == {} and view.face_identity == {} and editor.view.face_identity == {}
    assert [r.get("deleted", False) for r in ds.log(IDENTITIES).records()] == [False, False, True]
    with pytest.raises(InputError, match="no identity"):
        editor.update(ada["id"], name="again")


NAMES = ["Ada", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lu"]


def test_a_new_identity_gets_a_colour_nobody_has_while_one_is_left(ds, tmp_path):
    editor = IdentityEditor(ds)
    chosen = editor.create("Chosen", color="#00FF01")
    assert chosen["color"] == "#00FF01", "a colour a person chose is kept"
    first = [editor.create(name)["color"] for name in NAMES[: len(PALETTE) - 1]]
    assert sorted(first + ["#00ff01"]) == sorted(PALETTE), "two identities share a colour while others are unused"
    editor.delete("Bob")
    assert editor.create(NAMES[9])["color"] == first[1], "a deleted identity's colour is free again"
    eleventh, twelfth = editor.create(NAMES[10])["color"], editor.create(NAMES[11])["color"]
    assert eleventh in PALETTE and twelfth in PALETTE and twelfth != eleventh, "then the least used"
    create_dataset(str(tmp_path / "copy.rx")).close()
    with Dataset.open(str(tmp_path / "copy.rx")) as copy:
        again = IdentityEditor(copy)
        again.create("Chosen", color="#00FF01")
        assert [again.create(name)["color"] for name in NAMES[: len(PALETTE) - 1]] == first, "copies agree"
    assert color_for("Ada", PALETTE) in PALETTE


def test_the_last_statement_about_a_face_wins_and_a_rejection_is_remembered(ds):
    editor = IdentityEditor(ds)
    ada, bob = editor.create("Ada")["id"], editor.create("Bob")["id"]
    editor.link(hexid(2), ada)
    editor.link(hexid(2), bob)  # a face has one identity: it moves
    assert reread(ds).face_identity == {hexid(2): bob}
    editor.link(hexid(2), ada, "unlink")  # not linked to Ada: nothing changes
    editor.link(hexid(3), ada)
    editor.link(hexid(3), ada, "reject")
    view = reread(ds)
    assert view.face_identity == {hexid(2): bob} and view.rejected == {(hexid(3), ada)}
    assert view.face_counts() == {bob: 1} and editor.view.face_identity == view.face_identity
    editor.link(hexid(3), ada)  # a person links it after all: the rejection is lifted
    assert reread(ds).rejected == set()


def test_operations_check_what_they_name(ds):
    editor = IdentityEditor(ds)
    ada = editor.create("Ada")["id"]
    with pytest.raises(InputError) as unknown_face:
        editor.link(hexid(99), ada)
    with pytest.raises(InputError) as unknown_identity:
        editor.link(hexid(2), "Nobody")
    with pytest.raises(InputError) as blank:
        editor.create("  ")
    assert (unknown_face.value.kind, unknown_identity.value.kind, blank.value.kind) == (
        "unknown-face",
        "unknown-identity",
        "invalid-name",
    )
    Deleter(ds).delete(hexid(2))
    with pytest.raises(InputError) as deleted:
        IdentityEditor(ds).link(hexid(2), ada)
    assert deleted.value.kind == "deleted"
    assert editor.create("Ada", reuse_name=True)["id"] == ada


def test_automatic_links_leave_alone_what_people_decided_and_photo_mates(ds):
    editor = IdentityEditor(ds)
    ada, bob = editor.create("Ada")["id"], editor.create("Bob")["id"]
    editor.link(hexid(0), ada, source="review")

    def refused(face, identity):
        with pytest.raises(InputError) as caught:
            editor.link(face, identity, source="enrol")
        return caught.value.kind

    assert refused(hexid(1), ada) == "same-photo"  # face 1 shares photo 0 with face 0
    editor.link(hexid(2), bob)
    assert refused(hexid(2), ada) == "linked-elsewhere"
    editor.link(hexid(2), bob, "unlink")
    assert refused(hexid(2), bob) == "unlinked"
    editor.link(hexid(3), ada, "reject")
    assert refused(hexid(3), ada) == "rejected"
    again = editor.link(hexid(0), ada, source="enrol")  # already linked: nothing new is written
    assert again["source"] == "review" and len(list(ds.log(LINKS).records())) == 4
    editor.link(hexid(1), ada)  # by hand it is allowed, and the automatic link gives way
    assert reread(ds).face_identity == editor.view.face_identity == {hexid(1): ada}
    editor.link(hexid(0), ada)  # both by hand: a mirror
    assert reread(ds).face_identity == {hexid(0): ada, hexid(1): ada}


def test_one_automatic_link_per_photo_whatever_order_copies_merge_in(ds):
    ada = {"type": "identity", "id": "i" * 32, "name": "Ada", "ts": "2026-01-01T00:00:00.000000Z"}

    def link(face, day, source="review"):
        return {
            "type": "link",
            "face": hexid(face),
            "image": hexid(0, "a"),
            "identity": ada["id"],
            "op": "link",
            "source": source,
            "ts": f"2026-01-0{day}T00:00:00.000000Z",
        }

    for records, linked in [
        ([link(0, 2), link(1, 3)], 0),  # two automatic links: the earlier holds
        ([link(0, 2, "manual"), link(1, 3)], 0),  # a person's link holds
        ([link(0, 2), link(1, 3, "manual")], 1),
    ]:  # and overrides an automatic one
        for order in (records, records[::-1]):
            assert IdentityView.fold([ada], order).face_identity == {hexid(linked): ada["id"]}


def test_deleted_faces_and_images_take_their_links_with_them(ds):
    editor = IdentityEditor(ds)
    ada = editor.create("Ada")["id"]
    for n in (0, 2, 3):
        editor.link(hexid(n), ada)
    deleter = Deleter(ds)
    deleter.delete(hexid(2))
    deleter.delete(hexid(0, "a"))  # photo 0: faces 0 and 1
    assert deleter.delete(hexid(2))["ts"] == deleter.delete(hexid(2), "face")["ts"]  # deleting twice writes once
    view = reread(ds)
    assert view.face_identity == {hexid(3): ada} and view.face_counts() == {ada: 1}
    assert Deletions.of(ds).hides(hexid(1), hexid(0, "a"))
    with pytest.raises(InputError, match="no face or image"):
        deleter.delete("0" * 32)


def _enrol_at_once(root: str, barrier, reuse: bool) -> None:
    with Dataset.open(root) as dataset:
        editor = IdentityEditor(dataset)  # each has read the identities: none is called Zed yet
        barrier.wait()
        if reuse:
            editor.create("Zed", reuse_name=True)
        else:
            editor.find_or_create("Zed")


def test_enrolments_at_once_under_one_new_name_make_one_identity(ds):
    import multiprocessing
    import os
    import stat

    ds.flush()
    context = multiprocessing.get_context("fork")
    for attempt in range(3):
        barrier = context.Barrier(8)
        workers = [context.Process(target=_enrol_at_once, args=(ds.root, barrier, n % 2 == 1)) for n in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [w.exitcode for w in workers] == [0] * 8
        named = [r for r in reread(ds).identities.values() if r["name"] == "Zed"]
        assert len(named) == 1, f"{len(named)} identities named Zed after attempt {attempt}"
    lock = os.path.join(ds.root, "cache", "identities.lock")
    assert stat.S_IMODE(os.lstat(lock).st_mode) == 0o600
