"""The detect and embed stages with deterministic fake models: records, memo, order, errors."""

import numpy as np
import pytest
from conftest import make_jpeg
from PIL import Image

from recops.datasets import create_dataset
from recops.stages.detection import DetectOptions, FaceDetection, Search
from recops.stages.embedding import EmbedOptions, FaceEmbedding
from recops.stages.importing import Importer
from recops.store.dataset import Dataset
from recops.stream import BadInput, Emitter
from recops.vectors import as_vector


def flat_png(path, size=(40, 30)):
    Image.new("RGB", size, (10, 20, 30)).save(path, "PNG")


def imported(ds, paths):
    records = []
    with Importer(ds, Emitter(records.append)) as importer:
        importer.add_arguments([str(p) for p in paths])
    return records


def detect(ds, items, workers=1, force=False, **options):
    out = []
    emitter = Emitter(out.append)
    FaceDetection(emitter, DetectOptions("fake", **options), ds, workers, force).run(items)
    return out, emitter


def embed(ds, items, workers=1, force=False):
    out = []
    emitter = Emitter(out.append)
    FaceEmbedding(emitter, EmbedOptions("Fake"), ds, workers, force).run(items)
    return out, emitter


@pytest.fixture
def ds(tmp_path):
    root = tmp_path / "case.rx"
    create_dataset(str(root), detector="dlib").close()
    with Dataset.open(str(root)) as dataset:
        yield dataset


def test_each_image_passes_on_with_its_faces_and_a_detection(ds, photos, fake_models):
    flat_png(photos / "z-flat.png")
    images = imported(ds, sorted(photos.iterdir()))
    out, emitter = detect(ds, images)
    types = [r["type"] for r in out]
    assert types[:3] == ["image", "face", "detection"]
    (flat_id,) = [r["id"] for r in images if r["paths"][0].endswith("z-flat.png")]
    (flat,) = [r for r in out if r["type"] == "detection" and r["image"] == flat_id]
    assert flat["count"] == 0 and flat["faces"] == []
    face = next(r for r in out if r["type"] == "face")
    assert face["box"] == [16, 12, 48, 36] and face["detector"] == "fake" and face["aligned"] is True
    assert face["dataset"] == ds.root and emitter.failures == 0


def test_detection_is_stored_and_reused_unless_forced(ds, photos, fake_models, monkeypatch):
    images = imported(ds, sorted(photos.iterdir()))
    first, _ = detect(ds, images)
    calls = []
    monkeypatch.setattr("recops.stages.detection.search_faces", lambda *a: calls.append(a) or Search([]))
    again, _ = detect(ds, images)
    assert again == first and calls == []
    forced, _ = detect(ds, images, force=True)
    assert len(calls) == len(images) and [r for r in forced if r["type"] == "face"] == []


def test_face_ids_are_stable_across_datasets(tmp_path, photos, fake_models):
    ids = []
    for name in ("a.rx", "b.rx"):
        create_dataset(str(tmp_path / name)).close()
        with Dataset.open(str(tmp_path / name)) as ds:
            out, _ = detect(ds, imported(ds, [photos / "img0.jpg"]))
            ids.append([r["id"] for r in out if r["type"] == "face"])
    assert ids[0] == ids[1] and len(ids[0]) == 1


def test_paths_and_foreign_records_are_imported_first_and_others_pass(ds, photos, fake_models):
    items = [str(photos / "img0.jpg"), {"type": "note"}, BadInput("x", "broken line"), str(photos / "missing.jpg")]
    out, emitter = detect(ds, items)
    assert [r["type"] for r in out] == ["image", "face", "detection", "note", "error", "error"]
    assert out[0]["dataset"] == ds.root
    assert emitter.failures == 2


def test_workers_keep_input_order(ds, tmp_path, fake_models):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        (folder / f"{i:02d}.jpg").write_bytes(make_jpeg(200 + i))
    images = imported(ds, sorted(folder.iterdir()))
    out, _ = detect(ds, images, workers=3)
    assert [r["id"] for r in out if r["type"] == "image"] == [r["id"] for r in images]


def test_unreadable_pixels_are_an_error_for_that_image_only(ds, photos, fake_models):
    images = imported(ds, [photos / "img0.jpg", photos / "img1.jpg"])
    broken = dict(images[0], dataset=None, id="0" * 32, paths=["/nonexistent.jpg"])
    out, emitter = detect(None, [broken, images[1]])
    assert [r["type"] for r in out] == ["image", "error", "image", "face", "detection"]
    assert out[1]["kind"] == "no-pixels" and emitter.failures == 1


def test_min_size_and_downscaled_search_map_boxes_to_full_size(ds, tmp_path, fake_models):
    big = tmp_path / "big.jpg"
    big.write_bytes(make_jpeg(3, size=(800, 600)))
    images = imported(ds, [big])
    out, _ = detect(ds, images, max_side=200)
    (face,) = [r for r in out if r["type"] == "face"]
    assert face["box"] == [200, 148, 600, 448]  # found at 1/4 scale: (50, 37, 150, 112)
    none, _ = detect(None, images, min_size=500)
    assert [r["count"] for r in none if r["type"] == "detection"] == [0]


def test_exif_orientation_gives_boxes_in_upright_pixels(ds, tmp_path, fake_models):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "turned.jpg"
    path.write_bytes(make_jpeg(4, size=(80, 40), exif=exif.tobytes()))
    out, _ = detect(ds, imported(ds, [path]))
    (face,) = [r for r in out if r["type"] == "face"]
    assert face["box"] == [10, 20, 30, 60]  # the upright image is 40 wide, 80 tall


def test_embeddings_follow_their_faces_and_are_reused(ds, photos, fake_models, monkeypatch):
    detected, _ = detect(ds, imported(ds, sorted(photos.iterdir())))
    out, emitter = embed(ds, detected)
    types = [r["type"] for r in out]
    assert types[:4] == ["image", "face", "embedding", "detection"]
    embedding = out[2]
    assert embedding["face"] == out[1]["id"] and embedding["model"] == "Fake" and embedding["dim"] == 4
    assert as_vector(embedding["vector"]).shape == (4,)
    calls = []
    monkeypatch.setattr("recops.stages.embedding.embed_faces", lambda *a: calls.append(a))
    again, _ = embed(ds, detected)
    assert calls == [] and [r["type"] for r in again] == types
    assert np.array_equal(as_vector(again[2]["vector"]), as_vector(embedding["vector"]))


def test_an_embedding_that_follows_its_face_is_kept_not_computed_again(tmp_path, photos, fake_models, monkeypatch):
    """What another host embedded comes home: stored as it came, each face once with its vector."""
    from recops.logs import EMBEDDINGS

    detected, _ = detect(None, [str(p) for p in sorted(photos.iterdir())])
    remote, _ = embed(None, detected)
    create_dataset(str(tmp_path / "home.rx"), detector="fake", model="Fake").close()
    calls = []
    monkeypatch.setattr("recops.stages.embedding.embed_faces", lambda *a: calls.append(a))
    with Dataset.open(str(tmp_path / "home.rx")) as home:
        out, emitter = embed(home, remote)
        home.flush()
        stored = [r for r in home.log(EMBEDDINGS).records() if r["type"] == "embedding"]
    assert calls == [] and emitter.failures == 0
    assert [r["type"] for r in out] == [r["type"] for r in remote]
    assert len(stored) == sum(r["type"] == "embedding" for r in remote) > 0
    for came, kept in zip([r for r in remote if r["type"] == "embedding"], stored):
        assert came["face"] == kept["face"] and np.array_equal(as_vector(came["vector"]), as_vector(kept["vector"]))


def test_embedding_without_a_dataset_reads_the_original_file(photos, fake_models):
    detected, _ = detect(None, imported(None, [photos / "img2.jpg"]))
    face = next(r for r in detected if r["type"] == "face")
    assert face["path"] == str(photos / "img2.jpg") and "dataset" not in face
    out, emitter = embed(None, detected, workers=2)
    assert [r["type"] for r in out] == ["image", "face", "embedding", "detection"] and emitter.failures == 0


def test_a_face_that_cannot_be_embedded_is_an_error_and_the_rest_go_on(photos, fake_models):
    detected, _ = detect(None, imported(None, [photos / "img0.jpg", photos / "img1.jpg"]))
    faces = [r for r in detected if r["type"] == "face"]
    lost = dict(faces[0], path="/gone.jpg")
    out, emitter = embed(None, [lost, faces[1]])
    assert [r["type"] for r in out] == ["face", "error", "face", "embedding"] and emitter.failures == 1


def test_big_faces_in_big_photos_are_embedded_from_a_smaller_decode(tmp_path, fake_models):
    big = tmp_path / "big.jpg"
    big.write_bytes(make_jpeg(5, size=(1600, 1200)))
    detected, _ = detect(None, imported(None, [big]))
    (face,) = [r for r in detected if r["type"] == "face"]
    assert face["box"] == [400, 300, 1200, 900]
    out, _ = embed(None, detected)
    (embedding,) = [r for r in out if r["type"] == "embedding"]
    assert as_vector(embedding["vector"])[3] == 400  # the box at half size: decoded at 1/2 scale


def test_mirror_averaging_embeds_each_crop_and_its_mirror():
    from recops.models.base import mean_with_mirror

    crops = [np.arange(12, dtype=np.float32).reshape(2, 2, 3)]

    def first_pixel(batch):
        return np.asarray([c[0, 0] for c in batch], np.float32)

    assert mean_with_mirror(first_pixel, crops, False).tolist() == [[0, 1, 2]]
    assert mean_with_mirror(first_pixel, crops, True).tolist() == [[1.5, 2.5, 3.5]]


def test_flip_is_fixed_at_creation(tmp_path, photos):
    from conftest import run

    root = str(tmp_path / "flip.rx")
    assert run(["rx-init", root, "--flip"]).returncode == 0
    refused = run(["rx-init", root, "--no-flip"])
    assert refused.returncode == 3 and b"flip setting" in refused.stderr
    mixed = run(["rx-embed", "-d", root, "--no-flip"], input=b"")
    assert mixed.returncode == 3 and b"--flip" in mixed.stderr


@pytest.mark.slow
def test_another_host_detects_and_embeds_shipped_images_and_the_results_come_home(tmp_path, real_photos):
    """DESIGN section 7: image bytes travel inline in msgpack, a host without the files (or the
    dataset) runs rx-detect | rx-embed, and its records are stored back into the dataset."""
    import io
    import os
    import shutil
    import subprocess

    import msgpack
    from conftest import jsonl, run, tool

    from recops.logs import EMBEDDINGS

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("obama.jpg", "biden.jpg"):
        shutil.copy(next(os.path.join(d, name) for d, _, fs in os.walk(real_photos) if name in fs), photos / name)
    home = tmp_path / "case.rx"
    shipped = run(["rx-import", "-d", str(home), "--inline", "-f", "msgpack", str(photos)]).stdout
    shutil.rmtree(photos)
    remote = tmp_path / "remote"
    remote.mkdir()
    away = tmp_path / "away"
    home.rename(away)  # the other host has neither the photos nor the dataset its records name
    detect = subprocess.run([tool("rx-detect"), "-f", "msgpack"], input=shipped, capture_output=True, cwd=remote)
    embedded = subprocess.run([tool("rx-embed"), "-f", "msgpack"], input=detect.stdout, capture_output=True, cwd=remote)
    away.rename(home)
    assert detect.returncode == embedded.returncode == 0, (detect.stderr + embedded.stderr).decode()
    assert os.listdir(remote) == []
    came = list(msgpack.Unpacker(io.BytesIO(embedded.stdout), raw=False))
    adopted = run(["rx-detect", "-d", str(home)], input=embedded.stdout)
    stored = run(["rx-embed", "-d", str(home)], input=adopted.stdout)
    vectors = [r["vector"] for r in jsonl(stored.stdout) if r["type"] == "embedding"]
    assert adopted.returncode == stored.returncode == 0 and len(vectors) == 2 and all(len(v) == 128 for v in vectors)
    again = run(["rx-detect", "-d", str(home)], input=embedded.stdout)  # a block a retry worked twice
    assert run(["rx-embed", "-d", str(home)], input=again.stdout).returncode == 0
    remote_faces = {(r["id"], r["ts"]) for r in came if r["type"] == "face"}
    listed = jsonl(run(["rx-ls", "faces", "-d", str(home), "-f", "json"]).stdout)
    assert {(r["id"], r["ts"]) for r in listed} == remote_faces and len(remote_faces) == 2  # stored as they came
    with Dataset.open(str(home)) as dataset:
        assert len([r for r in dataset.log(EMBEDDINGS).records() if r["type"] == "embedding"]) == 2
    matched = run(["rx-match", "-d", str(home)], input=stored.stdout)
    assert matched.returncode == 0


def test_a_detection_with_other_settings_replaces_the_faces_of_an_image(tmp_path, photos, fake_models):
    from recops.deletions import Deletions
    from recops.errors import InputError
    from recops.identities import IdentityEditor
    from recops.listing import list_kind
    from recops.stages.folder_imports import ImportOptions, import_images
    from recops.stages.matching import Matcher

    root = str(tmp_path / "fake.rx")
    create_dataset(root, detector="fake", model="Fake", threshold=1000.0).close()

    def run_import(**options):
        with Dataset.open(root) as dataset:
            import_images(dataset, str(photos), Emitter(lambda record: None), ImportOptions(**options))
            return [(f["aligned"], f["box"], f["identity"]) for f in list_kind(dataset, "faces")]

    assert [aligned for aligned, _, _ in run_import()] == [True] * 3  # the PNGs are flat: no face
    with Dataset.open(root) as dataset:
        first = sorted(list_kind(dataset, "faces"), key=lambda f: f["image"])[0]
        ada = IdentityEditor(dataset).create("Ada")
        IdentityEditor(dataset).link(first["id"], ada["id"])
    unaligned = run_import(align=False, force=True)
    assert len(unaligned) == 3, "a re-detection doubled the faces of every photo"
    assert {aligned for aligned, _, _ in unaligned} == {False}
    assert sum(identity == ada["id"] for _, _, identity in unaligned) == 1, "the link follows the face's box"
    with Dataset.open(root) as dataset:
        assert Deletions.of(dataset).hides(first["id"], first["image"])
        with pytest.raises(InputError, match="replaced"):
            IdentityEditor(dataset).link(first["id"], ada["id"])
        vector = np.zeros(4, np.float32)
        candidates = {m["candidate"] for m in Matcher(dataset).matches("0" * 32, "1" * 32, vector)}
        assert first["id"] not in candidates
    again = run_import()
    assert sorted(again, key=repr) == sorted(((True, box, identity) for _, box, identity in unaligned), key=repr), (
        "detecting with the first settings again brings back their faces, links and all"
    )


def scan_pages(path) -> None:
    """A three-page TIFF: a red page, a flat one (no face), a blue one, each with a speck so the
    fake detector finds a face in its middle; the pages are the same size, so their boxes are too."""
    pages = []
    for colour in ((200, 30, 30), (9, 9, 9), (30, 30, 200)):
        page = Image.new("RGB", (40, 30), colour)
        if colour != (9, 9, 9):
            page.putpixel((1, 1), (255, 255, 255))
        pages.append(page)
    pages[0].save(path, "TIFF", save_all=True, append_images=pages[1:])


def test_every_page_is_searched_and_each_face_embedded_from_its_own_page(ds, tmp_path, fake_models):
    from recops.faces import Detections
    from recops.pixels import Picture
    from recops.stages.detection import face_id

    scan_pages(tmp_path / "scan.tif")
    (image,) = imported(ds, [tmp_path / "scan.tif"])
    assert image["pages"] == 3
    out, _ = detect(ds, [image])
    first, last = [r for r in out if r["type"] == "face"]
    assert "page" not in first and last["page"] == 2 and first["box"] == last["box"]
    assert first["id"] == face_id(image["id"], "fake", True, first["box"])
    assert last["id"] == face_id(image["id"], "fake", True, last["box"], Picture(page=2)) != first["id"]
    (detection,) = [r for r in out if r["type"] == "detection"]
    assert detection["faces"] == [first["id"], last["id"]]
    vectors = {r["face"]: as_vector(r["vector"]) for r in embed(ds, out)[0] if r["type"] == "embedding"}
    assert vectors[first["id"]][:3].tolist() == pytest.approx([200, 30, 30], abs=2)
    assert vectors[last["id"]][:3].tolist() == pytest.approx([30, 30, 200], abs=2)
    again, _ = detect(ds, [image], align=False, force=True)
    (replacing,) = [r for r in again if r["type"] == "detection"]
    new_first, new_last = [r for r in again if r["type"] == "face"]
    assert replacing["replaces"] == {first["id"]: new_first["id"], last["id"]: new_last["id"]}
    assert Detections.of(ds).latest[image["id"]]["faces"] == [new_first["id"], new_last["id"]]
