"""Every photo format recops reads, on real face photos each test makes: import, detect and embed
with the real models; EXIF orientation; the pages of a TIFF, down to the crops each consumer
makes; and what is refused (truncated, corrupt, bombs, videos) at import."""

import io
import json
import os
import re
import struct
import threading
import zipfile
import zlib
from base64 import b64decode

import numpy as np
import pytest
from conftest import jsonl, run
from PIL import Image

from recops.crops import crop
from recops.datasets import create_dataset
from recops.errors import InputError
from recops.imageinfo import inspect
from recops.pixels import Picture, load_rgb
from recops.stages.detection import DetectOptions, FaceDetection, face_id
from recops.stages.embedding import EmbedOptions, FaceEmbedding
from recops.stages.importing import Importer
from recops.store.dataset import Dataset
from recops.stream import Emitter

pytestmark = pytest.mark.slow
SIDE = 640
"""The photos are made this tall: big enough for dlib's HOG, small enough to be quick."""


def heif_encoder() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()


def encode(image: Image.Image, kind: str, **save) -> bytes:
    """`image` as a file of `kind`, as a camera, a browser or a scanner would write it."""
    heif_encoder()
    out = io.BytesIO()
    options = {
        "jpeg": ("JPEG", {"quality": 95}),
        "png": ("PNG", {}),
        "webp": ("WEBP", {"quality": 95}),
        "heic": ("HEIF", {"quality": 95}),
        "avif": ("AVIF", {"quality": 95}),
        "tiff": ("TIFF", {"compression": "tiff_deflate"}),
        "gif": ("GIF", {}),
        "bmp": ("BMP", {}),
    }[kind]
    # a copy: Pillow keeps a save's options on the image, and the next save would inherit them
    image.copy().save(out, options[0], **{**options[1], **save})
    return out.getvalue()


def photo_of(real_photos: str, name: str) -> Image.Image:
    path = next(os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in sorted(fs) if f == name)
    image = Image.open(path).convert("RGB")
    return image.resize((round(image.width * SIDE / image.height), SIDE), Image.LANCZOS)


def exif_of(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def turned(image: Image.Image, orientation: int) -> Image.Image:
    """What a camera stores for a picture it shows upright under EXIF `orientation` (6 or 8)."""
    return image.transpose(Image.Transpose.ROTATE_90 if orientation == 6 else Image.Transpose.ROTATE_270)


def pipeline(root: str, paths: list[str]) -> list[dict]:
    """rx-import | rx-detect | rx-embed in this process, with the dataset's real models."""
    imported, detected, embedded = [], [], []
    with Dataset.open(root) as dataset:
        with Importer(dataset, Emitter(imported.append)) as importer:
            importer.add_arguments(paths)
        FaceDetection(Emitter(detected.append), DetectOptions("dlib"), dataset).run(imported)
        FaceEmbedding(Emitter(embedded.append), EmbedOptions("Dlib"), dataset).run(detected)
    return embedded


def cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return 1.0 - float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def overlap(a, b) -> float:
    """Intersection over union of two boxes."""
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def likeness(a: np.ndarray, b: np.ndarray) -> float:
    """Mean difference of two pictures brought to 32x32 grey: small for the same face."""
    small = [np.asarray(Image.fromarray(np.asarray(p)).convert("L").resize((32, 32)), np.float64) for p in (a, b)]
    return float(np.abs(small[0] - small[1]).mean())


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


FORMATS = ["png", "webp", "heic", "avif", "tiff", "gif", "bmp"]
TURNED = [(kind, orientation) for kind in ("webp", "tiff", "heic", "avif") for orientation in (6, 8)]


@pytest.fixture(scope="module")
def case(tmp_path_factory, real_photos):
    """One dataset holding Obama's portrait in every format and turned under EXIF 6 and 8, and a
    three-page scan (Obama, a blank page, Biden), all through the real pipeline."""
    folder = tmp_path_factory.mktemp("formats")
    obama, biden = photo_of(real_photos, "obama.jpg"), photo_of(real_photos, "biden.jpg")
    files = {"original.jpg": encode(obama, "jpeg"), "biden.jpg": encode(biden, "jpeg")}
    files.update({f"obama.{kind}": encode(obama, kind) for kind in FORMATS})
    for kind, orientation in TURNED:
        files[f"turned{orientation}.{kind}"] = encode(turned(obama, orientation), kind, exif=exif_of(orientation))
    blank = Image.new("RGB", (480, 640), (235, 235, 230))
    files["scan.tif"] = encode(obama, "tiff", save_all=True, append_images=[blank, biden])
    for name, data in files.items():
        (folder / name).write_bytes(data)
    root = str(folder / "case.rx")
    create_dataset(root).close()
    records = pipeline(root, [str(folder / name) for name in files])
    assert not [r for r in records if r["type"] == "error"], [r for r in records if r["type"] == "error"]
    names = {r["id"]: os.path.basename(r["paths"][0]) for r in records if r["type"] == "image"}
    by_name: dict[str, dict] = {name: {"faces": [], "embeddings": []} for name in files}
    for record in records:
        if record["type"] == "image":
            by_name[names[record["id"]]]["image"] = record
        elif record["type"] in ("face", "embedding"):
            by_name[names[record["image"]]][record["type"] + "s"].append(record)
    return {"root": root, "folder": folder, "files": by_name, "obama": obama, "biden": biden}


@pytest.mark.parametrize("kind", FORMATS)
def test_every_format_finds_the_face_and_embeds_it_as_the_jpeg_original(case, kind):
    original, found = case["files"]["original.jpg"], case["files"][f"obama.{kind}"]
    assert found["image"]["media_type"] == {"tiff": "image/tiff", "heic": "image/heic"}.get(kind, f"image/{kind}")
    assert (found["image"]["width"], found["image"]["height"]) == case["obama"].size
    (face,), (embedding,) = found["faces"], found["embeddings"]
    assert overlap(face["box"], original["faces"][0]["box"]) > 0.8 and "page" not in face
    assert cosine(embedding["vector"], original["embeddings"][0]["vector"]) < 0.03


@pytest.mark.parametrize("kind,orientation", TURNED)
def test_exif_orientation_turns_each_format_upright_once(case, kind, orientation):
    """The pixels are stored on their side; the face is found upright, its box in the picture as
    shown. A HEIC holds its turn twice (irot and the EXIF orientation, as an iPhone writes it):
    it is turned once."""
    original, found = case["files"]["original.jpg"], case["files"][f"turned{orientation}.{kind}"]
    image = found["image"]
    assert (image["width"], image["height"]) == case["obama"].size and image["orientation"] == orientation
    (face,), (embedding,) = found["faces"], found["embeddings"]
    assert 0 <= face["box"][0] < face["box"][2] <= image["width"] and face["box"][3] <= image["height"]
    assert overlap(face["box"], original["faces"][0]["box"]) > 0.8
    assert cosine(embedding["vector"], original["embeddings"][0]["vector"]) < 0.03


def test_a_heic_that_says_its_turn_twice_holds_it_in_irot_and_exif(case):
    """What the test above relies on: the file really carries both (a reader applying each would turn it twice)."""
    data = (case["folder"] / "turned6.heic").read_bytes()
    assert b"irot" in data
    at = data.index(b"MM\x00*") if b"MM\x00*" in data else data.index(b"II*\x00")
    exif = Image.Exif()
    exif.load(data[at : at + 512])
    assert exif.get(0x0112) == 6


def test_every_page_of_a_tiff_is_searched_and_each_face_names_its_page(case):
    scan, obama, biden = (case["files"][n] for n in ("scan.tif", "original.jpg", "biden.jpg"))
    assert scan["image"]["pages"] == 3 and "pages" not in obama["image"]
    first, last = sorted(scan["faces"], key=lambda f: f.get("page", 0))
    assert "page" not in first and last["page"] == 2
    assert first["id"] == face_id(scan["image"]["id"], "dlib", True, first["box"])
    assert last["id"] == face_id(scan["image"]["id"], "dlib", True, last["box"], Picture(page=2))
    assert last["id"] != face_id(scan["image"]["id"], "dlib", True, last["box"])
    vectors = {e["face"]: e["vector"] for e in scan["embeddings"]}
    assert cosine(vectors[first["id"]], obama["embeddings"][0]["vector"]) < 0.03
    assert cosine(vectors[last["id"]], biden["embeddings"][0]["vector"]) < 0.03
    with Dataset.open(case["root"]) as dataset:
        (detection,) = [r for r in dataset.log("detections").records() if r["image"] == scan["image"]["id"]]
    assert detection["count"] == 2 and set(detection["faces"]) == {first["id"], last["id"]}


def page_face(case) -> tuple[dict, np.ndarray, np.ndarray]:
    """The scan's face on page 2, what its crop must look like (Biden's) and must not (Obama's)."""
    face = next(f for f in case["files"]["scan.tif"]["faces"] if f.get("page") == 2)
    right = crop(np.asarray(case["biden"]), face["box"], max_side=None)
    wrong = crop(np.asarray(case["obama"]), face["box"], max_side=None)
    assert likeness(right, wrong) > 20
    return face, right, wrong


def test_the_crops_of_a_face_on_a_later_page_show_that_page(case, tmp_path):
    from recops.clustering.folders import write_folders
    from recops.export import export
    from recops.report import ReportOptions, report_stream
    from recops.webui.thumbs import Thumbnails

    face, right, wrong = page_face(case)
    crops = {}
    crops["web interface"] = decoded(Thumbnails(case["root"]).face(face, case["files"]["scan.tif"]["faces"]))
    with Dataset.open(case["root"]) as dataset:
        export(dataset, str(tmp_path / "export.zip"))
        write_folders(dataset, [{"label": 0, "faces": [face["id"]]}], str(tmp_path / "clusters"), Emitter(print))
    with zipfile.ZipFile(tmp_path / "export.zip") as archive:
        crops["export"] = decoded(archive.read(f"faces/{face['id']}.jpg"))
    crops["cluster folders"] = decoded((tmp_path / "clusters" / "cluster-0" / f"{face['id']}.jpg").read_bytes())
    scan = case["files"]["scan.tif"]
    report = str(tmp_path / "report.html")
    report_stream(iter([scan["image"], *scan["faces"]]), case["root"], report, Emitter(print), ReportOptions())
    html = open(report, encoding="utf-8").read()
    assert "scan.tif, page 3" in html and "scan.tif, page 1" in html
    uri = re.search(rf'src="data:image/jpeg;base64,([^"]+)" alt="face {face["id"]}"', html).group(1)
    crops["report"] = decoded(b64decode(uri))
    for consumer, made in crops.items():
        assert likeness(made, right) < 12 < likeness(made, wrong), consumer


def test_the_web_interface_shows_the_page_a_face_is_on(case):
    import http.client

    from recops.webui import make_server, url_of
    from recops.webui.sites import Sites, site_key

    face, _, _ = page_face(case)
    image = case["files"]["scan.tif"]["image"]["id"]
    server, _ = make_server(Sites(dataset=case["root"]), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"/d/{site_key(case['root'])}"

    def get(path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(url_of(server).split("//")[1].rstrip("/"), timeout=30)
        connection.request("GET", base + path)
        response = connection.getresponse()
        return response.status, response.read()

    try:
        status, page = get(f"/images/{image}?page=3")
        assert status == 200 and b"scan.tif, page 3" in page and face["id"].encode() in page
        assert f"thumbs/views/{image}.jpg?page=3".encode() in page and b"3 pages" in page
        status, first = get(f"/images/{image}")
        assert status == 200 and face["id"].encode() not in first
        status, view = get(f"/thumbs/views/{image}.jpg?page=3")
        assert status == 200 and likeness(decoded(view), np.asarray(case["biden"])) < 12
        assert get(f"/thumbs/views/{image}.jpg?page=4")[0] == 404 and get(f"/images/{image}?page=4")[0] == 404
        status, face_page = get(f"/faces/{face['id']}")
        assert status == 200 and b"page 3" in face_page and f"{image}.jpg?page=3".encode() in face_page
    finally:
        server.shutdown()
        server.server_close()


# -- what is refused at import


def cut(data: bytes, at: int, garbage: bytes) -> bytes:
    return data[:at] + garbage + data[at + len(garbage) :]


def corrupted(kind: str, data: bytes) -> bytes:
    """A file whose structure its decoder refuses (a flipped bit in a lossy picture is no error
    anyone can see)."""
    if kind == "webp":  # the VP8 frame's header
        return cut(data, data.index(b"VP8 ") + 8, bytes(16))
    if kind in ("heic", "avif"):  # where the picture's bytes are
        return cut(data, data.index(b"iloc") + 4, b"\xaa" * 16)
    if kind == "tiff":  # the zlib header of the first strip, right after the file's header
        assert data[8] == 0x78
        return cut(data, 8, bytes(8))
    if kind == "gif":  # the LZW stream
        middle = len(data) // 2
        return cut(data, middle, bytes(255 - b for b in data[middle : middle + 200]))
    return cut(data, 28, struct.pack("<H", 7))  # a BMP of 7 bits per pixel


@pytest.fixture(scope="module")
def small_face(real_photos) -> Image.Image:
    return photo_of(real_photos, "obama.jpg").resize((240, 320))


@pytest.mark.parametrize("kind", ["webp", "heic", "avif", "tiff", "gif", "bmp"])
def test_truncated_and_corrupt_files_are_refused_at_import(kind, small_face, tmp_path):
    data = encode(small_face, kind)
    (tmp_path / f"truncated.{kind}").write_bytes(data[: len(data) * 2 // 3])
    (tmp_path / f"corrupt.{kind}").write_bytes(corrupted(kind, data))
    (tmp_path / f"whole.{kind}").write_bytes(data)
    result = run(["rx-import"] + [str(tmp_path / f"{n}.{kind}") for n in ("truncated", "corrupt", "whole")])
    records = jsonl(result.stdout)
    errors = {os.path.basename(r["input"]): r for r in records if r["type"] == "error"}
    assert errors[f"truncated.{kind}"]["kind"] == "truncated" and errors[f"corrupt.{kind}"]["kind"] == "corrupt"
    assert all(e["reason"] in result.stderr.decode() for e in errors.values())
    assert [r["paths"][0] for r in records if r["type"] == "image"] == [str(tmp_path / f"whole.{kind}")]
    assert result.returncode == 1


def tiff_tag(data: bytes, tag: int, value: int) -> bytes:
    """A little-endian TIFF with one SHORT or LONG tag of its first directory set to `value`."""
    at = int.from_bytes(data[4:8], "little")
    for entry in range(at + 2, at + 2 + 12 * int.from_bytes(data[at : at + 2], "little"), 12):
        if int.from_bytes(data[entry : entry + 2], "little") == tag:
            short = int.from_bytes(data[entry + 2 : entry + 4], "little") == 3
            return cut(data, entry + 8, struct.pack("<HH", value, 0) if short else struct.pack("<I", value))
    raise AssertionError(f"no tag {tag}")


def claiming(kind: str, data: bytes, width: int, height: int) -> bytes:
    """The file with a header that claims `width` x `height` pixels."""
    if kind == "webp":  # the VP8 key frame's 14-bit sizes
        return cut(data, data.index(b"VP8 ") + 14, struct.pack("<HH", width, height))
    if kind in ("heic", "avif"):  # the image spatial extents property
        return cut(data, data.index(b"ispe") + 8, struct.pack(">II", width, height))
    if kind == "tiff":
        return tiff_tag(tiff_tag(data, 256, width), 257, height)
    if kind == "gif":  # the logical screen
        return cut(data, 6, struct.pack("<HH", width, height))
    if kind == "bmp":
        return cut(data, 18, struct.pack("<ii", width, height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return cut(data, 8, struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header)))


@pytest.mark.parametrize("kind", ["webp", "heic", "avif", "tiff", "gif", "bmp", "png"])
def test_a_header_claiming_too_many_pixels_is_refused_before_decoding(kind, small_face):
    """16000 x 16000 (256 million pixels) over a file that holds a 256 x 256 picture: were it
    decoded first, the decoder would fail on the missing data, not on the size."""
    data = encode(small_face.crop((0, 0, 256, 256)), kind)
    assert inspect(data).width == 256
    with pytest.raises(InputError) as refused:
        inspect(claiming(kind, data, 16000 if kind != "webp" else 16383, 16000 if kind != "webp" else 16383))
    assert refused.value.kind == "too-many-pixels" and "header claims" in refused.value.reason


def test_a_tiff_of_too_many_pages_or_too_many_pixels_in_all_is_refused(small_face):
    pages = [small_face.resize((8, 8)).convert("L")] * 1001
    many = encode(pages[0], "tiff", save_all=True, append_images=pages[1:])
    with pytest.raises(InputError) as refused:
        inspect(many)
    assert refused.value.kind == "too-many-pages"
    thirty = encode(pages[0], "tiff", save_all=True, append_images=pages[1:30])
    assert inspect(thirty).pages == 30
    with pytest.raises(InputError) as refused:
        inspect(thirty, max_pixels=100)  # each page is within it, the thirty together not within 10 times
    assert refused.value.kind == "too-many-pixels" and "pages hold" in refused.value.reason


def test_a_tiff_cut_inside_its_last_directory_is_truncated_not_fewer_pages(small_face):
    data = encode(small_face, "tiff", save_all=True, append_images=[small_face, small_face])
    with pytest.raises(InputError) as refused:
        inspect(data[: len(data) - 8])
    assert refused.value.kind == "truncated"


def test_videos_are_told_by_their_first_bytes_and_kept_as_videos(tmp_path):
    import cv2

    for name, fourcc in (("clip.mp4", "mp4v"), ("clip.mov", "mp4v"), ("clip.avi", "MJPG"), ("clip.mkv", "XVID")):
        writer = cv2.VideoWriter(str(tmp_path / name), cv2.VideoWriter_fourcc(*fourcc), 5, (64, 48))
        for frame in range(5):
            writer.write(np.full((48, 64, 3), frame * 40, np.uint8))
        writer.release()
    result = run(["rx-import", str(tmp_path)])
    types = {os.path.basename(r["path"]): r["media_type"] for r in jsonl(result.stdout) if r["type"] == "image"}
    assert types == {
        "clip.mp4": "video/mp4",
        "clip.mov": "video/quicktime",
        "clip.avi": "video/x-msvideo",
        "clip.mkv": "video/x-matroska",
    }
    assert result.returncode == 0


# -- every mode to 8-bit RGB


def test_16_bit_colour_tiff_is_scaled_to_8_bits(tmp_path):
    import cv2

    values = np.zeros((4, 6, 3), np.uint16)
    values[..., 2] = 65535  # OpenCV writes BGR: red
    values[:, :3, 1] = 32768
    cv2.imwrite(str(tmp_path / "deep.tif"), values)
    data = (tmp_path / "deep.tif").read_bytes()
    assert inspect(data).media_type == "image/tiff"
    pixels, _ = load_rgb(data)
    assert pixels.dtype == np.uint8 and pixels[0, 0].tolist() == [255, 128, 0] and pixels[0, 5].tolist() == [255, 0, 0]


@pytest.mark.parametrize(
    "kind,mode", [("tiff", "CMYK"), ("tiff", "1"), ("tiff", "I;16"), ("webp", "RGBA"), ("gif", "P")]
)
def test_every_mode_of_the_new_formats_becomes_8_bit_rgb(kind, mode):
    image = Image.new(mode, (7, 5))
    save = {"transparency": 0} if mode == "P" else {}
    pixels, _ = load_rgb(encode(image, kind, **save))
    assert pixels.shape == (5, 7, 3) and pixels.dtype == np.uint8
    if mode in ("RGBA", "P"):  # transparent, laid on white
        assert pixels.min() >= 250


def test_a_page_past_the_last_is_an_input_error(small_face):
    with pytest.raises(InputError) as refused:
        load_rgb(encode(small_face, "tiff"), picture=Picture(page=1))
    assert refused.value.kind == "no-such-page"


def test_pictures_are_named_by_the_fields_of_a_face_record():
    assert Picture.of({"box": [0, 0, 1, 1]}) == Picture.of({"page": 0}) == Picture()
    assert Picture.of({"page": 2}).fields == {"page": 2} and Picture().fields == {}
    assert Picture(page=2).label() == "page 3" and Picture().label() == "" and Picture().label(pages=3) == "page 1"
    assert json.dumps(Picture(page=2).fields) == '{"page": 2}'
