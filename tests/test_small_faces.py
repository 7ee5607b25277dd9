"""Small faces: found in a second, enlarged search of large photos, at no cost to ordinary ones."""

import io
import math
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from recops import models, small_faces
from recops.small_faces import merged, overlap, tiles
from recops.stages.detection import DetectOptions, search_faces
from tests.conftest import SHARED_FACES, jsonl, run

pytestmark = pytest.mark.slow


class Counted:
    """The real dlib detector, counting its searches: whole photos and tiles."""

    name = "counted"

    def __init__(self):
        self.inner = models.get_detector("dlib")
        self.smallest = self.inner.smallest
        self.calls: list[tuple[str, tuple]] = []

    def detect(self, image):
        self.calls.append(("photo", image.shape[:2]))
        return self.inner.detect(image)

    def detect_tile(self, image):
        self.calls.append(("tile", image.shape[:2]))
        return self.inner.detect_tile(image)


@pytest.fixture
def counted():
    models.register_detector("counted", Counted)
    yield models.get_detector("counted")
    models._detector_factories.pop("counted", None)
    models._loaded.pop(("detector", "counted"), None)


def faces(search):
    return [face for _, face in search.faces]


def photo(real_photos: str, name: str) -> Image.Image:
    path = next(os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in sorted(fs) if f == name)
    return Image.open(path).convert("RGB")


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def face_of(image: Image.Image) -> Image.Image:
    """The face in a portrait, with a margin of half its box on every side, and its box's width."""
    (face,) = models.get_detector("dlib").detect(np.asarray(image))
    left, top, right, bottom = face.box
    margin = (right - left) // 2
    return image.crop((left - margin, top - margin, right + margin, bottom + margin)), right - left


def canvas_with(face: Image.Image, box_width: int, widths: list[int], size=(1600, 1200)):
    """A grey photo with the face pasted at each width (of its detector box); the true boxes."""
    canvas = Image.new("RGB", size, (128, 124, 120))
    truth = []
    for i, width in enumerate(widths):
        scale = width / box_width
        pasted = face.resize((round(face.width * scale), round(face.height * scale)), Image.LANCZOS)
        left, top = 150 + i * 400, 300 + (i % 2) * 400
        canvas.paste(pasted, (left, top))
        margin = round(box_width / 2 * scale)
        truth.append((left + margin, top + margin, left + margin + width, top + margin + width))
    return canvas, truth


def iou(a, b) -> float:
    across, down = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, across) * max(0, down)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_faces_24_pixels_wide_in_a_large_photo_are_found(real_photos, counted):
    face, width = face_of(photo(real_photos, "obama.jpg"))
    canvas, truth = canvas_with(face, width, [24, 32, 60])
    data = jpeg(canvas)
    first = search_faces(data, DetectOptions("counted", min_size=40))
    found = search_faces(data, DetectOptions("counted"))
    hits = [max(iou(face.box, true) for face in faces(found)) for true in truth]
    assert all(hit >= 0.4 for hit in hits), hits
    assert len(faces(found)) == 3 and found.smallest == 20 and first.smallest == 40
    # what the first search found keeps its box, hence its face id
    assert [f.box for f in faces(first)] == [f.box for f in faces(found)[: len(faces(first))]]
    # the 24-pixel face is the second search's, the 60-pixel one the first's
    methods = [max(faces(found), key=lambda f: iou(f.box, true)).method for true in truth]
    assert methods[0] == "hog-small" and methods[2] == "hog"
    assert all(f.quality["score"] < 0.4 for f in faces(found) if f.box[2] - f.box[0] < 30)


def test_an_ordinary_photo_costs_one_search(real_photos, counted):
    portrait = photo(real_photos, "biden.jpg")
    found = search_faces(jpeg(portrait), DetectOptions("counted"))
    assert len(faces(found)) == 1 and [kind for kind, _ in counted.calls] == ["photo"]
    assert found.smallest == math.ceil(40 * max(portrait.size) / min(1600, max(portrait.size)))


def test_a_large_photo_without_a_face_costs_the_candidates_and_few_small_windows(counted, monkeypatch):
    rng = np.random.default_rng(3)
    texture = sum(
        weight * cv2.resize(rng.normal(0, 1, (3 * cells // 4, cells, 3)).astype(np.float32), (4000, 3000))
        for cells, weight in ((8, 60), (40, 30), (200, 20))
    )
    data = jpeg(Image.fromarray(np.clip(texture + 120, 0, 255).astype(np.uint8)))
    looked = []
    candidates = small_faces.candidates
    monkeypatch.setattr(small_faces, "candidates", lambda *a: looked.append(a[0].shape) or candidates(*a))
    found = search_faces(data, DetectOptions("counted"))
    tile_calls = [shape for kind, shape in counted.calls if kind == "tile"]
    assert found.smallest == 20 and looked == [(3000, 4000, 3)]
    # the whole photo enlarged twice is 48 megapixels: the windows are a small part of it
    assert sum(h * w for h, w in tile_calls) < 0.05 * 6000 * 8000, tile_calls


def test_min_size_stops_the_small_face_search(real_photos, counted):
    face, width = face_of(photo(real_photos, "obama.jpg"))
    data = jpeg(canvas_with(face, width, [24, 32, 60])[0])
    above = search_faces(data, DetectOptions("counted", min_size=40))
    assert [kind for kind, _ in counted.calls] == ["photo"] and above.smallest == 40
    assert all(f.box[2] - f.box[0] >= 40 for f in faces(above))
    counted.calls.clear()
    between = search_faces(data, DetectOptions("counted", min_size=30))
    tile_calls = [shape for kind, shape in counted.calls if kind == "tile"]
    # enlarged so that HOG's 40 pixels are 30 of the photo: 4/3, not the default's 2
    assert tile_calls and max(h for h, _ in tile_calls) <= round(1200 * 4 / 3) and between.smallest == 30
    assert len(faces(between)) == 2 and all(f.box[2] - f.box[0] >= 30 for f in faces(between))


@pytest.mark.skipif(not os.path.isdir(SHARED_FACES), reason="needs ../shared/faces (the group photo)")
def test_the_group_photo_at_a_quarter_size():
    group = Image.open(os.path.join(SHARED_FACES, "group", "t1.jpg")).convert("RGB")
    full = faces(search_faces(jpeg(group), DetectOptions("dlib")))
    quarter = group.resize((group.width // 4, group.height // 4), Image.LANCZOS)
    found = faces(search_faces(jpeg(quarter), DetectOptions("dlib")))
    truth = [[v / 4 for v in f.box] for f in full]
    assert len(full) == 6
    assert sum(max(iou(f.box, true) for f in found) >= 0.4 for true in truth) >= 5


def test_tiles_cover_the_photo_and_hold_each_small_face_whole():
    for height, width, side, overlap_px in [(3000, 4000, 1536, 188), (222, 320, 1536, 188), (5000, 900, 700, 100)]:
        spans = list(tiles(height, width, side, overlap_px))
        assert all(r - l <= side and b - t <= side for l, t, r, b in spans)
        covered = np.zeros((height, width), bool)
        for l, t, r, b in spans:
            covered[t:b, l:r] = True
        assert covered.all()
        for x, y in [(0, 0), (width - overlap_px, height - overlap_px), (width // 2, height // 3)]:
            x, y = min(x, width - overlap_px), min(y, height - overlap_px)
            face = (x, y, x + overlap_px, y + overlap_px)
            assert any(l <= face[0] and t <= face[1] and face[2] <= r and face[3] <= b for l, t, r, b in spans)


def test_a_face_found_twice_is_kept_once_the_first_search_first():
    first = [models.FoundFace((100, 100, 160, 160), 0.5)]
    second = [
        models.FoundFace((102, 101, 161, 160), 2.0),  # the same face, seen again by the second search
        models.FoundFace((300, 300, 322, 322), 0.3),
        models.FoundFace((301, 300, 323, 322), 0.9),  # one face in two tiles: the more confident stays
    ]
    kept = merged(first, second)
    assert [f.box for f in kept] == [(100, 100, 160, 160), (301, 300, 323, 322)]
    assert overlap((0, 0, 10, 10), (20, 20, 30, 30)) == 0 and overlap((0, 0, 10, 10), (0, 0, 100, 100)) == 1


def test_force_adds_the_small_faces_to_a_dataset_keeping_the_faces_it_had(real_photos, tmp_path):
    face, width = face_of(photo(real_photos, "obama.jpg"))
    path = tmp_path / "crowd.jpg"
    path.write_bytes(jpeg(canvas_with(face, width, [24, 32, 60])[0]))
    dataset = str(tmp_path / "case.rx")
    assert run(["rx-init", dataset]).returncode == 0

    def detect(*flags):
        done = run(["rx-detect", "-d", dataset, *flags, str(path)])
        assert done.returncode == 0, done.stderr
        records = jsonl(done.stdout)
        return [r for r in records if r["type"] == "face"], next(r for r in records if r["type"] == "detection")

    before, first = detect("--min-size", "40")  # as a dataset searched without the second search
    again, reused = detect()
    assert again == before and reused["smallest"] == 40
    after, forced = detect("--force")
    assert forced["smallest"] == 20 and len(after) == 3 and "replaces" not in forced
    assert {f["id"] for f in before} < {f["id"] for f in after}
