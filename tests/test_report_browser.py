"""Reports of real photos opened in a real browser (headless Chromium): the images load, the boxes
sit on the faces, nothing is fetched, and a hostile name is shown as text and runs nothing.

Each report is opened twice: as written, for a screenshot, the DOM and a log of the network; and as
a copy with a probe script added (and the page's Content-Security-Policy taken out so the probe
may run), which writes where each image landed on the page. The two lay out alike: the probe only
adds a hidden element once the page has loaded.
"""

import io
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser

import numpy as np
import pytest
from conftest import SHARED_FACES, jsonl
from PIL import Image
from test_real_models import pipeline
from test_report import outside_references

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not CHROMIUM, reason="needs chromium (make test installs it)")]
PEOPLE = os.path.join(SHARED_FACES, "face_recognition")
GROUP = os.path.join(SHARED_FACES, "group", "t1.jpg")
WINDOW = (1280, 5000)
GREEN, MAGENTA = (0, 255, 1), (255, 0, 255)
"""rx-report's colours for a verified pair and for faces of nobody."""
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_FILE = "<img src=x onerror=alert(2)>.jpg"
# Chromium's own housekeeping, which its flags do not all silence; every address is refused anyway.
BROWSER_OWN = (
    "http://clients2.google.com/time/",
    "https://update.googleapis.com/service/update2/",
    "http://update.googleapis.com/service/update2/",
    "https://accounts.google.com/ListAccounts",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-features=NetworkTimeServiceQuerying",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
]
PROBE = """<script>
addEventListener("load", () => {
  const found = [...document.images].map(img => {
    const r = img.getBoundingClientRect();
    return {alt: img.alt, photo: !!img.closest(".frame"), natural: img.naturalWidth,
            x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height};
  });
  const probe = document.createElement("pre");
  probe.id = "probe"; probe.hidden = true; probe.textContent = JSON.stringify(found);
  document.body.appendChild(probe);
});
</script>"""


@dataclass
class Page:
    shot: np.ndarray
    dom: str
    images: list[dict]
    requests: list[str]

    def photos(self) -> list[dict]:
        """The photos (not crops) wholly inside the screenshot."""
        return [i for i in self.images if i["photo"] and i["y"] + i["h"] <= WINDOW[1]]

    def region(self, rect: dict) -> np.ndarray:
        x, y = round(rect["x"]), round(rect["y"])
        return self.shot[y : y + round(rect["h"]), x : x + round(rect["w"])]


def chromium(args: list[str], profile) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, timeout=60)


def open_in_browser(report, work) -> Page:
    report, work = str(report), str(work)
    name = os.path.splitext(os.path.basename(report))[0]
    shot, netlog = os.path.join(work, f"{name}.png"), os.path.join(work, f"{name}.netlog.json")
    seen = chromium(
        [f"--screenshot={shot}", f"--log-net-log={netlog}", "--dump-dom", f"file://{report}"],
        os.path.join(work, f"{name}.profile"),
    )
    assert seen.returncode == 0, seen.stderr.decode()[-2000:]
    with open(report, encoding="utf-8") as handle:
        page = handle.read()
    probed = os.path.join(work, f"{name}.probe.html")
    with open(probed, "w", encoding="utf-8") as handle:
        handle.write(_without_csp(page).replace("</body>", PROBE + "</body>"))
    measured = chromium(["--dump-dom", f"file://{probed}"], os.path.join(work, f"{name}.profile2"))
    text = measured.stdout.decode()
    start = text.index('<pre id="probe" hidden="">') + len('<pre id="probe" hidden="">')
    images = json.loads(unescape(text[start : text.index("</pre>", start)]))
    return Page(np.asarray(Image.open(shot).convert("RGB")), seen.stdout.decode(), images, requests(netlog))


def _without_csp(html: str) -> str:
    start = html.index('<meta http-equiv="Content-Security-Policy"')
    return html[:start] + html[html.index(">", start) + 1 :]


def requests(netlog: str) -> list[str]:
    """Every address the browser asked the network for, but its own housekeeping."""
    with open(netlog) as handle:
        log = json.load(handle)
    urls = {
        e["params"]["url"] for e in log.get("events", []) if isinstance(e.get("params"), dict) and "url" in e["params"]
    }
    return sorted(u for u in urls if not u.startswith(BROWSER_OWN) and not u.startswith(("file:", "data:")))


def on_screen(photo: dict, size: tuple[int, int], box) -> tuple[float, float, float, float]:
    """A face box (full-size pixels) where the page shows it."""
    sx, sy = photo["w"] / size[0], photo["h"] / size[1]
    left, top, right, bottom = box
    return photo["x"] + left * sx, photo["y"] + top * sy, photo["x"] + right * sx, photo["y"] + bottom * sy


def outline(shot: np.ndarray, box, color, reach: int = 3, step: int = 4) -> float:
    """The share of points along the box's four edges with a pixel of `color` within `reach`."""
    left, top, right, bottom = box
    points = [(x, y) for x in np.arange(left + step, right - step, step) for y in (top, bottom)]
    points += [(x, y) for y in np.arange(top + step, bottom - step, step) for x in (left, right)]
    target = np.asarray(color, dtype=np.int16)
    hits = 0
    for x, y in points:
        x, y = int(round(x)), int(round(y))
        window = shot[max(0, y - reach) : y + reach + 1, max(0, x - reach) : x + reach + 1].astype(np.int16)
        hits += bool((np.abs(window - target) <= 40).all(axis=-1).any())
    return hits / len(points)


def faces_seen(pixels: np.ndarray) -> list[tuple]:
    """What the real detector finds in pixels the browser drew."""
    from recops.stages.detection import DetectOptions, find_faces

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return [f.box for _, f in find_faces(out.getvalue(), DetectOptions("dlib", True))]


def iou(a, b) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def sharpness(pixels: np.ndarray) -> float:
    import cv2

    return float(cv2.Laplacian(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """Obama and Biden enrolled (Obama renamed to a script tag); the group photo, an Obama photo
    named like an img tag and a Biden photo recognised; two more Obama photos imported unlinked;
    the faces clustered; and every kind of report written."""
    if not (os.path.isdir(os.path.join(PEOPLE, "obama")) and os.path.exists(GROUP)):
        pytest.skip("needs ../shared/faces/face_recognition and ../shared/faces/group")
    work = tmp_path_factory.mktemp("report")
    links = {
        "people/obama/obama.jpg": "obama/obama.jpg",
        "people/biden/biden.jpg": "biden/biden.jpg",
        "queries/t1.jpg": GROUP,
        f"queries/{HOSTILE_FILE}": "obama/obama2.jpg",
        "queries/biden2.jpg": "biden/biden2.jpg",
        "crowd/obama1.jpg": "obama/obama1.jpg",
        "crowd/obama3.jpg": "obama/obama3.jpg",
    }
    for link, target in links.items():
        (work / link).parent.mkdir(parents=True, exist_ok=True)
        (work / link).symlink_to(os.path.join(PEOPLE, target))
    command = f"""set -e
        rx-init case.rx >/dev/null
        recops dataset-import-identities people -d ./case.rx >/dev/null
        rx-identity update obama --name '{HOSTILE_NAME}' -d case.rx >/dev/null
        recops recognize -d ./case.rx queries -o recognize.html > recognize.jsonl
        recops dataset-import-images crowd -d ./case.rx >/dev/null
        rx-review propose -d case.rx > proposals.jsonl
        rx-report -d case.rx -o match-faces.html < proposals.jsonl > match-faces.jsonl
        rx-report -d case.rx --blur -o blurred.html </dev/null > blurred.jsonl
        rx-verify people/obama/obama.jpg 'queries/{HOSTILE_FILE}' > verification.jsonl
        rx-report -o verify.html < verification.jsonl > verify.jsonl
        rx-cluster -d case.rx </dev/null > clusters.jsonl
        rx-report -d case.rx -o cluster.html < clusters.jsonl > cluster.jsonl
        rx-ls images -d case.rx > images.jsonl
        rx-ls faces -d case.rx > faces.jsonl
        rx-ls identities -d case.rx > identities.jsonl
    """
    code, out, err = pipeline(command, work)
    assert code == 0, err.decode()
    faces = jsonl((work / "faces.jsonl").read_bytes())
    images = {os.path.basename(p): i for i in jsonl((work / "images.jsonl").read_bytes()) for p in i["paths"]}
    colors = {i["name"]: rgb(i["color"]) for i in jsonl((work / "identities.jsonl").read_bytes())}
    return work, images, faces, colors


def rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def size_of(case, name: str) -> tuple[int, int]:
    image = case[1][name]
    return image["width"], image["height"]


def faces_in(case, name: str) -> list[dict]:
    return [f for f in case[2] if f["image"] == case[1][name]["id"]]


def recognised(case) -> dict[str, list[tuple]]:
    """The query photos' faces as the recognize report should box them: the Obama and Biden
    photos' faces in the colour of the identity they match, the group's in nobody's."""
    colors = {"t1.jpg": MAGENTA, HOSTILE_FILE: case[3][HOSTILE_NAME], "biden2.jpg": case[3]["biden"]}
    return {name: [(f["box"], color) for f in faces_in(case, name)] for name, color in colors.items()}


def _source(case, name: str) -> np.ndarray:
    from PIL import ImageOps

    path = next(p for p in case[1][name]["paths"] if os.path.basename(p) == name)
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def assert_self_contained(page: Page, html_file) -> None:
    assert page.requests == [], "the page fetched something"
    with open(html_file, encoding="utf-8") as handle:
        assert outside_references(handle.read()) == []
    assert page.images and all(i["natural"] > 0 for i in page.images), "an image did not load"


def assert_boxes_on_faces(
    case, page: Page, expected: dict[str, list[tuple]], resemblance: float = 16, names: dict[str, str] | None = None
) -> int:
    """Every photo wholly on the screenshot is one `expected` names ({file name: [(box, colour)]}),
    looks like its file (mean difference under `resemblance` of 255), and shows an outline of
    each box's colour along that box, not along the box shifted off the face. `names` gives the
    file name of each label a photo shows (a blurred report names no file). Returns how many
    photos it checked."""
    photos = page.photos()
    for photo in photos:
        name = (names or {}).get(photo["alt"], photo["alt"])
        shown = page.region(photo).astype(np.int16)
        source = np.asarray(Image.fromarray(_source(case, name)).resize((shown.shape[1], shown.shape[0])))
        assert shown.std() > 20 and np.abs(shown - source.astype(np.int16)).mean() < resemblance, name
        for box, color in expected[name]:
            drawn = on_screen(photo, size_of(case, name), box)
            assert outline(page.shot, drawn, color) > 0.9, (name, box)
            shift = 0.3 * (drawn[2] - drawn[0])
            assert outline(page.shot, [v + shift for v in drawn], color) < 0.5, (name, box)
    return len(photos)


@pytest.fixture(scope="module")
def opened(case):
    """Each report opened once, on first use."""
    pages: dict[str, Page] = {}

    def open_report(name: str) -> Page:
        if name not in pages:
            pages[name] = open_in_browser(case[0] / f"{name}.html", case[0])
            assert_self_contained(pages[name], case[0] / f"{name}.html")
        return pages[name]

    return open_report


def group_photo(case, page: Page, label: str = "t1.jpg") -> tuple[dict, list[tuple]]:
    """The group photo on the page (shown under `label`), and its face boxes where the page shows them."""
    photo = next(p for p in page.photos() if p["alt"] == label)
    return photo, [on_screen(photo, size_of(case, "t1.jpg"), f["box"]) for f in faces_in(case, "t1.jpg")]


def test_recognize_report(case, opened):
    page = opened("recognize")
    assert assert_boxes_on_faces(case, page, recognised(case)) == 3
    photo, drawn = group_photo(case, page)
    found = [
        (photo["x"] + l, photo["y"] + t, photo["x"] + r, photo["y"] + b)
        for l, t, r, b in faces_seen(page.region(photo))
    ]
    assert len(drawn) >= 5 and len(found) >= 3
    assert all(max(iou(f, d) for d in drawn) > 0.4 for f in found), "a face the detector sees on the page has no box"


def test_blurred_report_hides_every_face_it_boxes(case, opened):
    page, plain = opened("blurred"), opened("recognize")
    assert "blurred for sharing" in page.dom
    names = {blurred["alt"]: shown["alt"] for blurred, shown in zip(page.photos(), plain.photos())}
    assert not set(names) & set(names.values()) and HOSTILE_FILE not in page.dom and "t1.jpg" not in page.dom
    assert assert_boxes_on_faces(case, page, recognised(case), resemblance=30, names=names) == 3
    photo, drawn = group_photo(case, page, next(label for label, name in names.items() if name == "t1.jpg"))
    assert faces_seen(page.region(photo)) == []
    for blurred, sharp in zip(drawn, group_photo(case, plain)[1]):
        (l, t, r, b), (l0, t0, r0, b0) = [
            (round(x0) + 5, round(y0) + 5, round(x1) - 5, round(y1) - 5) for x0, y0, x1, y1 in (blurred, sharp)
        ]
        assert sharpness(page.shot[t:b, l:r]) < sharpness(plain.shot[t0:b0, l0:r0]) / 5
    crops = [i for i in page.images if not i["photo"] and i["y"] + i["h"] <= WINDOW[1]]
    assert crops and all(sharpness(page.region(c)[8:-8, 8:-8]) < 40 for c in crops)


def test_match_faces_review_sheet(case, opened):
    page = opened("match-faces")
    proposals = [r for r in jsonl((case[0] / "proposals.jsonl").read_bytes()) if r["type"] == "proposal"]
    assert {p["identity_name"] for p in proposals} == {HOSTILE_NAME} and len(proposals) == 2
    boxed = {}
    for proposal in proposals:
        face = next(f for f in case[2] if f["id"] == proposal["face"])
        name = next(n for n, i in case[1].items() if i["id"] == face["image"])
        boxed.setdefault(name, []).append((face["box"], case[3][HOSTILE_NAME]))
    assert assert_boxes_on_faces(case, page, boxed) == 2
    crops = [i for i in page.images if not i["photo"]]
    assert len(crops) == 4


def test_cluster_contact_sheet(case, opened):
    page = opened("cluster")
    clusters = [r for r in jsonl((case[0] / "clusters.jsonl").read_bytes()) if r["type"] == "cluster"]
    crops = [i for i in page.images if not i["photo"] and i["y"] + i["h"] <= WINDOW[1]]
    assert len(crops) == sum(c["size"] for c in clusters) >= 4 and len(clusters) >= 2 and not page.photos()
    with_a_face = 0
    for crop in crops:
        shown = np.asarray(Image.fromarray(page.region(crop)).resize((round(crop["w"]) * 2, round(crop["h"]) * 2)))
        with_a_face += bool(faces_seen(shown))
    assert with_a_face >= 0.8 * len(crops), "most crops should show a face the detector finds again"


def test_verify_report_puts_the_two_faces_side_by_side(case, opened):
    page = opened("verify")
    (verification,) = jsonl((case[0] / "verification.jsonl").read_bytes())
    assert verification["verified"] and "Same person" in page.dom
    names = [os.path.basename(p) for p in verification["images"]]
    expected = {name: [(box, GREEN)] for name, box in zip(names, verification["boxes"])}
    assert assert_boxes_on_faces(case, page, expected) == 2
    first, second = page.photos()
    assert first["x"] + first["w"] <= second["x"] and abs(first["y"] - second["y"]) < 1


class _DomScan(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.handlers, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.handlers += [name for name, _ in attrs if name.startswith("on")]

    def handle_data(self, data):
        self.text.append(data)


def test_hostile_names_show_as_text_and_run_nothing(opened):
    scan = _DomScan()
    scan.feed(opened("recognize").dom)
    text = "".join(scan.text)
    assert HOSTILE_NAME in text and HOSTILE_FILE in text
    assert [t for t, _ in scan.tags if t == "script"] == [] and scan.handlers == []
    assert all(attrs.get("src", "data:").startswith("data:") for t, attrs in scan.tags if t == "img")


def test_the_network_check_sees_what_a_page_fetches(tmp_path):
    page = tmp_path / "fetches.html"
    page.write_text(
        '<!doctype html><link rel="stylesheet" href="https://fonts.example.org/a.css">'
        '<img src="http://example.com/a.png"><div style="background: url(http://example.net/b.png)">x</div>'
    )
    seen = open_in_browser_plain(page, tmp_path)
    assert {"https://fonts.example.org/a.css", "http://example.com/a.png", "http://example.net/b.png"} <= set(seen)
    assert set(outside_references(page.read_text())) == {
        "<link>",
        "https://fonts.example.org/a.css",
        "http://example.com/a.png",
        "http://example.net/b.png",
    }


def open_in_browser_plain(page, work) -> list[str]:
    netlog = os.path.join(str(work), "netlog.json")
    result = chromium([f"--log-net-log={netlog}", "--dump-dom", f"file://{page}"], os.path.join(str(work), "profile"))
    assert result.returncode == 0
    return requests(netlog)
