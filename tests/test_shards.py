"""Several datasets searched as one: a home dataset and its shards, in one rx-match or fanned
out and merged by rx-merge."""

import json
import os
import random
import shutil
import subprocess

import numpy as np
import pytest
from conftest import command, jsonl
from test_search import add, hexid
from typer.testing import CliRunner

from recops.cli import match as match_cli
from recops.datasets import create_dataset
from recops.deletions import Deleter
from recops.errors import UsageError
from recops.identities import IdentityEditor
from recops.index import build_index
from recops.logs import FACES as FACES_LOG
from recops.records import timestamp
from recops.shards import open_shards, read_list
from recops.stages.matching import Matcher, MatchOptions
from recops.store.dataset import Dataset

runner = CliRunner()
FACES, DIM = 240, 16
WIDE = MatchOptions(maximum=10, threshold=2.0)


def gallery() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(FACES, DIM)).astype(np.float32)


@pytest.fixture
def vectors():
    return gallery()


@pytest.fixture
def split(tmp_path, vectors):
    """The same faces, once in one dataset and once in a home dataset and three shards (two of
    them indexed); returns their roots."""
    roots = {name: str(tmp_path / f"{name}.rx") for name in ("whole", "home", "s1", "s2", "s3")}
    for root in roots.values():
        create_dataset(root, threshold=0.5).close()
    with Dataset.open(roots["whole"]) as whole:
        add(whole, vectors)
    quarter = FACES // 4
    for n, name in enumerate(("home", "s1", "s2", "s3")):
        with Dataset.open(roots[name]) as dataset:
            for face in range(n * quarter, (n + 1) * quarter):
                box = [0, 0, 10, 10]
                dataset.log(FACES_LOG).append(
                    {"type": "face", "id": hexid(face), "image": hexid(face, "a"), "box": box}
                )
            add(dataset, vectors[n * quarter : (n + 1) * quarter], start=n * quarter)
            if name in ("s1", "s3"):
                build_index(dataset, "Dlib", "cosine")
    return roots


def queries(count: int = 12) -> np.ndarray:
    """Random faces, the first of them near face 130."""
    found = np.random.default_rng(8).normal(size=(count, DIM)).astype(np.float32)
    found[0] = gallery()[130] + 0.01
    return found


def ranking(matches: list[dict]) -> list[tuple]:
    """What must agree; distances to the millionth, as Annoy's float32 and numpy's exact ones do."""
    return [
        (m["candidate"], round(m["distance"], 5), m["rank"], m["gallery"], m.get("expected_false")) for m in matches
    ]


def test_shards_searched_as_one_rank_as_one_dataset_holding_them_all(split):
    with Dataset.open(split["whole"]) as whole, Dataset.open(split["home"]) as home:
        with open_shards(home, [split["s1"], split["s2"], split["s3"]]) as shards:
            one, many = Matcher(whole, WIDE), Matcher(home, WIDE, shards)
            assert many.search.size == one.search.size == FACES
            ids = {d.config.id: d for d in (home, *shards)}
            for n, query in enumerate(queries()):
                expected = one.matches(hexid(900 + n), hexid(900 + n, "a"), query)
                found = many.matches(hexid(900 + n), hexid(900 + n, "a"), query)
                assert ranking(found) == ranking(expected) and len(found) == 10
                for match in found:  # each candidate is said to be in the shard that holds it
                    face = int(match["candidate"][1:], 16)
                    assert ids[match["candidate_dataset"]].root == split[("home", "s1", "s2", "s3")[face // 60]]


def test_a_link_in_home_names_a_face_of_a_shard_and_each_shard_hides_what_it_deleted(split, vectors):
    with Dataset.open(split["home"]) as home, Dataset.open(split["s2"]) as s2, Dataset.open(split["s3"]) as s3:
        editor = IdentityEditor(home, [s2])
        ada = editor.create("Ada")
        link = editor.link(hexid(130), ada["id"])
        assert link["face_dataset"] == s2.config.id and link["image"] == hexid(130, "a")
        Deleter(s3).delete(hexid(190))
        s3.flush()
        with open_shards(home, [split["s1"], split["s2"], split["s3"]]) as shards:
            matcher = Matcher(home, WIDE, shards)
            near_130 = matcher.matches(hexid(999), hexid(999, "a"), vectors[130])
            assert near_130[0]["candidate"] == hexid(130) and near_130[0]["identity_name"] == "Ada"
            assert hexid(190) not in [
                m["candidate"] for m in matcher.matches(hexid(999), hexid(999, "a"), vectors[190])
            ]
            known = Matcher(home, MatchOptions(threshold=2.0, identified_only=True), shards)
            assert [m["candidate"] for m in known.matches(hexid(999), hexid(999, "a"), vectors[5])] == [hexid(130)]


def test_shards_must_share_model_metric_and_vector_length_and_be_distinct(tmp_path, split):
    create_dataset(str(tmp_path / "euclid.rx"), metric="euclidean").close()
    shutil.copytree(split["s1"], tmp_path / "copy.rx")
    create_dataset(str(tmp_path / "long.rx")).close()
    with Dataset.open(str(tmp_path / "long.rx")) as long:
        add(long, np.ones((2, DIM + 1), np.float32), start=500)
    with Dataset.open(split["home"]) as home:
        with pytest.raises(UsageError, match="share a metric: .*home.rx has cosine, .*euclid.rx has euclidean"):
            with open_shards(home, [str(tmp_path / "euclid.rx")]):
                pass
        with pytest.raises(UsageError, match="copies of one dataset"):
            with open_shards(home, [split["s1"], str(tmp_path / "copy.rx")]):
                pass
        with open_shards(home, [str(tmp_path / "long.rx")]) as shards:
            with pytest.raises(UsageError, match=f"home.rx has {DIM} numbers, .*long.rx has {DIM + 1}"):
                Matcher(home, WIDE, shards)


def test_a_list_of_datasets_is_checked_line_by_line(tmp_path, split):
    listing = tmp_path / "shards.txt"
    listing.write_text(f"# the case's shards\n\ns1.rx\n  {split['s2']}  \n")
    assert read_list(str(listing)) == [str(tmp_path / "s1.rx"), split["s2"]]
    listing.write_text("s1.rx\nnowhere.rx\n")
    with pytest.raises(UsageError, match=r"shards.txt:2: 'nowhere.rx' is not a recops dataset"):
        read_list(str(listing))
    listing.write_text("# nothing\n")
    with pytest.raises(UsageError, match="lists no dataset"):
        read_list(str(listing))


def query_stream() -> bytes:
    records = [
        {
            "type": "embedding",
            "face": hexid(900 + n),
            "image": hexid(900 + n, "a"),
            "model": "Dlib",
            "vector": [float(v) for v in vector],
            "ts": timestamp(),
        }
        for n, vector in enumerate(queries())
    ]
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def rx_match(*args: str) -> list[dict]:
    result = runner.invoke(match_cli.app, [*args, "--threshold", "2", "--no-join", "--searched"], input=query_stream())
    assert result.exit_code == 0, result.stderr
    return jsonl(result.stdout.encode())


def merged(answers: list[list[dict]], *args: str) -> list[dict]:
    stream = "".join(json.dumps(r) + "\n" for answer in answers for r in answer).encode()
    done = subprocess.run(command("rx-merge") + list(args), input=stream, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return jsonl(done.stdout)


def comparable(records: list[dict], kind: str) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "ts"} for r in records if r["type"] == kind]


def test_one_rx_match_over_four_datasets_equals_four_merged_in_any_order(tmp_path, split):
    with Dataset.open(split["home"]) as home:
        ada = IdentityEditor(home).create("Ada")
        with Dataset.open(split["s2"]) as s2:
            IdentityEditor(home, [s2]).link(hexid(130), ada["id"])
    (tmp_path / "shards.txt").write_text("s1.rx\ns2.rx\n# s3 below\ns3.rx\n")
    together = rx_match("-d", split["home"], "--datasets", str(tmp_path / "shards.txt"))
    assert len(comparable(together, "match")) == 12 * 10
    assert {len(r["datasets"]) for r in together if r["type"] == "searched"} == {4}
    answers = [rx_match("-d", split[name]) for name in ("home", "s1", "s2", "s3")]
    for order in ([0, 1, 2, 3], [3, 1, 0, 2]):
        out = merged([answers[i] for i in order], "-d", split["home"], "--shards", "4")
        assert comparable(out, "match") == comparable(together, "match")
        assert [r["face"] for r in out if r["type"] == "embedding"] == [hexid(900 + n) for n in range(12)]
        searched = comparable(out, "searched")
        assert [r["gallery"] for r in searched] == [FACES] * 12 and sorted(searched[0]["datasets"]) == sorted(
            together[-1]["datasets"]
        )
    shuffled = [r for answer in answers for r in answer]
    random.Random(1).shuffle(shuffled)  # answers interleaved record by record, merged at the end of input
    by_query = sorted(comparable(merged([shuffled], "-d", split["home"]), "match"), key=lambda m: m["query"])
    assert by_query == sorted(comparable(together, "match"), key=lambda m: m["query"])  # a stable sort: ranks stay
    assert "Ada" in {m["identity_name"] for m in comparable(together, "match")}


@pytest.mark.skipif(shutil.which("parallel") is None, reason="GNU parallel is not installed")
def test_the_fan_out_recipe_of_parallel_tee_and_rx_merge(split):
    import shlex

    from conftest import tool

    match = f"{tool('rx-match')} -d {{}} --threshold 2 --searched --no-join"
    pipeline = (
        f"parallel --pipe --tee {shlex.quote(match)} ::: {' '.join(split[n] for n in ('home', 's1', 's2', 's3'))}"
        f" | {shlex.join(command('rx-merge'))} --shards 4"
    )
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", pipeline], input=query_stream(), capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    together = rx_match("-d", split["home"], "-d", split["s1"], "-d", split["s2"], "-d", split["s3"])
    fanned = sorted(comparable(jsonl(done.stdout), "match"), key=lambda m: m["query"])
    assert fanned == sorted(comparable(together, "match"), key=lambda m: m["query"]) and len(fanned) == 120


def test_links_to_faces_of_shards_hold_in_copies_synced_shard_by_shard(tmp_path):
    """Identities in home, their faces in two shards: each synced alone with rsync -a, the
    copies still resolve the linked faces (and their review) to the identity."""
    from recops.cli import identity as identity_cli
    from recops.cli import ls as ls_cli
    from recops.cli import report as report_cli
    from recops.cli import review as review_cli

    vectors = gallery()[:20]
    vectors[15] = vectors[3] + 0.01  # face 15 (shard 2) is the person of face 3 (shard 1)
    roots = {name: str(tmp_path / "here" / f"{name}.rx") for name in ("home", "s1", "s2")}
    for root in roots.values():
        create_dataset(root, threshold=0.5).close()
    for name, faces in (("s1", range(0, 10)), ("s2", range(10, 20))):
        with Dataset.open(roots[name]) as dataset:
            for face in faces:
                record = {"type": "face", "id": hexid(face), "image": hexid(face, "a"), "box": [0, 0, 10, 10]}
                dataset.log(FACES_LOG).append(record)
            add(dataset, vectors[faces.start : faces.stop], start=faces.start)
    everywhere = ["-d", roots["home"], "-d", roots["s1"], "-d", roots["s2"]]
    assert runner.invoke(identity_cli.app, ["create", "Ada", "-d", roots["home"]]).exit_code == 0
    linked = runner.invoke(identity_cli.app, ["link", "Ada", hexid(3), hexid(12), *everywhere])
    assert linked.exit_code == 0, linked.stderr
    with Dataset.open(roots["s1"]) as s1, Dataset.open(roots["s2"]) as s2:
        shard_of = {hexid(3): s1.config.id, hexid(12): s2.config.id}
    assert {r["face"]: r["face_dataset"] for r in jsonl(linked.stdout.encode())} == shard_of
    proposed = jsonl(runner.invoke(review_cli.app, ["propose", *everywhere]).stdout.encode())
    assert [(p["face"], p["identity_name"], p["candidate"]) for p in proposed] == [(hexid(15), "Ada", hexid(3))]
    assert proposed[0]["face_dataset"] == shard_of[hexid(12)] and proposed[0]["candidate_dataset"] == shard_of[hexid(3)]
    applied = runner.invoke(review_cli.app, ["apply", *everywhere], input=json.dumps(proposed[0]) + "\n")
    assert applied.exit_code == 0, applied.stderr

    synced = {name: str(tmp_path / "there" / f"{name}.rx") for name in roots}
    os.makedirs(tmp_path / "there")
    for name in roots:  # each shard synced on its own, and the originals gone
        subprocess.run(["rsync", "-a", roots[name] + "/", synced[name]], check=True)
        shutil.rmtree(roots[name])
    query = {"type": "embedding", "face": hexid(950), "image": hexid(950, "a"), "model": "Dlib"}
    stream = "".join(
        json.dumps({"type": "image", "id": hexid(950 + n, "a"), "width": 40, "height": 40})
        + "\n"
        + json.dumps({"type": "face", "id": hexid(950 + n), "image": hexid(950 + n, "a"), "box": [0, 0, 10, 10]})
        + "\n"
        + json.dumps({**query, "face": hexid(950 + n), "image": hexid(950 + n, "a"), "vector": [float(v) for v in row]})
        + "\n"
        for n, row in enumerate((vectors[3], vectors[12]))
    )
    matched = runner.invoke(
        match_cli.app, ["-d", synced["home"], "-d", synced["s1"], "-d", synced["s2"], "--maximum", "1"], input=stream
    )
    found = [m for m in jsonl(matched.stdout.encode()) if m["type"] == "match"]
    assert [(m["candidate"], m["identity_name"], m["candidate_dataset"]) for m in found] == [
        (hexid(3), "Ada", shard_of[hexid(3)]),
        (hexid(12), "Ada", shard_of[hexid(12)]),
    ]
    listed = jsonl(runner.invoke(ls_cli.app, ["identities", "-d", synced["home"]]).stdout.encode())
    assert [(i["name"], i["faces"]) for i in listed] == [("Ada", 3)]
    report = tmp_path / "report.json"
    reported = runner.invoke(
        report_cli.app, ["-d", synced["home"], "-o", str(report), "-f", "json"], input=matched.stdout
    )
    assert reported.exit_code == 0, reported.stderr
    shown = json.loads(report.read_text())["images"]
    assert [face["matches"][0]["identity"]["name"] for image in shown for face in image["faces"]] == ["Ada", "Ada"]


def test_recognize_searches_every_dataset_given_and_keeps_what_it_saw_in_home(tmp_path, photos, fake_models):
    from recops.cli.porcelain import app as porcelain
    from recops.stages.chain import Chain
    from recops.stages.detection import DetectOptions, FaceDetection
    from recops.stages.embedding import EmbedOptions, FaceEmbedding
    from recops.stages.importing import Importer
    from recops.stream import Emitter

    home, shard = str(tmp_path / "home.rx"), str(tmp_path / "shard.rx")
    for root in (home, shard):
        create_dataset(root, detector="fake", model="Fake", threshold=1000).close()
    with Dataset.open(shard) as dataset:
        imported = []
        with Importer(dataset, Emitter(imported.append)) as importer:
            importer.add_arguments([str(photos / "img1.jpg"), str(photos / "img2.jpg")])
        chain = Chain()
        chain.add(lambda e: FaceDetection(e, DetectOptions("fake"), dataset))
        chain.add(lambda e: FaceEmbedding(e, EmbedOptions("Fake"), dataset))
        stored = {r["id"] for r in chain.run(imported) if r["type"] == "face"}
        shard_id = dataset.config.id
    recognised = runner.invoke(porcelain, ["recognize", str(photos / "img0.jpg"), "-d", home, "-d", shard])
    assert recognised.exit_code == 0, recognised.stderr
    matches = [r for r in jsonl(recognised.stdout.encode()) if r["type"] == "match"]
    assert {m["candidate"] for m in matches} == stored and {m["candidate_dataset"] for m in matches} == {shard_id}
    assert [m["gallery"] for m in matches] == [2, 2]
    with Dataset.open(home) as dataset:
        assert sorted(r["type"] for r in dataset.log("matches").records()) == ["match", "match", "recognition"]


def test_the_merge_passes_records_once_drops_late_answers_and_reports_bad_input():
    from recops.match_merge import MatchMerge, MergeOptions
    from recops.stream import BadInput, Emitter

    def match(query, candidate, distance, dataset, gallery):
        return {
            "type": "match",
            "query": hexid(query),
            "candidate": hexid(candidate),
            "candidate_dataset": hexid(dataset, "d"),
            "distance": distance,
            "threshold": 0.5,
            "fmr": 0.001,
            "gallery": gallery,
            "rank": 1,
        }

    face = {"type": "face", "id": hexid(1), "image": hexid(1, "a"), "box": [0, 0, 4, 4]}
    answers = [
        face,
        match(1, 20, 0.3, 2, 300),
        match(1, 10, 0.2, 1, 100),
        match(1, 11, 0.2, 1, 100),
        match(1, 21, 0.6, 2, 300),  # over the threshold
        {**face, "ts": "later"},
        BadInput("line 7", "not JSON"),
    ]
    out = []
    emitter = Emitter(out.append)
    MatchMerge(emitter, MergeOptions(maximum=2)).run(answers)
    ranked = [(r["candidate"], r["rank"], r["gallery"], r["expected_false"]) for r in out if r["type"] == "match"]
    # without searched records, the gallery is summed over the datasets the candidates came from
    assert ranked == [(hexid(10), 1, 400, 0.4), (hexid(11), 2, 400, 0.4)]
    assert [r["type"] for r in out].count("face") == 1 and emitter.failures == 1
    searched = {"type": "searched", "query": hexid(1), "datasets": [hexid(1, "d")], "gallery": 100, "threshold": 0.5}
    out.clear()
    late = [match(1, 10, 0.2, 1, 100), searched, match(1, 12, 0.1, 1, 100), {**searched, "ts": "retried"}]
    MatchMerge(Emitter(out.append), MergeOptions(shards=1)).run(late)
    assert [(r["type"], r.get("candidate")) for r in out] == [("match", hexid(10)), ("searched", None)]


def test_rx_dataset_names_several_datasets_as_path_does(split):
    env = {"RX_DATASET": f"{split['home']}:{split['s2']}"}
    result = runner.invoke(match_cli.app, ["--threshold", "2", "--searched"], input=query_stream(), env=env)
    assert result.exit_code == 0, result.stderr
    assert {r["gallery"] for r in jsonl(result.stdout.encode()) if r["type"] == "searched"} >= {FACES // 2}
    assert {len(r["datasets"]) for r in jsonl(result.stdout.encode()) if r["type"] == "searched"} == {2}
