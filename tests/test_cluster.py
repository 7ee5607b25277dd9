"""Clustering over faces written straight into a dataset, with chosen vectors: no models."""

import os

import numpy as np
import pytest
from gallery import add_face

from recops.clustering import history, space
from recops.clustering.groups import Group, parts
from recops.clustering.naming import name_cluster
from recops.clustering.run import ClusterOptions, cluster_dataset
from recops.datasets import create_dataset
from recops.deletions import Deleter
from recops.errors import UsageError
from recops.identities import IdentityEditor
from recops.index import build_index
from recops.records import timestamp
from recops.store.dataset import Dataset
from recops.stream import Emitter

THRESHOLD = 0.05


@pytest.fixture
def ds(tmp_path):
    create_dataset(str(tmp_path / "case.rx")).close()
    with Dataset.open(str(tmp_path / "case.rx")) as dataset:
        yield dataset


def person(seed: int, count: int, spread: float = 0.12, dim: int = 16) -> np.ndarray:
    """`count` faces of one made-up person: unit centre, small noise (cosine distances ~0.01)."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=dim)
    centre /= np.linalg.norm(centre)
    return centre + spread / np.sqrt(dim) * rng.normal(size=(count, dim))


def add_people(ds, *groups, start=0) -> list[list[str]]:
    """Each group's faces, each face in a photo of its own; returns the face ids per group."""
    faces, n = [], start
    for vectors in groups:
        faces.append([add_face(ds, n + i, n + i, v) for i, v in enumerate(vectors)])
        n += len(vectors)
    ds.flush()
    return faces


def cluster(ds, **options) -> list[set[str]]:
    outcome = cluster_dataset(ds, ClusterOptions(threshold=options.pop("threshold", THRESHOLD), **options))
    return [set(c["faces"]) for c in outcome.clusters]


@pytest.mark.parametrize("method", ["average", "chinese-whispers"])
def test_people_become_clusters_largest_first(ds, method):
    ada, bob, eve = add_people(ds, person(1, 6), person(2, 4), person(3, 1))
    outcome = cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD, method=method))
    assert [set(c["faces"]) for c in outcome.clusters] == [set(ada), set(bob), set(eve)]
    first = outcome.clusters[0]
    assert first["type"] == "cluster" and first["label"] == 0 and first["size"] == 6 and first["identity"] is None
    assert first["id"] == history.cluster_id(ada) and first["method"] == method and first["threshold"] == THRESHOLD
    assert outcome.summary["type"] == "clustering" and outcome.summary["full"] and outcome.summary["clusters"] == 3


def test_deterministic_and_seeded(ds):
    add_people(ds, *[person(s, 5, spread=0.3) for s in range(6)])
    assert cluster(ds, full=True) == cluster(ds, full=True)
    whispers = [cluster(ds, full=True, method="chinese-whispers", seed=7) for _ in range(2)]
    assert whispers[0] == whispers[1]


def test_the_mean_distance_keeps_a_chain_of_look_alikes_apart(ds):
    # Ada and Bob are 0.085 apart; a bridge face sits between them, 0.02 from both: the
    # connected parts of the threshold graph (single linkage) would join them.
    a, b = np.zeros(16), np.zeros(16)
    a[0], b[0], a[1], b[1] = 1.0, 1.0, 0.21, -0.21
    bridge = (a + b) / 2
    jitter = np.random.default_rng(0).normal(scale=0.004, size=(12, 16))
    ada, bob, middle = add_people(ds, a + jitter[:6], b + jitter[6:], [bridge])
    assert space.to_half_square("cosine", 1 - a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.08
    found = cluster(ds)
    assert set(ada) in [c - set(middle) for c in found] and set(bob) in [c - set(middle) for c in found]
    assert not any(c >= set(ada) | set(bob) for c in found)


@pytest.mark.parametrize("method", ["average", "chinese-whispers"])
def test_two_faces_of_one_photo_never_share_a_cluster(ds, method):
    twins = person(4, 4)
    faces = [add_face(ds, n, 100 if n < 2 else n, twins[n]) for n in range(4)]  # faces 0 and 1: one photo
    ds.flush()
    found = cluster(ds, method=method)
    assert not any({faces[0], faces[1]} <= c for c in found)
    assert sum(len(c) for c in found) == 4


@pytest.mark.parametrize("method", ["average", "chinese-whispers"])
def test_identities_seed_clusters_never_merge_and_rejections_hold(ds, method):
    ada, bob, more = add_people(ds, person(5, 4), person(6, 3), person(5, 3, spread=0.1))
    editor = IdentityEditor(ds)
    first = editor.create("Ada")
    second = editor.create("Ada too")
    far = add_face(ds, 50, 50, person(9, 1)[0])  # linked by hand, though it looks like no one here
    ds.flush()
    for face in (ada[0], far):
        editor.link(face, first["id"])
    editor.link(ada[1], second["id"])
    editor.link(more[0], first["id"], "reject")
    ds.flush()
    outcome = cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD, method=method))
    by_identity = {c["identity"]: c for c in outcome.clusters if c["identity"]}
    assert {ada[0], far} <= set(by_identity[first["id"]]["faces"])
    assert ada[1] in by_identity[second["id"]]["faces"] and ada[0] not in by_identity[second["id"]]["faces"]
    assert more[0] not in by_identity[first["id"]]["faces"]
    assert by_identity[first["id"]]["id"] == history.cluster_id([], first["id"])
    assert by_identity[first["id"]]["identity_name"] == "Ada"


def test_deleted_faces_and_unlinked_query_photos_are_left_out(ds):
    (ada,) = add_people(ds, person(7, 5))
    query = add_face(ds, 20, 20, person(7, 1)[0], query=True)
    ds.flush()
    Deleter(ds).delete(ada[0], "face")
    ds.flush()
    found = cluster(ds)
    assert found == [set(ada[1:])]
    assert query not in set().union(*found)


def test_new_faces_join_stored_clusters_without_clustering_everything_again(ds):
    ada, bob = add_people(ds, person(8, 5), person(9, 4))
    before = {c["id"]: set(c["faces"]) for c in cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD)).clusters}
    more_ada, carl = add_people(ds, person(8, 7)[5:], person(10, 3), start=100)
    outcome = cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD))
    assert not outcome.summary["full"] and outcome.summary["clustered"] == 5
    assert outcome.summary["changed"] == 2  # Ada's cluster, grown, and Carl's, new
    after = {c["id"]: set(c["faces"]) for c in outcome.clusters}
    ada_id = history.cluster_id(ada)
    assert (
        after[ada_id] == set(ada) | set(more_ada) and after[history.cluster_id(bob)] == before[history.cluster_id(bob)]
    )
    assert set(carl) in after.values()
    again = cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD))
    assert again.summary["clustered"] == 0 and [c["id"] for c in again.clusters] == [c["id"] for c in outcome.clusters]
    full = cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD, full=True))
    assert full.summary["full"] and {frozenset(c["faces"]) for c in full.clusters} == {
        frozenset(v) for v in after.values()
    }
    assert cluster_dataset(ds, ClusterOptions(threshold=0.04)).summary["full"]  # other settings


def test_people_changing_links_make_the_next_run_full(ds):
    (ada,) = add_people(ds, person(11, 4))
    cluster(ds)
    editor = IdentityEditor(ds)
    editor.link(ada[0], editor.create("Ada")["id"])
    ds.flush()
    outcome = cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD))
    assert outcome.summary["full"] and outcome.clusters[0]["identity_name"] == "Ada"
    assert not cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD)).summary["full"]


def test_a_run_without_its_clustering_record_is_ignored(ds):
    (ada,) = add_people(ds, person(12, 3))
    cluster(ds)
    ds.log("clusters").append({"type": "cluster", "id": "torn", "faces": ada[:1], "run": "crashed", "ts": timestamp()})
    ds.flush()
    stored = history.current(ds, lambda face: False)
    assert list(stored.clusters) == [history.cluster_id(ada)]


@pytest.mark.parametrize("kind", ["annoy", "hnsw"])
def test_the_index_serves_the_faces_it_holds_and_new_ones_are_searched_exactly(ds, kind):
    ada, bob = add_people(ds, person(13, 8), person(14, 8))
    build_index(ds, "Dlib", "cosine", trees=10, kind=kind)
    (carl,) = add_people(ds, person(15, 3), start=100)
    found = cluster(ds)
    assert sorted(map(len, found)) == [3, 8, 8] and set(ada) in found and set(carl) in found
    assert cluster(ds, jobs=2) == found


def test_worker_processes_find_what_one_process_finds(ds):
    add_people(ds, *[person(s, 6, spread=0.3) for s in range(20, 26)])
    build_index(ds, "Dlib", "cosine", trees=10)
    (late,) = add_people(ds, person(26, 3), start=100)
    alone = cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD, full=True))
    spread = cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD, full=True, jobs=2))
    assert [c["faces"] for c in spread.clusters] == [c["faces"] for c in alone.clusters]
    assert spread.summary["edges"] == alone.summary["edges"] > 0 and set(late) in cluster(ds, full=True)


def test_an_empty_dataset_has_no_clusters(ds):
    outcome = cluster_dataset(ds)
    assert outcome.clusters == [] and outcome.summary["faces"] == 0 and outcome.summary["full"]


def test_parts_are_the_connected_parts_seeds_included():
    found = parts(7, np.array([0, 1, 4]), np.array([1, 2, 5]), [Group([2, 6], "x")])
    assert [p.tolist() for p in found] == [[0, 1, 2, 6], [4, 5]]


def test_distances_convert_to_half_squares_and_back():
    for metric, distance in (("cosine", 0.05), ("euclidean_l2", 0.3), ("angular", 0.1), ("euclidean", 0.5)):
        assert space.from_half_square(metric, space.to_half_square(metric, distance)) == pytest.approx(distance)
    assert space.default_threshold("Dlib", "cosine") == 0.055
    assert space.to_half_square("euclidean_l2", space.default_threshold("Dlib", "euclidean_l2")) == pytest.approx(
        0.055, rel=1e-5
    )


def test_a_model_without_a_deepface_threshold_needs_one(tmp_path):
    create_dataset(str(tmp_path / "fake.rx"), model="Fake").close()
    with Dataset.open(str(tmp_path / "fake.rx")) as fake, pytest.raises(UsageError, match="--threshold"):
        cluster_dataset(fake)


def test_naming_a_cluster_links_its_faces_and_respects_people(ds):
    ada, bob = add_people(ds, person(16, 4), person(17, 3))
    editor = IdentityEditor(ds)
    known = editor.create("Ada")
    editor.link(ada[0], known["id"], "reject")  # "this one is not Ada", said before the clustering
    ds.flush()
    outcome = cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD))
    label = next(c["label"] for c in outcome.clusters if ada[1] in c["faces"])
    records = []
    out = Emitter(records.append)
    changed = name_cluster(ds, str(label), "Ada", out)
    assert out.failures == 1 and [r["input"] for r in records if r["type"] == "error"] == [ada[0]]
    assert {r["face"] for r in records if r["type"] == "link"} == set(ada[1:])
    assert changed[0]["identity"] == known["id"] and set(changed[0]["faces"]) == set(ada[1:])
    nxt = cluster_dataset(ds, ClusterOptions(threshold=THRESHOLD))
    assert not nxt.summary["full"] and nxt.summary["clustered"] == 1  # the rejected face, placed again
    assert {c["identity"] for c in nxt.clusters if ada[0] in c["faces"]} == {None}
    bob_label = next(c["label"] for c in nxt.clusters if bob[0] in c["faces"])
    joined = name_cluster(ds, str(bob_label), "Ada", Emitter([].append))
    assert set(joined[0]["faces"]) == set(ada[1:]) | set(bob)  # named after an identity with a cluster: joins it
    with pytest.raises(UsageError, match="no cluster"):
        name_cluster(ds, "nope", "Ada", Emitter([].append))
    with pytest.raises(UsageError, match="identity 'Ada'"):
        name_cluster(ds, joined[0]["id"], "Carl", Emitter([].append))
    assert IdentityEditor(ds).view.find("Carl") is None


def test_copies_clustered_apart_agree_once_merged(tmp_path):
    import shutil

    roots = [str(tmp_path / "a.rx"), str(tmp_path / "b.rx")]
    create_dataset(roots[0]).close()
    with Dataset.open(roots[0]) as first:
        add_people(first, person(20, 4), person(21, 4))
        cluster(first)
    shutil.copytree(roots[0], roots[1])
    for number, root in enumerate(roots):  # each copy imports other photos and clusters them
        with Dataset.open(root) as copy:
            add_people(copy, person(20 + number, 7)[4:], person(30 + number, 3), start=100 * (number + 1))
            cluster(copy)
    for source, target in (roots, roots[::-1]):  # rsync -a both ways
        shutil.copytree(os.path.join(source, "records"), os.path.join(target, "records"), dirs_exist_ok=True)
    states = []
    for root in roots:
        with Dataset.open(root) as merged:
            states.append(
                {id: sorted(c["faces"]) for id, c in history.current(merged, lambda f: False).clusters.items()}
            )
    assert states[0] == states[1] and len(states[0]) == 4
