"""What comes from outside (a synced copy, a record stream, a config) is checked at the door:
each attack of issue 14, tried as an attacker would, and refused or flagged."""

import datetime
import hashlib
import json
import os
import shutil
import stat

import msgpack
import numpy as np
import pytest
from conftest import jsonl, make_jpeg, run

from recops.datasets import create_dataset
from recops.logs import EMBEDDINGS
from recops.records import timestamp
from recops.store.dataset import Dataset
from recops.store.segments import encode_segment, segment_name
from recops.store.tree import ForeignEntry, Tree

FACE, IMAGE = "f" * 32, "a" * 32


def tree_digest(folder) -> str:
    """Every name, mode and byte under a folder (links as links): what an attack must not change."""
    digest = hashlib.sha256()
    for directory, subdirs, files in os.walk(folder):
        subdirs.sort()
        for name in sorted(subdirs + files):
            path = os.path.join(directory, name)
            info = os.lstat(path)
            digest.update(f"{os.path.relpath(path, folder)} {info.st_mode}\n".encode())
            if stat.S_ISREG(info.st_mode):
                digest.update(open(path, "rb").read())
    return digest.hexdigest()


def imported(tmp_path, name, photos):
    root = tmp_path / name
    result = run(["rx-import", "-d", str(root), *map(str, photos)])
    assert result.returncode == 0, result.stderr.decode()
    return root, jsonl(result.stdout)


@pytest.fixture
def two(tmp_path, photos):
    """Two datasets side by side: the victim's photos must survive whatever the other holds."""
    victim, _ = imported(tmp_path, "victim.rx", [photos / "img0.jpg", photos / "img1.jpg"])
    attacked, records = imported(tmp_path, "attacked.rx", [photos / "pic0.png"])
    return victim, attacked, records


def plant_link(folder, name, target):
    path = folder / name
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    os.symlink(target, path)


def test_a_linked_objects_folder_is_refused_and_gc_keeps_the_other_datasets_photos(two):
    victim, attacked, _ = two
    before = tree_digest(victim)
    fan = next(p.name for p in (victim / "objects").iterdir())
    plant_link(attacked / "objects", fan, victim / "objects" / fan)
    gc = run(["rx-gc", "-d", str(attacked)])
    assert gc.returncode == 3 and b"symbolic link" in gc.stderr
    listed = run(["rx-ls", "images", "-d", str(attacked)])
    assert listed.returncode == 3 and f"objects/{fan}".encode() in listed.stderr and b"rx-fsck" in listed.stderr
    checked = run(["rx-fsck", "-d", str(attacked)])
    assert checked.returncode == 5
    assert [e["kind"] for e in jsonl(checked.stdout) if e["type"] == "error"] == ["symlink"]
    assert tree_digest(victim) == before


@pytest.mark.parametrize("folder", ["objects/ab", "records/images", "cache", "cache/index"])
def test_nothing_is_written_or_read_through_a_link_on_the_way(tmp_path, folder):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_bytes(b"mine")
    tree = Tree(str(tmp_path / "ds"))
    os.makedirs(tmp_path / "ds" / os.path.dirname(folder), exist_ok=True)
    os.symlink(outside, tmp_path / "ds" / folder)
    with pytest.raises(ForeignEntry, match="symbolic link"):
        tree.write(f"{folder}/new", b"data")
    with pytest.raises(ForeignEntry, match="symbolic link"):
        tree.read(f"{folder}/keep", 100)
    with pytest.raises(ForeignEntry, match="symbolic link"):
        tree.remove(f"{folder}/keep")
    assert sorted(os.listdir(outside)) == ["keep"] and (outside / "keep").read_bytes() == b"mine"


def test_a_lock_link_creates_nothing_and_the_dataset_is_refused(tmp_path, photos):
    root, _ = imported(tmp_path, "case.rx", [photos / "img0.jpg"])
    (root / "lock").unlink()
    os.symlink(tmp_path / "created-by-lock", root / "lock")
    result = run(["rx-import", "-d", str(root), str(photos / "img1.jpg")])
    assert result.returncode == 3 and b"lock" in result.stderr
    assert not os.path.lexists(tmp_path / "created-by-lock")


def _segment_name() -> str:
    return segment_name(b"x")


@pytest.mark.parametrize("where", ["records/images", "objects"])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero-link", "sparse"])
def test_special_and_huge_files_never_hang_a_reader(tmp_path, photos, where, kind):
    root, records = imported(tmp_path, "case.rx", [photos / "img0.jpg"])
    if where == "objects":
        fan = root / "objects" / "ee"
        fan.mkdir(exist_ok=True)
        path = fan / ("e" * 30)
    else:
        path = root / where / _segment_name()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero-link":
        os.symlink("/dev/zero", path)
    else:
        with open(path, "wb") as handle:
            handle.truncate(1 << 43)  # 8 TiB of nothing
    listed = run(["rx-ls", "images", "-d", str(root)])
    assert listed.returncode == 0 and [r["id"] for r in jsonl(listed.stdout)] == [records[0]["id"]]
    checked = run(["rx-fsck", "-d", str(root)])
    errors = [r for r in jsonl(checked.stdout) if r["type"] == "error"]
    assert checked.returncode == 5, checked.stderr.decode()
    assert [e["kind"] for e in errors] == [
        {"fifo": "special-file", "dev-zero-link": "symlink", "sparse": "oversized"}[kind]
    ]
    assert errors[0]["input"] == str(path)


def test_leftovers_of_an_interrupted_sync_are_warned_removed_and_never_copied(tmp_path, photos):
    a, _ = imported(tmp_path, "a.rx", [photos / "img0.jpg"])
    b, _ = imported(tmp_path, "b.rx", [photos / "img1.jpg"])
    fan = next((a / "objects").iterdir())
    (fan / ".2d71aa.7OrAfb").write_bytes(b"half a photo")
    (a / "records" / "images" / f".{_segment_name()}.Xy12Ab").write_bytes(b"half a segment")
    checked = run(["rx-fsck", "-d", str(a)])
    assert checked.returncode == 0
    assert sorted(r["kind"] for r in jsonl(checked.stdout) if r["type"] == "warning") == ["sync-leftover"] * 2
    synced = run_script("recops-sync", a, b)
    assert synced.returncode == 0, synced.stderr.decode()
    assert not [n for _, _, files in os.walk(b) for n in files if n.startswith(".")]
    assert run(["rx-fsck", "-d", str(b)]).returncode == 0
    gc = run(["rx-gc", "-d", str(a)])
    assert gc.returncode == 0 and jsonl(gc.stdout)[0]["temp_files"] == 2
    assert not [r for r in jsonl(run(["rx-fsck", "-d", str(a)]).stdout) if r["type"] == "warning"]


def run_script(name, *args):
    import subprocess

    from conftest import REPO, tool

    env = {**os.environ, "PATH": f"{os.path.dirname(tool('rx-import'))}:{os.environ['PATH']}"}
    return subprocess.run([os.path.join(REPO, "bin", name), *map(str, args)], capture_output=True, env=env, timeout=300)


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_sync_refuses_a_copy_holding_a_link_or_a_special_file(tmp_path, photos, kind):
    a, _ = imported(tmp_path, "a.rx", [photos / "img0.jpg"])
    b, _ = imported(tmp_path, "b.rx", [photos / "img1.jpg"])
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "diary.txt").write_text("private")
    if kind == "symlink":
        os.symlink(secret, a / "objects" / "c0")
    else:
        os.mkfifo(a / "records" / "images" / _segment_name())
    before = tree_digest(b)
    synced = run_script("recops-sync", a, b)
    assert synced.returncode == 1 and b"nothing was copied" in synced.stderr
    assert tree_digest(b) == before


def store_segment(root, records):
    data = encode_segment(records)
    folder = root / "records" / EMBEDDINGS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / segment_name(data)).write_bytes(data)


def embedding(n, vector, model="Dlib"):
    return {
        "type": "embedding",
        "face": f"{n:032x}",
        "image": f"{n + 1000:032x}",
        "model": model,
        "vector": np.asarray(vector, np.float32).astype("<f4").tobytes(),
        "ts": timestamp(),
    }


def test_a_bad_embedding_that_arrived_by_sync_breaks_nothing(tmp_path):
    root = tmp_path / "case.rx"
    create_dataset(str(root)).close()
    rng = np.random.default_rng(1)
    good = [embedding(n, rng.normal(size=128)) for n in range(20)]
    store_segment(root, [embedding(99, rng.normal(size=127))] + good)
    for tool in (["rx-index"], ["rx-cluster"], ["rx-review", "propose"]):
        result = run([*tool, "-d", str(root)])
        assert result.returncode == 0, (tool, result.stderr.decode())
    vector = np.frombuffer(good[3]["vector"], "<f4").tolist()
    query = {"type": "embedding", "face": FACE, "image": IMAGE, "model": "Dlib", "vector": vector}
    matched = run(["rx-match", "-d", str(root)], input=json.dumps(query).encode() + b"\n")
    assert matched.returncode == 0, matched.stderr.decode()
    assert [r["candidate"] for r in jsonl(matched.stdout) if r["type"] == "match"][0] == good[3]["face"]
    checked = run(["rx-fsck", "-d", str(root)])
    assert checked.returncode == 5
    (error,) = [r for r in jsonl(checked.stdout) if r["type"] == "error"]
    assert error["kind"] == "invalid-record" and "127" in error["reason"]


@pytest.mark.parametrize(
    "vector",
    [[0.1] * 127, [float("nan")] + [0.1] * 127, [float("inf")] + [0.1] * 127],
    ids=["127-floats", "nan", "inf"],
)
@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_bad_vectors_are_refused_at_the_door(tmp_path, photos, vector, fmt):
    root, records = imported(tmp_path, "case.rx", [photos / "img0.jpg"])
    face = {"type": "face", "id": FACE, "image": records[0]["id"], "box": [10, 10, 40, 40], "dataset": str(root)}
    bad = {"type": "embedding", "face": FACE, "image": records[0]["id"], "model": "Dlib", "vector": vector}
    if fmt == "json":
        stream = b"".join(json.dumps(r).encode() + b"\n" for r in (face, bad))  # NaN written as NaN
    else:
        packed = {**bad, "vector": np.asarray(vector, "<f4").tobytes()}
        stream = msgpack.packb(face) + msgpack.packb(packed)
    result = run(["rx-embed", "-d", str(root), "-j", "1"], input=stream)
    assert result.returncode == 1 and b"internal error" not in result.stderr, result.stderr.decode()
    with Dataset.open(str(root)) as ds:
        stored = list(ds.log(EMBEDDINGS).records())
    assert all(
        len(np.frombuffer(r["vector"], "<f4")) == 128 and np.isfinite(np.frombuffer(r["vector"], "<f4")).all()
        for r in stored
    ), "a bad vector was stored"
    assert run(["rx-index", "-d", str(root)]).returncode == 0
    assert run(["rx-fsck", "-d", str(root)]).returncode == 0


def test_a_nan_query_matches_nothing_and_nan_thresholds_are_refused(tmp_path):
    root = tmp_path / "case.rx"
    create_dataset(str(root)).close()
    store_segment(root, [embedding(n, np.random.default_rng(n).normal(size=128)) for n in range(10)])
    query = json.dumps({"type": "embedding", "face": FACE, "image": IMAGE, "model": "Dlib", "vector": [0.0] * 128})
    zero = run(["rx-match", "-d", str(root)], input=query.encode() + b"\n")
    assert zero.returncode == 0 and not [r for r in jsonl(zero.stdout) if r["type"] == "match"]
    nan = run(["rx-match", "-d", str(root)], input=query.replace("0.0", "NaN", 1).encode() + b"\n")
    assert nan.returncode == 1 and not [r for r in jsonl(nan.stdout) if r["type"] == "match"]
    for value in ("nan", "inf", "-1"):
        refused = run(["rx-match", "-d", str(root), "--threshold", value], input=query.encode() + b"\n")
        assert refused.returncode == 2 and b"distance" in refused.stderr, value
        assert run(["rx-init", str(root), "--threshold", value]).returncode == 2
    json.loads((root / "recops.json").read_text())


def test_an_id_is_never_a_path(tmp_path, photos):
    root, _ = imported(tmp_path, "case.rx", [photos / "img0.jpg"])
    outside = tmp_path / "x"
    outside.mkdir()
    (outside / "photo").write_bytes(make_jpeg(7))
    escape = os.path.relpath(outside / "photo", root / "objects")
    record = {"type": "image", "id": escape.replace(os.sep, "/"), "dataset": str(root)}
    result = run(["rx-detect", "-d", str(root)], input=json.dumps(record).encode() + b"\n")
    (error,) = jsonl(result.stdout)
    assert result.returncode == 1 and error["kind"] == "malformed-input" and "32 hex" in error["reason"]
    assert not (root / "records" / "detections").exists()


STREAM_TOOLS = [
    ["rx-detect"],
    ["rx-embed"],
    ["rx-match"],
    ["rx-analyze", "--no-race"],
    ["rx-enrol", "--identity", "X"],
    ["rx-report", "-o", "{out}/r.html"],
    ["rx-identity", "link", "X"],
    ["rx-delete"],
    ["rx-import"],
]


def hostile_streams():
    good = json.dumps({"type": "note", "n": 1}).encode() + b"\n"
    deep = b'{"type":"x","v":' + b"[" * 1000 + b"]" * 1000 + b"}\n"
    packed_good = msgpack.packb({"type": "note", "n": 1})
    return {
        "json-1000-deep": (deep + good, 1),
        "json-nan-literal": (
            b'{"type":"face","id":"'
            + FACE.encode()
            + b'","image":"'
            + IMAGE.encode()
            + b'","box":[NaN,1,2,3]}\n'
            + good,
            1,
        ),
        "json-not-utf8": (b'{"type":"x","v":"\xff\xfe"}\n' + good, 1),
        "msgpack-cut-short": (packed_good + msgpack.packb({"type": "note", "n": 2, "pad": "y" * 100})[:-20], 1),
        "msgpack-timestamp": (
            msgpack.packb({"type": "note", "when": datetime.datetime.now(datetime.timezone.utc)}, datetime=True)
            + packed_good,
            1,
        ),
        "msgpack-ext": (msgpack.packb({"type": "note", "x": msgpack.ExtType(5, b"zz")}) + packed_good, 1),
        "msgpack-bytes-key": (msgpack.packb({"type": "note", b"k": 1}) + packed_good, 1),
        "msgpack-deep": (msgpack.packb({"type": "note", "v": json.loads("[" * 500 + "]" * 500)}) + packed_good, 1),
    }


@pytest.mark.parametrize("name", sorted(hostile_streams()))
@pytest.mark.parametrize("tool", STREAM_TOOLS, ids=lambda t: t[0])
def test_hostile_streams_are_error_records_and_the_run_goes_on(tmp_path, name, tool):
    root = tmp_path / "case.rx"
    create_dataset(str(root)).close()
    stream, failures = hostile_streams()[name]
    args = [a.replace("{out}", str(tmp_path)) for a in tool]
    if tool[0] == "rx-identity":
        assert run(["rx-identity", "create", "X", "-d", str(root)]).returncode == 0
    result = run([*args, "-d", str(root)], input=stream)
    assert result.returncode == 1, (name, result.returncode, result.stderr.decode())
    assert b"internal error" not in result.stderr
    if tool[0] not in ("rx-report", "rx-identity", "rx-delete"):
        records = jsonl(result.stdout)
        assert sum(r["type"] == "error" for r in records) == failures, records
        if name != "msgpack-cut-short":
            assert any(r.get("type") == "note" for r in records), f"{name}: the record after it was lost"


@pytest.mark.parametrize(
    "field,value",
    [
        ("threshold", "0.5"),
        ("threshold", float("nan")),
        ("threshold", -1),
        ("metric", "bogus"),
        ("model", "../../x"),
        ("detector", 7),
        ("flip", "yes"),
        ("id", "not-hex"),
    ],
)
def test_a_config_from_outside_is_checked_field_by_field(dataset, field, value):
    path = dataset / "recops.json"
    data = json.loads(path.read_text())
    data[field] = value
    os.chmod(path, 0o600)
    path.write_text(json.dumps(data))
    result = run(["rx-ls", "images", "-d", str(dataset)])
    assert result.returncode == 3 and f"invalid config: {field} must be".encode() in result.stderr, result.stderr


def test_a_bad_max_pixels_setting_is_a_clear_error(tmp_path, photos):
    result = run(["rx-import", "-d", str(tmp_path / "c.rx"), str(photos / "img0.jpg")], env={"RX_MAX_PIXELS": "abc"})
    assert result.returncode == 2 and b"RX_MAX_PIXELS" in result.stderr


@pytest.mark.parametrize(
    "record",
    [
        {"type": "match", "query": FACE, "candidate": IMAGE, "distance": "far"},
        {"type": "match", "query": FACE, "candidate": IMAGE, "rank": "first"},
        {"type": "image", "id": IMAGE, "paths": [1, 2]},
        {"type": "image", "id": IMAGE, "width": "wide"},
        {"type": "face", "id": FACE, "image": IMAGE, "box": [1, 2, 30, 40], "landmarks": "eyes"},
        {"type": "face", "id": FACE, "image": IMAGE, "box": [1, 2, 30, 40], "confidence": "high"},
        {"type": "attribute", "face": FACE, "age": "old"},
        {"type": "attribute", "face": FACE, "emotion": {"happy": "very"}},
        {"type": "cluster", "faces": [FACE], "label": "one"},
        {"type": "verification", "boxes": [[1, 2, 3, 4]], "distance": "near"},
    ],
    ids=lambda r: (
        f"{r['type']}-{sorted(set(r) - {'type', 'id', 'face', 'query', 'candidate', 'image', 'box', 'faces'})}"
    ),
)
def test_a_report_refuses_wrongly_typed_fields(tmp_path, record):
    result = run(["rx-report", "-o", str(tmp_path / "r.html")], input=json.dumps(record).encode() + b"\n")
    assert result.returncode == 1 and b"internal error" not in result.stderr, result.stderr.decode()
    assert any(r["type"] == "error" and r["kind"] == "malformed-input" for r in jsonl(result.stdout))


# Every folder of a dataset, with a name recops would use there.
PLACES = {
    "top": ("", "cache"),
    "objects": ("objects", "c0"),
    "fan": ("objects/{fan}", "0" * 30),
    "records": ("records", "faces"),
    "log": ("records/images", "{segment}"),
    "cache": ("cache", "index"),
    "index": ("cache/index", "Dlib.angular.meta"),
    "thumbs": ("cache/thumbs/faces", "f" * 32 + ".jpg"),
}
KINDS = ["link-to-folder", "link-to-file", "fifo", "device"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("place", sorted(PLACES))
def test_links_and_special_files_anywhere_are_never_followed_or_opened(tmp_path, photos, place, kind):
    """The attack matrix: each kind of entry in each folder, then every tool that walks a dataset."""
    if kind == "device" and os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    root, records = imported(tmp_path, "case.rx", [photos / "img0.jpg"])
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"SECRET-" * 10)
    before = tree_digest(outside)
    folder, name = PLACES[place]
    folder = folder.format(fan=records[0]["id"][:2])
    name = name.format(segment=_segment_name())
    (root / folder).mkdir(parents=True, exist_ok=True)
    path = root / folder / name
    if path.is_dir():
        shutil.rmtree(path)
    if kind == "link-to-folder":
        os.symlink(outside, path)
    elif kind == "link-to-file":
        os.symlink(outside / "secret.txt", path)
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
    codes = {}
    for name_, args in {
        "fsck": ["rx-fsck"],
        "ls": ["rx-ls", "images"],
        "import": ["rx-import", str(photos / "img1.jpg")],
        "index": ["rx-index"],
        "gc": ["rx-gc"],
        "backup": ["recops", "backup", "-o", str(tmp_path / "b.zip")],
    }.items():
        result = run([*args, "-d", str(root)])
        assert b"internal error" not in result.stderr, (name_, result.stderr.decode())
        codes[name_] = result.returncode
    still_there = os.path.lexists(path) and not stat.S_ISREG(os.lstat(path).st_mode)  # rx-index replaces its meta
    assert codes["fsck"] == 5 and set(codes.values()) <= {0, 1, 3, 5}, codes
    assert codes["gc"] in (3, 5) or not still_there, codes
    assert tree_digest(outside) == before
    if (tmp_path / "b.zip").exists():
        assert b"SECRET-" not in (tmp_path / "b.zip").read_bytes()
