"""rx-report without models: records made by hand over generated photos, rendered in-process and
through the real tool. The browser and the real models are in test_report_browser.py."""

import base64
import io
import json
import os
import re
import stat
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from conftest import jsonl, tool
from PIL import Image

from recops.clustering.history import cluster_record, new_run, store_run
from recops.datasets import create_dataset
from recops.errors import UsageError
from recops.identities import DEFAULT_COLOR, IdentityEditor
from recops.records import timestamp
from recops.report import ReportOptions, report_dataset, report_stream
from recops.report.context import UNKNOWN_COLOR
from recops.report.pictures import PAGE_SIDE
from recops.stages.importing import Importer
from recops.store.dataset import Dataset
from recops.stream import Emitter

BOX = [200, 150, 400, 390]


def hid(tag: str) -> str:
    """An id as records carry them (32 hex digits), readable in a failure: hid("q") = "71000..."."""
    return tag.encode().hex().ljust(32, "0")


I1, I2, Q, C, F0, F1, F2 = (hid(t) for t in ("i1", "i2", "q", "c", "f0", "f1", "f2"))
URL_ATTRIBUTES = {
    "src",
    "href",
    "xlink:href",
    "srcset",
    "action",
    "formaction",
    "poster",
    "data",
    "background",
    "cite",
    "longdesc",
    "manifest",
    "ping",
    "codebase",
    "usemap",
    "icon",
    "content",
}
ACTIVE_TAGS = {"script", "iframe", "frame", "object", "embed", "link", "base", "applet", "form"}


class _References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found, self._in_style = [], False

    def handle_starttag(self, tag, attrs):
        if tag in ACTIVE_TAGS:
            self.found.append(f"<{tag}>")
        self._in_style = tag == "style"
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.found.append(f"{name}=")
            elif name == "style":
                self.found += _css_references(value)
            elif name in URL_ATTRIBUTES and not (name == "content" and dict(attrs).get("http-equiv") != "refresh"):
                if not value.startswith(("data:", "#")):
                    self.found.append(value)

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.found += _css_references(data)


def _css_references(css: str) -> list[str]:
    found = [u for u in re.findall(r"url\(\s*['\"]?([^'\")]*)", css) if not u.startswith(("data:", "#"))]
    return found + ["@import"] * css.count("@import")


def outside_references(html: str) -> list[str]:
    """Everything in a page that could fetch or run something: addresses that are not data: URIs
    or #fragments (in attributes and CSS), scripts, frames, links, event handlers."""
    parser = _References()
    parser.feed(html)
    return parser.found


def write_photo(path, size=(800, 600), seed=0) -> str:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    pixels = np.stack([(x * 255 // size[0]), (y * 255 // size[1]), np.full_like(x, 40 + seed * 50)], -1)
    pixels = np.clip(pixels + rng.integers(-30, 30, pixels.shape), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=92)
    return str(path)


def image(id, path, size=(800, 600)) -> dict:
    return {
        "type": "image",
        "id": id,
        "size": 1,
        "media_type": "image/jpeg",
        "width": size[0],
        "height": size[1],
        "paths": [path],
        "consent": False,
    }


def face(id, image_id, path, box=BOX, **extra) -> dict:
    return {
        "type": "face",
        "id": id,
        "image": image_id,
        "box": box,
        "path": path,
        "detector": "fake",
        "confidence": 0.9,
        **extra,
    }


def match(query, candidate, identity=None, name=None, distance=0.03, rank=1) -> dict:
    return {
        "type": "match",
        "query": query[0],
        "query_image": query[1],
        "candidate": candidate[0],
        "candidate_image": candidate[1],
        "identity": identity,
        "identity_name": name,
        "distance": distance,
        "metric": "cosine",
        "threshold": 0.07,
        "rank": rank,
        "model": "Fake",
    }


@pytest.fixture
def two_photos(tmp_path):
    """A query photo (face q, unknown) matched to a photo whose face c is Ada's (a pink identity)."""
    query, gallery = write_photo(tmp_path / "query.jpg"), write_photo(tmp_path / "gallery.jpg", seed=1)
    ada = {"type": "identity", "id": "a" * 32, "name": "Ada", "description": "", "color": "#ff8800"}
    return [
        image(I1, query),
        face(Q, I1, query),
        image(I2, gallery),
        face(C, I2, gallery, [100, 100, 300, 340]),
        ada,
        match((Q, I1), (C, I2), ada["id"], "Ada"),
    ]


def render(records, tmp_path, name="report.html", dataset=None, **options):
    emitted = []
    output = str(tmp_path / name)
    report_stream(iter(records), dataset, output, Emitter(emitted.append), ReportOptions(**options))
    with open(output, encoding="utf-8") as handle:
        return handle.read(), emitted


def decoded(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/jpeg;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def photo_sources(html: str) -> list[str]:
    return re.findall(r'<div class="frame"><img src="([^"]+)"', html)


def test_a_recognize_report_is_one_file_that_fetches_nothing(two_photos, tmp_path):
    html, emitted = render(two_photos, tmp_path)
    assert outside_references(html) == [] and "<script" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert (
        len(photo_sources(html)) == 2 and html.count("data:image/jpeg;base64,") == 2 + 2 + 1
    )  # 2 photos, 2 crops, 1 match
    (record,) = emitted
    assert (
        record["type"] == "report" and record["kind"] == "recognize" and (record["images"], record["faces"]) == (2, 2)
    )
    assert stat.S_IMODE(os.stat(tmp_path / "report.html").st_mode) == 0o600


def test_boxes_are_drawn_in_the_photos_own_pixels_so_they_fit_any_scale(tmp_path):
    big = write_photo(tmp_path / "big.jpg", size=(3000, 2000))
    html, _ = render([image(I1, big, (3000, 2000)), face(F0, I1, big, [1500, 400, 1800, 800])], tmp_path)
    assert '<svg viewBox="0 0 3000 2000" preserveAspectRatio="none"' in html
    assert re.search(r'<rect x="1500.0" y="400.0" width="300.0" height="400.0" fill="none" stroke="#ff00ff"', html)
    (page,) = photo_sources(html)
    assert decoded(page).shape[:2] == (PAGE_SIDE * 2 // 3, PAGE_SIDE)


def test_a_face_takes_its_identitys_colour_and_a_face_of_nobody_the_unknown_one(two_photos, tmp_path):
    html, _ = render(two_photos, tmp_path)
    assert len(re.findall(r'<rect [^>]*stroke="#ff8800"', html)) == 2  # q matched Ada, c in the gallery photo is hers
    hostile = [
        {**r, "color": "red;background:url(https://example.org/x)"} if r["type"] == "identity" else r
        for r in two_photos
    ]
    html, _ = render(hostile, tmp_path)
    assert "example.org" not in html and f'stroke="{DEFAULT_COLOR}"' in html
    html, _ = render([r for r in two_photos if r["type"] != "match"], tmp_path)
    assert html.count(f'stroke="{UNKNOWN_COLOR}"') == 2


def test_names_paths_and_descriptions_from_outside_are_escaped(tmp_path):
    path = write_photo(tmp_path / "<img src=x onerror=alert(2)>.jpg")
    evil = {
        "type": "identity",
        "id": "e" * 32,
        "name": "<script>alert(1)</script>",
        "description": '"><svg onload=alert(3)>',
        "color": '"><script>alert(4)</script>',
    }
    records = [
        image(I1, path),
        face(Q, I1, path),
        face(C, I1, path, [500, 100, 600, 220]),
        evil,
        match((Q, I1), (C, I1), evil["id"], evil["name"]),
    ]
    html, _ = render(records, tmp_path, title="</title><script>alert(5)</script>")
    assert outside_references(html) == [] and "<script>" not in html and "<svg onload" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;.jpg" in html
    assert "&lt;/title&gt;&lt;script&gt;alert(5)" in html


def test_the_kind_is_told_by_the_records(two_photos, tmp_path):
    path = two_photos[0]["paths"][0]
    verification = {
        "type": "verification",
        "images": [path, path],
        "boxes": [BOX, BOX],
        "verified": True,
        "distance": 0.01,
        "threshold": 0.07,
        "metric": "cosine",
        "model": "Fake",
        "detector": "fake",
    }
    cluster = {
        "type": "cluster",
        "id": "c" * 32,
        "faces": [Q, C],
        "size": 2,
        "identity": None,
        "label": 0,
        "threshold": 0.1,
        "method": "test",
    }
    proposal = {
        "type": "proposal",
        "face": Q,
        "image": I1,
        "identity": "a" * 32,
        "identity_name": "Ada",
        "distance": 0.03,
        "threshold": 0.07,
        "metric": "cosine",
        "candidate": C,
        "candidate_image": I2,
    }
    for extra, kind in (
        ([], "recognize"),
        ([proposal], "match-faces"),
        ([cluster], "cluster"),
        ([verification], "verify"),
    ):
        html, emitted = render(two_photos + extra, tmp_path)
        assert emitted[-1]["kind"] == kind and outside_references(html) == []
    html, _ = render(two_photos + [verification], tmp_path)
    assert "Same person" in html and len(photo_sources(html)) == 2
    html, _ = render(two_photos + [cluster], tmp_path)
    assert 'id="cluster-' + "c" * 32 in html and html.count('class="crop"') == 2
    html, _ = render(two_photos + [proposal], tmp_path, kind="match-faces")
    assert len(photo_sources(html)) == 1 and html.count('class="crop"') == 2 and "Ada" in html


def test_blur_hides_the_faces_in_photos_and_crops_and_nothing_else(two_photos, tmp_path):
    import cv2

    def sharpness(pixels):
        return cv2.Laplacian(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()

    plain, _ = render(two_photos, tmp_path, name="plain.html")
    blurred, emitted = render(two_photos, tmp_path, name="blurred.html", blur=True)
    assert emitted[-1]["blurred"] and "blurred for sharing" in blurred
    before, after = decoded(photo_sources(plain)[0]), decoded(photo_sources(blurred)[0])
    l, t, r, b = BOX
    assert sharpness(after[t:b, l:r]) < sharpness(before[t:b, l:r]) / 10
    assert np.abs(after[500:, 500:].astype(int) - before[500:, 500:]).mean() < 3  # far from the face: as it was
    crops = re.findall(r'<img class="crop[^"]*" src="([^"]+)"', blurred)
    assert crops and all(sharpness(decoded(c)) < 20 for c in crops)


def test_json_holds_the_variables_without_pixels_and_csv_the_review_sheet(two_photos, tmp_path):
    _, emitted = render(two_photos, tmp_path, name="report.json")
    with open(tmp_path / "report.json") as handle:
        data = json.load(handle)
    assert emitted[-1]["format"] == "json" and "data:" not in json.dumps(data)
    (face,) = [f for entry in data["images"] for f in entry["faces"] if f["id"] == Q]
    assert face["box"] == BOX and face["identity"]["name"] == "Ada" and face["matches"][0]["distance"] == 0.03
    proposal = {
        "type": "proposal",
        "face": Q,
        "image": I1,
        "identity": "a" * 32,
        "identity_name": "Ada",
        "distance": 0.03,
        "threshold": 0.07,
        "metric": "cosine",
        "candidate": C,
        "candidate_image": I2,
    }
    render([proposal], tmp_path, name="review.csv")
    assert (tmp_path / "review.csv").read_text().splitlines() == [
        "face_id,identity_id,identity_name,distance,threshold,matched_face_id",
        f"{Q},{'a' * 32},Ada,0.03,0.07,{C}",
    ]
    with pytest.raises(UsageError, match="match-faces"):
        render(two_photos, tmp_path, name="report.csv")


def test_a_users_template_gets_the_same_variables_escaped_and_sandboxed(two_photos, tmp_path):
    mine = tmp_path / "mine.html.j2"
    mine.write_text(
        '{% extends "layout.html.j2" %}{% import "macros.html.j2" as m %}{% block content %}'
        '{% for e in images %}<p class="mine">{{ e.photo.name }}: {{ e.faces | length }}</p>'
        "{{ m.photo(e.photo) }}{% endfor %}{% endblock %}"
    )
    evil = [{**r, "paths": [r["paths"][0]], "id": r["id"]} if r["type"] == "image" else r for r in two_photos]
    html, _ = render(evil, tmp_path, template=str(mine), title="<b>case</b>")
    assert '<p class="mine">query.jpg: 1</p>' in html and "&lt;b&gt;case&lt;/b&gt;" in html
    assert outside_references(html) == [] and len(photo_sources(html)) == 2
    mine.write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(UsageError, match="unsafe|SecurityError"):
        render(two_photos, tmp_path, template=str(mine))
    mine.write_text("{% for %}")
    with pytest.raises(UsageError, match="line 1"):
        render(two_photos, tmp_path, template=str(mine))


def test_attributes_are_shown_with_their_warning(two_photos, tmp_path):
    html, _ = render(two_photos, tmp_path)
    assert "discriminatory" not in html
    attribute = {
        "type": "attribute",
        "face": Q,
        "image": I1,
        "age": 34.4,
        "dominant_gender": "Man",
        "gender": {"Man": 97.0, "Woman": 3.0},
        "dominant_emotion": "happy",
        "emotion": {"happy": 88.0},
    }
    html, _ = render(two_photos + [attribute], tmp_path)
    assert "discriminatory" in html and "<dd>34</dd>" in html and "<dd>Man 97%</dd>" in html
    assert "<dd>happy 88%</dd>" in html and "<dt>race</dt>" not in html
    carried = [
        {**r, "attributes": {"dominant_gender": "Woman", "gender": {"Woman": 91.0}, "warning": "weak!"}}
        if r["type"] == "match"
        else r
        for r in two_photos
    ]
    html, _ = render(carried, tmp_path)
    assert "<dd>Woman 91%</dd>" in html and "weak!" in html


def test_a_photo_without_pixels_is_an_error_and_the_rest_is_reported(two_photos, tmp_path):
    lost = [image(hid("gone"), "/nonexistent/lost.jpg"), face(hid("g"), hid("gone"), "/nonexistent/lost.jpg")]
    upstream = {"type": "error", "input": "broken.jpg", "stage": "import", "kind": "truncated", "reason": "cut short"}
    malformed = [face(hid("bad"), I1, "x.jpg", box=[1, 2]), {**two_photos[-1], "distance": "near", "query": Q}]
    html, emitted = render(two_photos + lost + [upstream] + malformed, tmp_path)
    errors = [r for r in emitted if r["type"] == "error"]
    assert [e["input"] for e in errors] == ["broken.jpg", hid("bad"), Q, hid("gone")]
    assert errors[1]["kind"] == errors[2]["kind"] == "malformed-input"
    assert "pixels unavailable" in html and "cut short" in html and len(photo_sources(html)) == 2
    assert emitted[-1]["problems"] == 2 and emitted[-1]["faces"] == 3


@pytest.fixture
def case(tmp_path):
    """A dataset with three real photos: Ada's face in photo 0; photo 1's face unidentified and
    near hers; photo 2 kept by a recognition, its face matched to Ada's; and two runs of
    rx-cluster, a full one and an incremental one that moved photo 1's face."""
    root = str(tmp_path / "case.rx")
    create_dataset(root, threshold=0.4).close()
    paths = [write_photo(tmp_path / f"p{n}.jpg", seed=n) for n in range(3)]
    with Dataset.open(root) as ds:
        imported = []
        with Importer(ds, Emitter(imported.append)) as importer:
            importer.add_arguments(paths[:2])
        with Importer(ds, Emitter(imported.append), query=True) as importer:
            importer.add_arguments(paths[2:])
        ids = [r["id"] for r in imported if r["type"] == "image"]
        for n, (image_id, vector) in enumerate(zip(ids, ([1, 0, 0, 0], [1, 0.1, 0, 0], [1, 0.05, 0, 0]))):
            ds.log("faces").append(
                {"type": "face", "id": hid(f"f{n}"), "image": image_id, "box": BOX, "ts": f"2026-01-0{n + 1}"}
            )
            ds.log("embeddings").append(
                {
                    "type": "embedding",
                    "face": hid(f"f{n}"),
                    "image": image_id,
                    "model": "Dlib",
                    "vector": np.asarray(vector, np.float32),
                    "ts": f"2026-01-0{n + 1}",
                }
            )
        editor = IdentityEditor(ds)
        ada = editor.create("Ada", color="#00aaff")["id"]
        editor.link(F0, ada)
        ds.log("matches").append({**match((F2, ids[2]), (F0, ids[0]), ada, "Ada"), "ts": "2026-01-04"})
        settings = {"threshold": 0.1, "method": "test"}
        for full, (id, faces, identity) in (
            (True, ("1" * 32, [F0, F1], {"id": ada, "name": "Ada"})),
            (False, ("2" * 32, [F1], None)),
        ):
            run = new_run()
            store_run(
                ds,
                [cluster_record(id, faces, identity, settings, run)],
                {"type": "clustering", "id": run, "full": full, **settings, "ts": timestamp()},
            )
    return root, ids


def from_dataset(case, tmp_path, **options):
    emitted = []
    with Dataset.open(case[0]) as ds:
        report_dataset(ds, str(tmp_path / "ds.html"), Emitter(emitted.append), ReportOptions(**options))
    return (tmp_path / "ds.html").read_text(), emitted


def test_a_dataset_reports_its_recognitions_proposals_and_clusters(case, tmp_path):
    html, emitted = from_dataset(case, tmp_path)
    assert (emitted[-1]["images"], emitted[-1]["faces"]) == (1, 1)
    assert 'id="image-' + case[1][2] in html and len(photo_sources(html)) == 1 and html.count('stroke="#00aaff"') == 1
    html, emitted = from_dataset(case, tmp_path, kind="match-faces")
    assert emitted[-1]["proposals"] == 1 and f'id="face-{F1}"' in html and html.count('class="crop"') == 2
    html, emitted = from_dataset(case, tmp_path, kind="cluster")
    assert emitted[-1]["clusters"] == 2
    first, second = html.split('id="cluster-')[1:]
    assert f'id="face-{F0}"' in first and f'id="face-{F1}"' not in first and f'id="face-{F1}"' in second
    with pytest.raises(UsageError, match="rx-verify"):
        from_dataset(case, tmp_path, kind="verify")


def test_faces_a_stream_only_names_come_from_the_dataset_it_is_given(case, tmp_path):
    proposal = {
        "type": "proposal",
        "face": F1,
        "image": case[1][1],
        "identity": hid("x"),
        "identity_name": "Ada",
        "distance": 0.01,
        "threshold": 0.4,
        "metric": "cosine",
        "candidate": F0,
        "candidate_image": case[1][0],
    }
    html, emitted = render([proposal], tmp_path)
    assert emitted[0]["type"] == "warning" and "2 face(s)" in emitted[0]["reason"] and "no pixels for face" in html
    html, emitted = render([proposal], tmp_path, dataset=case[0])
    assert [r["type"] for r in emitted] == ["report"] and html.count('class="crop"') == 2


def rx_report(args, records=None, **kw):
    stdin = subprocess.DEVNULL if records is None else None
    data = (
        None
        if records is None
        else b"".join(r if isinstance(r, bytes) else json.dumps(r).encode() + b"\n" for r in records)
    )
    return subprocess.run([tool("rx-report"), *args], input=data, stdin=stdin, capture_output=True, timeout=60, **kw)


def test_the_tool_reads_a_stream_writes_the_file_and_a_record(two_photos, tmp_path):
    result = rx_report(["-o", str(tmp_path / "r.html")], two_photos + [b"{not json\n"])
    assert result.returncode == 1 and b"malformed JSON" in result.stderr
    error, report = jsonl(result.stdout)
    assert error["kind"] == "malformed-input" and report["type"] == "report" and report["faces"] == 2
    assert outside_references((tmp_path / "r.html").read_text()) == []
    result = rx_report(["-o", str(tmp_path / "r.json"), "--title", "Case 7"], two_photos)
    assert result.returncode == 0 and json.loads((tmp_path / "r.json").read_text())["title"] == "Case 7"


def test_the_tool_renders_a_dataset_when_no_records_come(case, tmp_path):
    result = rx_report(["-d", case[0], "--kind", "cluster", "-o", str(tmp_path / "c.html")])
    assert result.returncode == 0, result.stderr
    assert jsonl(result.stdout)[-1]["clusters"] == 2
    result = rx_report(["-o", str(tmp_path / "c.html")])
    assert result.returncode == 2 and b"-d DIR" in result.stderr
    result = rx_report(["-d", case[0], "--kind", "verify", "-o", str(tmp_path / "c.html")])
    assert result.returncode == 2 and b"rx-verify" in result.stderr


def test_recognize_refuses_blur_without_an_html_report(tmp_path):
    result = subprocess.run(
        [tool("recops"), "recognize", "x.jpg", "-d", str(tmp_path), "--blur"], capture_output=True, timeout=60
    )
    assert result.returncode == 2 and b"FILE.html" in result.stderr


def test_pixels_can_travel_inline_in_msgpack(tmp_path):
    import msgpack

    data = open(write_photo(tmp_path / "p.jpg"), "rb").read()
    os.remove(tmp_path / "p.jpg")
    records = [
        {**image(I1, "/elsewhere/p.jpg"), "data": data},
        {k: v for k, v in face(F0, I1, "/elsewhere/p.jpg").items() if k != "path"},
    ]
    result = subprocess.run(
        [tool("rx-report"), "-o", str(tmp_path / "r.html")],
        capture_output=True,
        timeout=60,
        input=b"".join(msgpack.packb(r) for r in records),
    )
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "r.html").read_text()
    assert len(photo_sources(html)) == 1 and html.count('class="crop"') == 1


def without_pixels(html: str) -> str:
    return re.sub(r"data:image/jpeg;base64,[A-Za-z0-9+/=]+", "", html)


def test_a_blurred_report_names_nobody_and_no_file(two_photos, tmp_path, case):
    problem = {
        "type": "error",
        "input": str(tmp_path / "secret-meeting.jpg"),
        "stage": "import",
        "kind": "truncated",
        "reason": f"{tmp_path / 'secret-meeting.jpg'}: cut short",
    }
    shown, _ = render(two_photos + [problem], tmp_path)
    assert "Ada" in shown and "query.jpg" in shown and "secret-meeting" in shown
    html, _ = render(two_photos + [problem], tmp_path, name="blurred.html", blur=True)
    text = without_pixels(html)
    for secret in ("Ada", "query.jpg", "gallery.jpg", "secret-meeting", str(tmp_path)):
        assert secret not in text, f"{secret!r} is readable in a blurred report"
    assert "Person 1" in text and "photo 1" in text and "photo 2" in text
    assert text.count("Person 1") == shown.count("Ada"), "one stand-in wherever the name was"
    with Dataset.open(case[0]) as ds:
        ds.update(description="Operation Ada")
    html, _ = from_dataset(case, tmp_path, blur=True)
    text = without_pixels(html)
    assert "Ada" not in text and case[0] not in text and "p2.jpg" not in text and "Person 1" in text
