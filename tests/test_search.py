"""Index, search and matching over embeddings written straight into a dataset."""

import os

import msgpack
import numpy as np
import pytest

from recops import metrics
from recops.datasets import create_dataset
from recops.index import build_index, load_index
from recops.index_kinds import KINDS
from recops.logs import EMBEDDINGS, IDENTITIES, IMAGES, LINKS
from recops.records import timestamp
from recops.search import FaceSearch
from recops.stages.matching import FaceMatching, Matcher, MatchOptions
from recops.store.dataset import Dataset
from recops.stream import Emitter


def hexid(n: int, kind: str = "f") -> str:
    return f"{kind}{n:031x}"


@pytest.fixture
def ds(tmp_path):
    create_dataset(str(tmp_path / "case.rx"), threshold=0.5).close()
    with Dataset.open(str(tmp_path / "case.rx")) as dataset:
        yield dataset


def add(ds, vectors, start=0, image_of=lambda n: hexid(n, "a"), flush=True):
    for n, vector in enumerate(vectors, start):
        ds.log(EMBEDDINGS).append(
            {
                "type": "embedding",
                "face": hexid(n),
                "image": image_of(n),
                "model": "Dlib",
                "vector": np.asarray(vector, np.float32),
                "ts": timestamp(),
            }
        )
    if flush:
        ds.flush()


def test_metrics_agree_with_deepface():
    from deepface.modules.verification import find_distance

    rng = np.random.default_rng(0)
    matrix, query = rng.normal(size=(6, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    for metric in metrics.METRICS:
        expected = [find_distance(query, row, metric) for row in matrix]
        assert np.allclose(metrics.exact(metric, query, matrix), expected, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("metric", metrics.METRICS)
def test_index_search_equals_exact_search(ds, metric, kind):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    add(ds, vectors)
    assert build_index(ds, "Dlib", metric, trees=20, kind=kind).kind == kind
    search = FaceSearch(ds, "Dlib", metric, search_k=100_000)
    assert search.index is not None and search.fresh.faces == [] and search.info.kind == kind
    query = rng.normal(size=16).astype(np.float32)
    exact = metrics.exact(metric, query, vectors)
    expected = [hexid(int(i)) for i in np.argsort(exact)[:5]]
    found = search.nearest(query, 5)
    assert [n.face for n in found] == expected
    assert np.allclose([n.distance for n in found], np.sort(exact)[:5], atol=1e-5)


def test_faces_embedded_after_the_build_are_found_exactly(ds):
    add(ds, np.eye(8)[:4])
    build_index(ds, "Dlib", "cosine")
    add(ds, [np.eye(8)[5]], start=10)
    search = FaceSearch(ds, "Dlib", "cosine")
    assert search.fresh.faces == [hexid(10)] and search.size == 5
    assert search.nearest(np.eye(8)[5], 1)[0].face == hexid(10)


def test_a_stale_index_is_not_trusted(ds, caplog):
    add(ds, np.eye(8)[:4])
    build_index(ds, "Dlib", "cosine")
    for segment in ds.log(EMBEDDINGS).segments():  # as rx-gc compacting would
        os.chmod(segment.path, 0o600)
        os.unlink(segment.path)
    add(ds, [np.eye(8)[2]], start=20)
    search = FaceSearch(ds, "Dlib", "cosine")
    assert search.index is None and "stale" in caplog.text
    assert [n.face for n in search.nearest(np.eye(8)[2], 3)] == [hexid(20)]


def test_a_reader_keeps_its_index_while_a_new_one_replaces_it(ds):
    add(ds, np.eye(8)[:4])
    build_index(ds, "Dlib", "cosine")
    index, info = load_index(ds, "Dlib", "cosine")
    add(ds, np.eye(8)[4:6], start=4)
    build_index(ds, "Dlib", "cosine")
    assert len(index.by_item(0, 2, -1)[0]) == 2
    _, newer = load_index(ds, "Dlib", "cosine")
    assert len(newer.faces) == 6 and newer.ann != info.ann and os.path.exists(info.ann)


def test_a_rebuild_keeps_the_kind_built_before(ds):
    add(ds, np.eye(8)[:4])
    build_index(ds, "Dlib", "cosine", kind="hnsw")
    add(ds, np.eye(8)[4:6], start=4)
    info = build_index(ds, "Dlib", "cosine")  # as rx-gc rebuilds after compacting
    assert info.kind == "hnsw" and info.ann.endswith(".hnsw") and info.record()["kind"] == "hnsw"
    assert build_index(ds, "Dlib", "cosine", kind="annoy").ann.endswith(".ann")
    names = sorted(e.name.rsplit(".", 1)[1] for e in ds.tree.entries("cache/index"))
    assert names == ["ann", "hnsw", "meta"]  # the previous build stays for readers that hold it


def test_an_hnsw_index_keeps_its_links_and_an_annoy_index_has_none(ds, caplog):
    add(ds, np.eye(8)[:4])
    assert build_index(ds, "Dlib", "cosine", kind="hnsw", links=32).record()["links"] == 32
    add(ds, np.eye(8)[4:6], start=4)
    rebuilt = build_index(ds, "Dlib", "cosine")
    assert rebuilt.kind == "hnsw" and rebuilt.links == 32
    assert build_index(ds, "Dlib", "cosine", kind="hnsw", links=8).links == 8
    with pytest.raises(ValueError, match="HNSW"):
        build_index(ds, "Dlib", "cosine", kind="annoy", links=32)
    assert build_index(ds, "Dlib", "cosine", kind="annoy").links is None
    build_index(ds, "Dlib", "cosine", kind="hnsw")
    meta = msgpack.unpackb(ds.tree.read("cache/index/Dlib.angular.meta", 1 << 20))
    ds.tree.write("cache/index/Dlib.angular.meta", msgpack.packb(meta | {"links": "32; rm -rf"}))
    assert load_index(ds, "Dlib", "cosine") is None and "damaged number of links" in caplog.text


def test_a_damaged_hnsw_index_is_searched_around(ds, caplog):
    vectors = np.eye(8)[:6]
    add(ds, vectors)
    info = build_index(ds, "Dlib", "cosine", kind="hnsw")
    os.chmod(info.ann, 0o600)
    with open(info.ann, "r+b") as handle:
        handle.truncate(40)
    assert load_index(ds, "Dlib", "cosine") is None and "ignoring the index" in caplog.text
    search = FaceSearch(ds, "Dlib", "cosine")
    assert search.index is None and search.nearest(vectors[3], 1)[0].face == hexid(3)


def test_an_hnsw_index_answers_more_than_it_holds_with_what_it_holds(ds):
    add(ds, np.eye(8)[:3])
    build_index(ds, "Dlib", "cosine", kind="hnsw")
    search = FaceSearch(ds, "Dlib", "cosine")
    assert [n.face for n in search.nearest(np.eye(8)[1], 10)][0] == hexid(1) and search.size == 3
    assert len(search.nearest(np.eye(8)[1], 10)) == 3


def identity(ds, id, name):
    ds.log(IDENTITIES).append({"type": "identity", "id": id, "name": name, "ts": timestamp()})


def link(ds, face, id, op="link"):
    ds.log(LINKS).append({"type": "link", "face": face, "identity": id, "op": op, "ts": timestamp()})


ADA, BOB = hexid(1, "b"), hexid(2, "b")


def test_match_rules(ds):
    base = np.ones(4, np.float32)
    near = [base + 0.01 * n * np.array([1, -1, 0.5, 0], np.float32) for n in range(6)]
    # faces 0-5 near each other; faces 0 and 1 share a photo; face 5's photo is a query photo
    add(ds, near, image_of=lambda n: hexid(0 if n < 2 else n, "a"))
    ds.log(IMAGES).append({"type": "image", "id": hexid(5, "a"), "paths": [], "query": True, "ts": timestamp()})
    identity(ds, ADA, "Ada")
    identity(ds, BOB, "Bob")
    link(ds, hexid(2), ADA)
    link(ds, hexid(3), ADA)
    link(ds, hexid(4), BOB)
    ds.flush()

    def candidates(**options):
        matcher = Matcher(ds, MatchOptions(**options))
        return [m["candidate"] for m in matcher.matches(hexid(0), hexid(0, "a"), near[0])]

    assert candidates() == [hexid(2), hexid(3), hexid(4)]  # not itself, not its photo-mate, not the query photo's
    assert candidates(maximum=2) == [hexid(2), hexid(3)]
    assert candidates(best_per_identity=True) == [hexid(2), hexid(4)]
    assert candidates(exclude_identities=("Ada",)) == [hexid(4)]
    assert candidates(threshold=1e-7) == []
    link(ds, hexid(5), BOB)  # a person enrols the query face
    link(ds, hexid(0), ADA, "reject")  # "face 0 is not Ada"
    ds.flush()
    assert candidates(identified_only=True) == [hexid(4), hexid(5)]
    build_index(ds, "Dlib", "cosine")
    searched = Matcher(ds, MatchOptions(identified_only=True)).search
    assert searched.index is None and sorted(searched.fresh.faces) == [hexid(2), hexid(3), hexid(4), hexid(5)]
    assert candidates(identified_only=True) == [hexid(4), hexid(5)]


def test_matching_a_stream_embeds_faces_that_come_without_an_embedding(ds, photos, fake_models):
    from recops.stages.detection import DetectOptions, FaceDetection
    from recops.stages.importing import Importer

    create_dataset(str(ds.root) + "2", detector="fake", model="Fake", threshold=1000).close()
    with Dataset.open(str(ds.root) + "2") as fake_ds:
        imported = []
        with Importer(fake_ds, Emitter(imported.append)) as importer:
            importer.add_arguments([str(photos / "img0.jpg"), str(photos / "img1.jpg")])
        detected = []
        FaceDetection(Emitter(detected.append), DetectOptions("fake"), fake_ds).run(imported)
        out = []
        FaceMatching(Emitter(out.append), Matcher(fake_ds), save=True).run(detected)
        # the gallery grows with the stream: the second face matches the first
        assert [r["type"] for r in out] == [
            "image",
            "face",
            "embedding",
            "detection",
            "image",
            "face",
            "embedding",
            "match",
            "detection",
        ]
        assert out[7]["candidate"] == out[1]["id"] and out[7]["rank"] == 1
        assert [r["type"] for r in fake_ds.log("matches").records()] == ["match"]


def test_vectors_keep_the_latest_embedding_of_each_face_in_order_of_first_appearance(caplog):
    from recops.vectors import Vectors

    def id_(name: str) -> str:
        return name.encode().hex().ljust(32, "0")

    def record(face, image, value, ts, model="Dlib"):
        return {
            "type": "embedding",
            "face": id_(face),
            "image": id_(image),
            "model": model,
            "vector": np.full(4, value, "<f4").tobytes(),
            "ts": ts,
        }

    records = [
        record("b", "x", 1, "2"),
        record("a", "y", 2, "1"),
        record("b", "z", 3, "3"),
        record("a", "w", 4, "0"),
        record("c", "v", 5, "1", model="ArcFace"),
        {"type": "face", "id": id_("d")},
        # equal times: the greater vector bytes, not the greater number (9.0's bytes are less than 7.0's)
        record("e", "u", 7, "5"),
        record("e", "t", 6, "5"),
        record("e", "s", 9, "5"),
        # times longer than the bytes a row keeps for one are compared whole
        record("g", "r", 1, "9" * 40),
        record("g", "q", 2, "9" * 39),
        {**record("h", "p", 1, "1"), "face": "not an id"},
    ]
    records += [record(f"f{n}", "i", n, "1") for n in range(2000)]
    vectors = Vectors.collect(iter(records), "Dlib")
    assert vectors.faces[:4] == [id_("b"), id_("a"), id_("e"), id_("g")] and len(vectors.faces) == 2004
    assert vectors.images[:4] == [id_("z"), id_("y"), id_("u"), id_("r")]
    assert vectors.matrix.shape == (2004, 4) and vectors.matrix[:4, 0].tolist() == [3, 2, 7, 1]
    assert vectors.matrix[-1, 0] == 1999 and vectors.faces[-1] == id_("f1999")
    assert bytes(vectors.face_ids[0]).hex() == id_("b") and len(vectors) == 2004
    assert "1 Dlib embedding(s) whose ids are not ids" in caplog.text
    empty = Vectors.collect([], "Dlib")
    assert empty.faces == [] and empty.matrix.shape[0] == 0


def test_rx_index_builds_the_kind_asked_and_a_backup_carries_it(ds, tmp_path):
    from conftest import jsonl, run

    from recops.backup import backup, restore

    vectors = np.random.default_rng(3).normal(size=(40, 8)).astype(np.float32)
    add(ds, vectors)
    built = run(["rx-index", "-d", ds.root, "--kind", "hnsw"])
    assert built.returncode == 0, built.stderr
    (record,) = jsonl(built.stdout)
    assert record["kind"] == "hnsw" and record["count"] == 40 and "trees" not in record
    assert run(["rx-index", "-d", ds.root, "--kind", "faiss"]).returncode == 2
    assert run(["rx-index", "-d", ds.root, "--kind", "hnsw", "--links", "2"]).returncode == 2
    assert run(["rx-index", "-d", ds.root, "--kind", "annoy", "--links", "32"]).returncode == 2
    backup(ds, str(tmp_path / "b.zip"))
    restore(str(tmp_path / "b.zip"), str(tmp_path / "back.rx"))
    with Dataset.open(str(tmp_path / "back.rx")) as back:
        search = FaceSearch(back, "Dlib", "cosine")
        assert search.info.kind == "hnsw" and search.fresh.faces == []
        assert search.nearest(vectors[7], 1)[0].face == hexid(7)
