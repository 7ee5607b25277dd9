"""The real models on real photos, through the real tools and pipes: the product itself."""

import os

import msgpack
import numpy as np
import pytest
from conftest import SHARED_FACES, jsonl, run, shared_photo, tool
from PIL import Image

pytestmark = pytest.mark.slow


def pipeline(command: str, cwd) -> tuple[int, bytes, bytes]:
    import subprocess

    bin_dir = os.path.dirname(tool("rx-detect"))
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"],
        cwd=cwd,
        capture_output=True,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        timeout=600,
    )
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def recognised(tmp_path_factory, real_photos):
    """obama, biden and the group photo through rx-import | rx-detect | rx-embed into a dataset."""
    work = tmp_path_factory.mktemp("real")
    folders = (
        " ".join(f"'{os.path.join(real_photos, p)}'" for p in ("obama", "biden"))
        if os.path.isdir(os.path.join(real_photos, "obama"))
        else f"'{real_photos}'"
    )
    group = os.path.join(SHARED_FACES, "group", "t1.jpg")
    extra = f" '{group}'" if os.path.exists(group) else ""
    code, out, err = pipeline(f"rx-import -d case.rx {folders}{extra} | rx-detect | rx-embed", work)
    assert code == 0, err.decode()
    return work, jsonl(out)


def by_name(records):
    names = {r["id"]: os.path.basename(r["paths"][0]) for r in records if r["type"] == "image"}
    faces = {}
    for r in records:
        if r["type"] == "embedding":
            faces.setdefault(names[r["image"]], []).append(np.asarray(r["vector"], dtype=np.float32))
    return faces


def test_one_face_per_portrait_and_several_in_the_group(recognised):
    _, records = recognised
    faces = by_name(records)
    portraits = [n for n in faces if n.startswith(("obama", "biden"))]
    assert len(portraits) >= 6 and all(len(faces[n]) == 1 for n in portraits)
    if "t1.jpg" in faces:
        assert len(faces["t1.jpg"]) >= 5
    detections = [r for r in records if r["type"] == "detection"]
    assert all(r["detector"] == "dlib" for r in detections)
    face = next(r for r in records if r["type"] == "face")
    assert set(face["landmarks"]) >= {"left_eye", "right_eye", "dlib5"} and len(face["box"]) == 4


def test_same_person_is_closer_than_different_people(recognised):
    faces = by_name(recognised[1])
    obama = [v[0] for n, v in faces.items() if n.startswith("obama")]
    biden = [v[0] for n, v in faces.items() if n.startswith("biden")]
    same = max(np.linalg.norm(a - b) for a in obama for b in obama)
    different = min(np.linalg.norm(a - b) for a in obama for b in biden)
    assert same < 0.6 < different  # dlib's own threshold for its 128-d vectors


def test_a_rerun_reuses_everything_and_matches(recognised):
    work, first = recognised
    code, out, err = pipeline("rx-ls images -d case.rx | rx-detect | rx-embed -f msgpack", work)
    assert code == 0, err.decode()
    again = list(msgpack.Unpacker(__import__("io").BytesIO(out), raw=False))
    vectors = {r["face"]: np.frombuffer(r["vector"], "<f4") for r in again if r["type"] == "embedding"}
    assert {
        r["face"]: np.asarray(r["vector"], np.float32) for r in first if r["type"] == "embedding"
    }.keys() == vectors.keys()
    for r in first:
        if r["type"] == "embedding":
            assert np.array_equal(np.asarray(r["vector"], np.float32), vectors[r["face"]])


def test_pure_filter_without_a_dataset(real_photos, tmp_path):
    photo = next(os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in sorted(fs) if f.startswith("biden"))
    code, out, err = pipeline(f"rx-detect '{photo}' | rx-embed", tmp_path)
    assert code == 0, err.decode()
    records = jsonl(out)
    assert [r["type"] for r in records] == ["image", "face", "embedding", "detection"]
    assert records[1]["path"] == photo and os.listdir(tmp_path) == []


def test_a_model_without_weights_names_the_file_and_what_works(tmp_path, real_photos):
    result = run(["rx-detect", "--detector", "retinaface", real_photos], cwd=tmp_path)
    message = result.stderr.decode()
    assert result.returncode == 4 and result.stdout == b""
    assert "retinaface" in message and ".deepface/weights/retinaface" in message and "rx-models add" in message
    assert "usable face_detector models here:" in message and "dlib" in message
    embed = run(["rx-embed", "--model", "ArcFace"], input=b"", cwd=tmp_path)
    assert embed.returncode == 4 and b"arcface_weights" in embed.stderr


def test_other_detectors_with_real_weights_run_too(real_photos, tmp_path):
    photo = next(os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in sorted(fs) if f.startswith("obama"))
    for detector in ("ssd", "opencv"):
        result = run(["rx-detect", "--detector", detector, photo], cwd=tmp_path)
        assert result.returncode == 0, result.stderr.decode()
        (detection,) = [r for r in jsonl(result.stdout) if r["type"] == "detection"]
        assert detection["count"] >= 1 and detection["detector"] == detector


def test_index_then_match_finds_the_same_person(recognised, real_photos):
    work, _ = recognised
    code, out, err = pipeline("rx-index -d case.rx", work)
    assert code == 0, err.decode()
    (index,) = jsonl(out)
    assert index["type"] == "index" and index["count"] >= 7 and os.path.exists(index["file"])
    probe = next(os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in sorted(fs) if f == "obama2.jpg")
    code, out, err = pipeline(f"rx-detect -d case.rx '{probe}' | rx-embed | rx-match --maximum 3", work)
    assert code == 0, err.decode()
    records = jsonl(out)
    names = {r["id"]: os.path.basename(r["paths"][0]) for r in jsonl(pipeline("rx-ls -d case.rx", work)[1])}
    matches = [r for r in records if r["type"] == "match"]
    assert matches and [m["rank"] for m in matches] == list(range(1, len(matches) + 1))
    assert all(names[m["candidate_image"]].startswith("obama") for m in matches)
    assert all(m["candidate_image"] != m["query_image"] and m["distance"] <= m["threshold"] for m in matches)


def test_recognize_keeps_the_query_out_of_the_gallery(recognised, real_photos, tmp_path):
    work, _ = recognised
    probe = next(os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in sorted(fs) if f == "biden.jpg")
    copy = tmp_path / "unseen.jpg"
    with open(probe, "rb") as source:
        copy.write_bytes(source.read() + b"\0")  # new bytes: a photo the dataset has not seen
    code, out, err = pipeline(f"recops recognize -d ./case.rx '{copy}'", work)
    assert code == 0, err.decode()
    records = jsonl(out)
    (image,) = [r for r in records if r["type"] == "image"]
    assert image["query"] is True
    assert any(r["type"] == "match" for r in records)
    stored = jsonl(pipeline("rx-ls images -d case.rx", work)[1])
    assert [i["query"] for i in stored if i["id"] == image["id"]] == [True]
    code, out, _ = pipeline(f"rx-detect -d case.rx '{probe}' | rx-embed | rx-match", work)
    assert image["id"] not in {m["candidate_image"] for m in jsonl(out) if m["type"] == "match"}


def test_verify_two_photos(real_photos, tmp_path):
    def find(name):
        return shared_photo(
            next((os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in fs if f == name), None), name
        )

    same = jsonl(run(["rx-verify", find("obama.jpg"), find("obama2.jpg")]).stdout)[0]
    other = run(["rx-verify", find("obama.jpg"), find("biden.jpg")])
    assert same["verified"] is True and same["distance"] <= same["threshold"]
    assert jsonl(other.stdout)[0]["verified"] is False and other.returncode == 0
    group = os.path.join(SHARED_FACES, "group", "t1.jpg")
    if os.path.exists(group):
        many = run(["rx-verify", group, find("obama.jpg")])
        assert many.returncode == 1 and b"faces found" in many.stderr
        assert jsonl(many.stdout)[0]["kind"] == "not-one-face"


def test_verify_chooses_among_several_faces_when_told_and_names_them(real_photos, tmp_path):
    def find(name):
        return shared_photo(
            next((os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in fs if f == name), None), name
        )

    obama, biden = (Image.open(find(name)).convert("RGB") for name in ("obama.jpg", "biden.jpg"))
    biden = biden.resize((biden.width // 2, biden.height // 2))
    pair = Image.new("RGB", (obama.width + biden.width, max(obama.height, biden.height)), "white")
    pair.paste(obama, (0, 0))
    pair.paste(biden, (obama.width, 0))
    both = str(tmp_path / "both.jpg")
    pair.save(both, quality=95)
    strict = run(["rx-verify", both, find("obama2.jpg")])
    assert strict.returncode == 1 and b"--faces" in strict.stderr
    (closest,) = jsonl(run(["rx-verify", both, find("obama2.jpg"), "--faces", "closest"]).stdout)
    assert closest["verified"] and closest["faces_found"] == [2, 1] and closest["compared"] == "closest"
    assert closest["boxes"][0][2] <= obama.width  # Obama's face, on the left
    (largest,) = jsonl(run(["rx-verify", both, find("obama2.jpg"), "--faces", "largest"]).stdout)
    assert largest["boxes"] == closest["boxes"]
    every = jsonl(run(["rx-verify", both, find("biden2.jpg"), "--faces", "every"]).stdout)
    assert [r["verified"] for r in sorted(every, key=lambda r: r["boxes"][0][0])] == [False, True]


def test_flip_averages_with_the_mirror_image(real_photos, tmp_path):
    photo = next(os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in sorted(fs) if f == "obama.jpg")
    vectors = {}
    for flag in ("--no-flip", "--flip"):
        code, out, err = pipeline(f"rx-detect '{photo}' | rx-embed {flag}", tmp_path)
        assert code == 0, err.decode()
        (embedding,) = [r for r in jsonl(out) if r["type"] == "embedding"]
        vectors[flag] = (np.asarray(embedding["vector"]), embedding["model_version"])
    plain, mirrored = vectors["--no-flip"], vectors["--flip"]
    assert mirrored[1] == plain[1] + "+flip"
    assert 0 < np.linalg.norm(plain[0] - mirrored[0]) < 0.2


def test_recognize_writes_its_records_to_a_file(recognised, real_photos, tmp_path):
    work, _ = recognised
    probe = next(os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in sorted(fs) if f == "obama2.jpg")
    code, out, err = pipeline(f"recops recognize -d ./case.rx '{probe}' -o '{tmp_path / 'seen.jsonl'}'", work)
    assert code == 0 and out == b"", err.decode()
    written = jsonl((tmp_path / "seen.jsonl").read_bytes())
    assert {"image", "face", "embedding", "match"} <= {r["type"] for r in written}
