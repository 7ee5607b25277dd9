"""recops webui through a real server on an ephemeral port, with the fake models: its pages, the
changes its forms make (checked in the records on disk), what it refuses, and the command.
The browser drives it in test_webui_browser.py; the real models in test_webui_real.py."""

import http.client
import io
import os
import random
import re
import signal
import socket
import stat
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from html import unescape

import pytest
from conftest import tool
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from recops.cli.porcelain import app as porcelain_app
from recops.datasets import create_dataset
from recops.faces import FaceCatalog
from recops.folding import order
from recops.identities import IdentityEditor, IdentityView
from recops.images import ImageCatalog
from recops.logs import IMAGES
from recops.records import image_record, timestamp
from recops.report.context import UNKNOWN_COLOR
from recops.stages.folder_imports import import_identities, import_images
from recops.store.dataset import Dataset
from recops.stream import Emitter
from recops.webui import make_server, url_of
from recops.webui.guard import Guard, Refused, local_path
from recops.webui.sites import Sites, site_key

RED, BLUE, GREEN = (200, 40, 40), (40, 40, 200), (40, 200, 40)
CROWD = {"c1.jpg": (195, 45, 42), "c2.jpg": (45, 42, 198), "c3.jpg": GREEN, "c4.jpg": (205, 38, 45)}
"""Photos of nobody yet: c1 and c4 near Ada (red), c2 near Bob (blue), c3 near no one."""


def draw_photo(path, colour, seed: int) -> None:
    """A 320x240 photo whose middle (where the fake detector finds a face) is one colour: the fake
    embedder's vector is that colour, so faces of near colours are near."""
    rng = random.Random(seed)
    image = Image.new("RGB", (320, 240), (200, 200, 190))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(320), rng.randrange(240)
        draw.ellipse([x, y, x + 12, y + 12], fill=tuple(rng.randrange(120, 240) for _ in range(3)))
    draw.rectangle([80, 60, 239, 179], fill=colour)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.save(path, "JPEG", quality=95)


def make_case(folder) -> str:
    """A dataset: Ada and Bob enrolled from people/NAME/, four photos of nobody imported."""
    photos = folder / "photos"
    draw_photo(photos / "people" / "Ada" / "ada1.jpg", RED, 1)
    draw_photo(photos / "people" / "Bob" / "bob1.jpg", BLUE, 2)
    for n, (name, colour) in enumerate(CROWD.items()):
        draw_photo(photos / "crowd" / name, colour, 10 + n)
    root = str(folder / "case.rx")
    create_dataset(root, detector="fake", model="Fake", threshold=0.02).close()
    with Dataset.open(root) as dataset:
        out = []
        import_identities(dataset, str(photos / "people"), Emitter(out.append))
        import_images(dataset, str(photos / "crowd"), Emitter(out.append))
    assert not [r for r in out if r["type"] == "error"]
    return root


@pytest.fixture
def case(tmp_path, fake_models):
    return make_case(tmp_path)


class Client:
    """A browser's requests, made by hand: redirects are not followed, so a change's 303 shows."""

    def __init__(self, base: str, key: str):
        self.base = base.rstrip("/")
        self.key = key
        self.host = urllib.parse.urlsplit(base).netloc

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection(self.host, timeout=30)
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": self.host, **(headers or {})}
        if body is not None:
            sent["Content-Length"] = str(len(body))
        for name, value in sent.items():
            if value is not None:
                connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, dict(response.getheaders()), data

    def get(self, path: str, **headers):
        return self.request("GET", path, headers=headers)

    def page(self, path: str) -> str:
        status, _, body = self.get(self.at(path))
        assert status == 200, (path, status, body[:300])
        return body.decode()

    def at(self, path: str) -> str:
        return f"/d/{self.key}/{path}"

    def token(self) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.page("identities")).group(1)

    def post(
        self,
        path: str,
        fields: list[tuple[str, str]],
        token: str | None = "auto",
        origin: str | None = "auto",
        **headers,
    ):
        if token == "auto":
            token = self.token()
        if token is not None:
            fields = [("csrf", token), *fields]
        return self.request(
            "POST",
            self.at(path),
            urllib.parse.urlencode(fields).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"http://{self.host}" if origin == "auto" else origin,
                **headers,
            },
        )

    def upload(self, filename: str, data: bytes):
        """The recognitions page's form: a photo, multipart, with the form token."""
        boundary = "recops-test-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{self.token()}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return self.request(
            "POST",
            self.at("recognitions"),
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}", "Origin": f"http://{self.host}"},
        )

    def change(self, path: str, fields: list[tuple[str, str]]) -> str:
        """A change as a form makes it: 303 back, and the note the next page shows."""
        status, headers, _ = self.post(path, fields)
        assert status == 303, status
        location = headers["Location"]
        note = re.search(r'<p class="note[^"]*" role="status">([^<]*)</p>', self.get(location)[2].decode())
        return unescape(note.group(1)) if note else ""


@pytest.fixture
def served(case):
    """The case served in this process (so the fake models serve uploads): a Client."""
    server, _ = make_server(Sites(dataset=case), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield Client(url_of(server), site_key(case))
    server.shutdown()
    server.server_close()


def records(root: str, log: str) -> list[dict]:
    with Dataset.open(root) as dataset:
        return sorted(dataset.log(log).records(), key=order)


def faces_by_photo(root: str) -> dict[str, str]:
    with Dataset.open(root) as dataset:
        images = ImageCatalog.of(dataset)
        return {os.path.basename(images.get(f["image"])["paths"][0]): f["id"] for f in FaceCatalog.of(dataset)}


def identity_named(root: str, name: str) -> dict:
    with Dataset.open(root) as dataset:
        return IdentityView.of(dataset).find(name)


def view(root: str) -> IdentityView:
    with Dataset.open(root) as dataset:
        return IdentityView.of(dataset)


# -- pages


def test_every_page_renders_the_dataset(served, case):
    faces = faces_by_photo(case)
    ada = identity_named(case, "Ada")
    overview = served.page("")
    assert "<b>6</b>images" in overview and "<b>4</b>faces of nobody known" in overview
    images = served.page("images")
    assert images.count("<rect ") == 6 and images.count(f'stroke="{UNKNOWN_COLOR}"') == 4
    colours = {identity_named(case, name)["color"] for name in ("Ada", "Bob")}
    assert sum(images.count(f'stroke="{colour}"') for colour in colours) == 2
    unidentified = served.page("faces?identity=none")
    assert all(faces[name] in unidentified for name in CROWD) and faces["ada1.jpg"] not in unidentified
    of_ada = served.page(f"faces?identity={ada['id']}")
    assert faces["ada1.jpg"] in of_ada and faces["c1.jpg"] not in of_ada
    face = served.page(f"faces/{faces['ada1.jpg']}")
    assert "Nearest faces" in face and faces["c1.jpg"] in face and faces["c3.jpg"] not in face
    assert "That one is Ada too" in face
    identity = served.page(f"identities/{ada['id']}")
    assert "1 face" in identity and faces["ada1.jpg"] in identity
    image = served.page(f"images/{faces_image(case, 'c2.jpg')}")
    assert faces["c2.jpg"] in image and "Delete this image" in image
    assert "No photo recognised yet" in served.page("recognitions")


def faces_image(root: str, name: str) -> str:
    with Dataset.open(root) as dataset:
        return next(i["id"] for i in ImageCatalog.of(dataset) if i["paths"][0].endswith(name))


def cards(page: str) -> list[str]:
    return re.findall(r'<div class="card" id="face-([0-9a-f]{32})">', page)


def test_pages_carry_a_policy_without_scripts(served):
    status, headers, body = served.get(served.at("faces"))
    policy = headers["Content-Security-Policy"]
    assert status == 200 and "default-src 'none'" in policy and "script-src" not in policy
    assert headers["Cache-Control"] == "no-store" and headers["X-Frame-Options"] == "SAMEORIGIN"
    assert b"<script" not in body


def test_faces_filter_by_cluster_and_attribute(served, case):
    from recops.clustering.history import cluster_record, new_run, store_run

    faces = faces_by_photo(case)
    with Dataset.open(case) as dataset:
        run = new_run()
        store_run(
            dataset,
            [
                cluster_record("c" * 32, [faces["c1.jpg"], faces["c4.jpg"]], None, {}, run),
                cluster_record("d" * 32, [faces["c2.jpg"]], None, {}, run),
            ],
            {"type": "clustering", "id": run, "full": True, "ts": timestamp()},
        )
        for name, gender, age in (("c1.jpg", "Woman", 34.0), ("c2.jpg", "Man", 61.0)):
            dataset.log("attributes").append(
                {
                    "type": "attribute",
                    "face": faces[name],
                    "age": age,
                    "dominant_gender": gender,
                    "gender": {gender: 99.0},
                    "ts": timestamp(),
                }
            )
    clustered = served.page("faces?cluster=0")
    assert faces["c1.jpg"] in clustered and faces["c4.jpg"] in clustered and faces["c2.jpg"] not in clustered
    assert "in cluster 0" in clustered and cards(served.page(f"faces?cluster={'c' * 32}")) == cards(clustered)
    women = served.page("faces?attribute=gender:Woman")
    assert faces["c1.jpg"] in women and faces["c2.jpg"] not in women and "unreliable" in women
    assert faces["c2.jpg"] in served.page("faces?attribute=age:60-69")
    assert served.get(served.at("faces?cluster=7"))[0] == 404


def test_pages_are_paginated(tmp_path):
    """Thousands of faces cost a page at a time: 130 faces are 48 + 48 + 34."""
    root = str(tmp_path / "many.rx")
    create_dataset(root, detector="fake", model="Fake", threshold=0.02).close()
    with Dataset.open(root) as dataset:
        for n in range(130):
            image = f"{n:032x}"
            dataset.log(IMAGES).append(image_record(image, 1, "image/jpeg", 40, 30, [f"/p/{n}.jpg"], False))
            dataset.log("faces").append(
                {"type": "face", "id": f"f{n:031x}", "image": image, "box": [1, 1, 9, 9], "ts": timestamp()}
            )
    server, _ = make_server(Sites(dataset=root), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        client = Client(url_of(server), site_key(root))
        pages = [client.page(f"faces?identity=none&page={n}") for n in (1, 2, 3)]
        assert [p.count('class="card"') for p in pages] == [48, 48, 34]
        assert "page 3 of 3 · 97–130 of 130" in pages[2] and 'rel="next"' not in pages[2]
        assert "identity=none&amp;page=2" in pages[0]
        assert cards(client.page("faces?identity=none&page=99")) == cards(pages[2])
        assert client.page("images?page=3").count("<figure") == 34
    finally:
        server.shutdown()
        server.server_close()


# -- changes, each an append-only record


def test_link_unlink_and_reject_faces(served, case):
    faces = faces_by_photo(case)
    ada = identity_named(case, "Ada")
    assert (
        served.change(
            "faces/link",
            [
                ("face", faces["c1.jpg"]),
                ("face", faces["c4.jpg"]),
                ("op", "link"),
                ("identity", ada["id"]),
                ("next", served.at("faces")),
            ],
        )
        == "linked 2 faces to Ada"
    )
    assert view(case).face_identity[faces["c4.jpg"]] == ada["id"]
    assert served.change("faces/link", [("face", faces["c4.jpg"]), ("op", "unlink")]) == "unlinked 1 face"
    assert (
        served.change("faces/link", [("face", faces["c1.jpg"]), ("op", "reject"), ("identity", ada["id"])])
        == "rejected 1 face for Ada"
    )
    links = [
        (r["face"], r["op"], r["source"])
        for r in records(case, "links")
        if r["face"] in (faces["c1.jpg"], faces["c4.jpg"])
    ]
    assert links[-4:] == [
        (faces["c1.jpg"], "link", "manual"),
        (faces["c4.jpg"], "link", "manual"),
        (faces["c4.jpg"], "unlink", "manual"),
        (faces["c1.jpg"], "reject", "manual"),
    ]
    final = view(case)
    assert faces["c1.jpg"] not in final.face_identity and (faces["c1.jpg"], ada["id"]) in final.rejected
    page = served.page(f"faces/{faces['c1.jpg']}")
    assert "Not: Ada" in page and "nobody known" in page


def test_link_to_a_new_identity_and_failures_are_told(served, case):
    faces = faces_by_photo(case)
    assert (
        served.change("faces/link", [("face", faces["c3.jpg"]), ("op", "link"), ("new_name", "Cy")])
        == "linked 1 face to Cy"
    )
    cy = identity_named(case, "Cy")
    assert cy and view(case).face_identity[faces["c3.jpg"]] == cy["id"]
    told = served.change(
        "faces/link", [("face", faces["c2.jpg"]), ("face", "e" * 32), ("op", "link"), ("identity", cy["id"])]
    )
    assert told.startswith("linked 1 face to Cy; 1 not: no face eeee")
    assert (
        served.change("faces/link", [("face", "../etc"), ("op", "link"), ("identity", cy["id"])])
        == "'../etc' is not a face id"
    )
    assert served.change("faces/link", [("face", faces["c2.jpg"]), ("op", "link")]) == "choose an identity first"


def test_identity_create_rename_recolour_merge_and_delete(served, case):
    faces = faces_by_photo(case)
    status, headers, _ = served.post("identities", [("name", "Dora"), ("color", "#123456"), ("description", "x")])
    dora = identity_named(case, "Dora")
    assert status == 303 and headers["Location"].startswith(served.at(f"identities/{dora['id']}?note="))
    assert (dora["color"], dora["description"]) == ("#123456", "x")
    assert (
        served.change(
            f"identities/{dora['id']}/update", [("name", "Dora M."), ("color", "#abcdef"), ("description", "y")]
        )
        == "renamed Dora to Dora M."
    )
    assert identity_named(case, "Dora M.")["color"] == "#abcdef"
    assert "is not a colour" in served.change(f"identities/{dora['id']}/update", [("color", "red;background:url(x)")])
    served.change(
        "faces/link", [("face", faces["c1.jpg"]), ("face", faces["c2.jpg"]), ("op", "link"), ("identity", dora["id"])]
    )
    ada = identity_named(case, "Ada")
    served.change("faces/link", [("face", faces["c2.jpg"]), ("op", "reject"), ("identity", ada["id"])])
    served.change("faces/link", [("face", faces["c2.jpg"]), ("op", "link"), ("identity", dora["id"])])
    told = served.change(f"identities/{dora['id']}/merge", [("into", ada["id"])])
    assert told == "merged Dora M. into Ada: 1 face(s) moved; 1 left to nobody, as a person rejected them for Ada"
    after = view(case)
    assert dora["id"] not in after.identities and after.face_identity[faces["c1.jpg"]] == ada["id"]
    assert faces["c2.jpg"] not in after.face_identity
    assert (
        served.change(f"identities/{ada['id']}/merge", [("into", ada["id"])])
        == "an identity cannot be merged into itself"
    )
    status, headers, _ = served.post(f"identities/{ada['id']}/delete", [])
    assert status == 303 and headers["Location"].startswith(served.at("identities?note="))
    assert "Ada" not in [i["name"] for i in view(case).identities.values()]
    kinds = [(r["name"], bool(r.get("deleted"))) for r in records(case, "identities")]
    assert kinds[-1] == ("Ada", True) and ("Dora M.", True) in kinds


def test_proposals_confirmed_and_rejected(served, case):
    faces = faces_by_photo(case)
    page = served.page("proposals")
    assert [faces[n] in page for n in ("c1.jpg", "c2.jpg", "c3.jpg", "c4.jpg")] == [True, True, False, True]
    ada, bob = identity_named(case, "Ada"), identity_named(case, "Bob")
    assert served.change(
        "proposals/review", [("face", faces["c1.jpg"]), ("identity", ada["id"]), ("decision", "confirm")]
    ).startswith("linked face")
    assert "will not be proposed again" in served.change(
        "proposals/review", [("face", faces["c2.jpg"]), ("identity", bob["id"]), ("decision", "reject")]
    )
    page = served.page("proposals")
    assert faces["c4.jpg"] in page and faces["c1.jpg"] not in page and faces["c2.jpg"] not in page
    assert "2 settled since" in page
    assert faces["c2.jpg"] not in served.page("proposals?refresh=1")
    links = [(r["face"], r["identity"], r["op"], r["source"]) for r in records(case, "links")]
    assert (faces["c1.jpg"], ada["id"], "link", "review") in links
    assert (faces["c2.jpg"], bob["id"], "reject", "manual") in links


def test_proposals_of_a_large_dataset_are_computed_in_the_background(served, monkeypatch):
    from recops.webui import sites

    release, slow = threading.Event(), sites.match_faces
    monkeypatch.setattr(sites, "PROPOSALS_WAIT", 0.05)
    monkeypatch.setattr(sites, "match_faces", lambda *args: release.wait(20) and slow(*args))
    waiting = served.page("proposals")
    assert "reloads by itself" in waiting and '<meta http-equiv="refresh" content="2; url=/d/' in waiting
    assert "Faces" in served.page("faces"), "the rest of the interface answers meanwhile"
    release.set()
    for _ in range(100):
        page = served.page("proposals")
        if "reloads by itself" not in page:
            break
    assert page.count('<tr id="proposal-') == 3


def test_delete_faces_and_images_removes_their_thumbnails(served, case):
    faces = faces_by_photo(case)
    status, headers, data = served.get(served.at(f"thumbs/faces/{faces['c3.jpg']}.jpg"))
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and Image.open(io.BytesIO(data)).size[0] <= 160
    cached = os.path.join(case, "cache", "thumbs", "faces", f"{faces['c3.jpg']}.jpg")
    assert stat.S_IMODE(os.stat(cached).st_mode) == 0o600
    assert served.change("faces/delete", [("face", faces["c3.jpg"])]).startswith("deleted 1 face")
    assert served.get(served.at(f"thumbs/faces/{faces['c3.jpg']}.jpg"))[0] == 404
    assert not os.path.exists(cached)
    image = faces_image(case, "c2.jpg")
    served.get(served.at(f"thumbs/images/{image}.jpg"))
    status, headers, _ = served.post(f"images/{image}/delete", [])
    assert status == 303 and headers["Location"].startswith(served.at("images?note="))
    served.page("images")
    assert served.get(served.at(f"images/{image}"))[0] == 404
    assert not os.path.exists(os.path.join(case, "cache", "thumbs", "images", f"{image}.jpg"))
    assert {(r["target"], r["id"]) for r in records(case, "deletions")} == {("face", faces["c3.jpg"]), ("image", image)}


def test_the_faces_of_one_photo_are_cut_from_one_decode(case):
    from recops.webui.thumbs import Thumbnails

    image = faces_image(case, "c1.jpg")
    faces = [
        {"id": n * 32, "image": image, "box": box} for n, box in (("a", [0, 0, 100, 80]), ("b", [150, 100, 300, 220]))
    ]
    thumbs = Thumbnails(case)
    left = Image.open(io.BytesIO(thumbs.face(faces[0], faces)))
    assert os.path.exists(thumbs.path("faces", "b" * 32)) and left.size == (125, 100)
    view = Image.open(io.BytesIO(thumbs.image(image, "views")))
    assert view.size == (320, 240)
    assert thumbs.prune({"a" * 32}, set()) == 2 and os.listdir(os.path.dirname(thumbs.path("faces", "x"))) == [
        "a" * 32 + ".jpg"
    ]


def test_snapshots_decode_each_record_file_once_and_forget_removed_ones(case):
    """What rx-gc does to record files (a compaction removes files, writes new ones) shows too."""
    from recops.webui.snapshot import SegmentCache, Snapshot

    faces = faces_by_photo(case)
    cache = SegmentCache()
    with Dataset.open(case) as dataset:
        editor = IdentityEditor(dataset)
        editor.link(faces["c3.jpg"], editor.create("Eve")["id"])
        dataset.flush()
        first = Snapshot.read(dataset, cache=cache)
        assert faces["c3.jpg"] in first.view.face_identity
        newest = dataset.log("links").segments()[-1]
        kept = [r for r in newest.records() if r["face"] != faces["c3.jpg"]]
        os.chmod(newest.path, 0o600)
        os.unlink(newest.path)
        for record in kept:
            dataset.log("links").append(record)
        dataset.flush()
        cache.forget_missing()
        again = Snapshot.read(dataset, cache=cache)
    with Dataset.open(case) as reopened:  # what a process that opens it now sees
        fresh = Snapshot.read(reopened)
    assert faces["c3.jpg"] not in again.view.face_identity
    assert again.view.face_identity == fresh.view.face_identity and again.images == fresh.images
    assert again.faces == fresh.faces and len(again.images) == 6


def test_changes_made_elsewhere_show_on_the_next_page(served, case):
    faces = faces_by_photo(case)
    assert "Eve" not in served.page("identities")
    with Dataset.open(case) as dataset:
        editor = IdentityEditor(dataset)
        editor.link(faces["c3.jpg"], editor.create("Eve")["id"])
    assert "Eve" in served.page("identities") and faces["c3.jpg"] not in served.page("faces?identity=none")


def test_upload_recognises_the_photo_and_shows_the_report(served, case, tmp_path):
    draw_photo(tmp_path / "new.jpg", (198, 41, 44), 99)
    status, headers, _ = served.upload("../../new.jpg", (tmp_path / "new.jpg").read_bytes())
    assert status == 303 and "/recognitions/" in headers["Location"]
    image = re.search(r"/recognitions/([0-9a-f]{32})", headers["Location"]).group(1)
    with Dataset.open(case) as dataset:
        kept = ImageCatalog.of(dataset).get(image)
    assert kept["query"] and os.path.basename(kept["paths"][0]) == "new.jpg"
    assert "recops-webui-upload-" in kept["paths"][0] and not os.path.exists(kept["paths"][0])
    page = served.page(f"recognitions/{image}")
    assert f"/recognitions/{image}/report" in page and "<iframe" in page
    assert "nearest: Ada, 0.000" in page and ">It is Ada</button>" in page and ">Not Ada</button>" in page
    status, headers, report = served.get(served.at(f"recognitions/{image}/report"))
    report = report.decode()
    assert status == 200 and "Recognition of new.jpg" in report and "Ada" in report and "(nearest match)" in report
    assert "form-action 'none'" in headers["Content-Security-Policy"]
    assert "new.jpg" in served.page("recognitions")
    assert served.get(served.at(f"recognitions/{faces_image(case, 'c3.jpg')}/report"))[0] == 404


def test_a_photo_the_dataset_holds_is_recognised_kept_and_stays_in_the_gallery(served, case, tmp_path):
    """Recognising a photo the dataset imported already: its recognition is listed and reported
    (it once showed "recognised", then 404), and the photo stays in the gallery, not a query."""
    crowd = tmp_path / "photos" / "crowd"
    faces = faces_by_photo(case)
    found = {}
    for name in ("c3.jpg", "c1.jpg", "c4.jpg"):  # near no one; near Ada; near Ada and c1
        status, headers, _ = served.upload(name, (crowd / name).read_bytes())
        assert status == 303 and "/recognitions/" in headers["Location"]
        found[name] = re.search(r"/recognitions/([0-9a-f]{32})", headers["Location"]).group(1)
        assert found[name] == faces_image(case, name)
        status, _, report = served.get(served.at(f"recognitions/{found[name]}/report"))
        assert status == 200 and f"Recognition of {name}" in report.decode()
    assert "nearest: Ada" in served.page(f"recognitions/{found['c1.jpg']}")
    listed = served.page("recognitions")
    assert listed.index("c4.jpg") < listed.index("c1.jpg") < listed.index("c3.jpg"), "newest first"
    assert "<b>3</b>recognitions" in served.page("")
    with Dataset.open(case) as dataset:
        assert not [i for i in ImageCatalog.of(dataset) if i["query"]], "no photo became a query"
    matched = {m["candidate"] for m in records(case, "matches") if m.get("query") == faces["c4.jpg"]}
    assert faces["c1.jpg"] in matched, "c1, recognised before, is still in the gallery"


def test_a_recognition_on_the_command_line_of_a_photo_the_dataset_holds_is_in_its_report(case, tmp_path):
    photo = tmp_path / "photos" / "crowd" / "c3.jpg"
    result = CliRunner().invoke(porcelain_app, ["recognize", "-d", case, str(photo)])
    assert result.exit_code == 0, result.output
    result = subprocess.run(
        [tool("rx-report"), "-d", case, "-o", str(tmp_path / "kept.html")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "kept.html").read_text()
    assert (
        f'id="image-{faces_image(case, "c3.jpg")}"' in html and f'id="image-{faces_image(case, "c2.jpg")}"' not in html
    )


def test_upload_of_something_else_is_told_and_stores_nothing(served, case):
    before = records(case, IMAGES)
    status, headers, _ = served.upload("notes.txt", b"not a photo")
    assert status == 303
    note = served.get(headers["Location"])[2].decode()
    assert 'class="note error"' in note and "JPEG" in note
    assert records(case, IMAGES) == before


# -- refusals


def test_changes_need_the_token_the_origin_and_a_post(served, case):
    faces = faces_by_photo(case)
    ada = identity_named(case, "Ada")
    fields = [("face", faces["c1.jpg"]), ("op", "link"), ("identity", ada["id"])]
    before = records(case, "links")
    assert served.post("faces/link", fields, token=None)[0] == 403
    assert served.post("faces/link", fields, token="forged")[0] == 403
    assert served.post("faces/link", fields, origin="http://evil.example")[0] == 403
    assert served.post("faces/link", fields, origin="null")[0] == 403
    assert served.post("faces/link", fields, origin=None)[0] == 403
    assert served.post("faces/link", fields, origin=None, Referer=f"http://{served.host}/d/")[0] == 303
    assert served.get(served.at("faces/link?" + urllib.parse.urlencode(fields)))[0] == 405
    assert served.request("PUT", served.at("faces/link"), b"")[0] == 405
    assert served.request("DELETE", served.at(f"identities/{ada['id']}"))[0] == 405
    assert served.post("images", [])[0] == 405
    assert len(records(case, "links")) == len(before) + 1


def test_an_oversized_request_is_refused_unread(served):
    status, _, body = served.request(
        "POST",
        served.at("faces/link"),
        None,
        {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(10**9), "Origin": None},
    )
    assert status == 413 and b"larger than" in body
    assert served.request("POST", served.at("faces/link"), None, {"Content-Type": "text/plain"})[0] == 411


def test_a_foreign_host_name_reads_nothing(served):
    """DNS rebinding: a hostile name resolved to 127.0.0.1 gets no page."""
    assert served.get(served.at(""), Host="evil.example:80")[0] == 403
    assert served.get(served.at(""), Host=f"evil.example:{served.host.split(':')[1]}")[0] == 403
    assert served.get(served.at(""), Host=f"localhost:{served.host.split(':')[1]}")[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/image/../../etc/passwd",
        "/d/KEY/images/../../../../etc/passwd",
        "/d/KEY/images/not-hex",
        "/d/KEY/thumbs/faces/..%2f..%2f..%2fetc%2fpasswd.jpg",
        "/d/KEY/original/%2e%2e%2frecops.json",
        "/d/KEY/original/" + "0" * 32,
        "/d/KEY/thumbs/faces/" + "0" * 32 + ".jpg",
        "/d/" + "0" * 32 + "/images",
        "/d/KEY/thumbs/other/" + "0" * 32 + ".jpg",
        "/d/KEY/recognitions/" + "0" * 32 + "/report",
        "/d/KEY/../../recops.json",
        "/etc/passwd",
        "/d/KEY/images/" + "A" * 32,
    ],
)
def test_never_serves_files_outside_the_dataset(served, path):
    status, _, body = served.get(path.replace("KEY", served.key))
    assert status == 404 and b"root:" not in body and b'"detector"' not in body


def test_serves_a_face_by_id_only_as_its_thumbnail(served, case):
    image = faces_image(case, "c1.jpg")
    assert served.get(served.at(f"thumbs/faces/{image}.jpg"))[0] == 404, "an image id is no face"
    status, headers, data = served.get(served.at(f"original/{image}"))
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and data[:2] == b"\xff\xd8"
    assert headers["Content-Disposition"] == f'inline; filename="{image}.jpg"'


def test_hostile_names_are_text(served, case):
    served.change("identities", [("name", "<script>alert(1)</script>"), ("color", "#ff0000")])
    page = served.page("identities")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page


def test_a_redirect_stays_on_this_server():
    assert local_path("/d/x/faces?page=2", "/") == "/d/x/faces?page=2"
    for target in (
        "//evil.example/",
        "http://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "",
        None,
        "/d/\r\nSet-Cookie: x",
    ):
        assert local_path(target, "/fallback") == "/fallback"


def test_guard_accepts_the_names_of_this_server_only():
    guard = Guard("127.0.0.1", 5000)
    assert all(guard.accepts(h) for h in ("localhost:5000", "127.0.0.1:5000", "[::1]:5000", "LocalHost.:5000"))
    assert not any(
        guard.accepts(h)
        for h in (
            "127.0.0.1:5001",
            "localhost",
            "evil.example:5000",
            "10.0.0.7:5000",
            "",
            None,
            ":5000",
            "localhost:5000:1",
        )
    )
    with pytest.raises(Refused):
        guard.check_host("127.0.0.1:5001")
    anywhere = Guard("0.0.0.0", 5000, allowed=["Case.Lan"])
    assert all(
        anywhere.accepts(h)
        for h in (
            "10.0.0.7:5000",
            "[fe80::1]:5000",
            "127.0.0.1:5000",
            "localhost:5000",
            f"{socket.gethostname()}:5000",
            f"{socket.getfqdn()}:5000",
            "case.lan:5000",
        )
    )
    assert not any(
        anywhere.accepts(h)
        for h in (
            "evil.example:5000",
            "anything:1",
            "10.0.0.7:5001",
            "case.lan",
            "[10.0.0.7]:5000",
            "fe80::1:5000",
            "10.0.0.7.nip.io:5000",
            "2130706433:5000",
            "localhost.evil.example:5000",
        )
    )
    assert Guard("::", 80).accepts("[::1]") and Guard("192.168.1.5", 80, allowed=["case.lan"]).accepts("case.lan")


# -- datasets and the command


def test_datasets_under_a_folder_are_listed(tmp_path, fake_models):
    make_case(tmp_path / "one")
    create_dataset(str(tmp_path / "two.rx")).close()
    server, _ = make_server(Sites(folder=str(tmp_path)), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        client = Client(url_of(server), "")
        status, _, body = client.get("/")
        page = body.decode()
        assert status == 200 and page.count('<a href="/d/') == 2
        assert str(tmp_path / "one" / "case.rx") in page and str(tmp_path / "two.rx") in page
        client.key = site_key(str(tmp_path / "two.rx"))
        assert "<b>0</b>images" in client.page("")
    finally:
        server.shutdown()
        server.server_close()


def start_command(args: list[str], env: dict | None = None) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [tool("recops"), "webui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    lines = []
    for line in process.stderr:
        lines.append(line.decode())
        if lines[-1].startswith("recops webui: serving on"):
            return process, "".join(lines)
    raise AssertionError(f"no address: {''.join(lines)}")


def test_the_command_serves_a_dataset_and_stops_on_ctrl_c(case):
    process, said = start_command(["-d", case, "-p", "0"])
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+/", said).group(0)
        client = Client(url, site_key(case))
        status, headers, _ = client.get("/")
        assert status == 303 and headers["Location"] == f"/d/{client.key}/"
        assert "Ada" in client.page("identities")
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    assert process.returncode == 0 and out == b""


def test_the_command_warns_when_others_may_reach_it_and_answers_its_names_only(case):
    """On every address, a hostile name resolved to the machine (DNS rebinding) still reads nothing."""
    process, said = start_command(["-h", "0.0.0.0", "--port", "0", "--dataset", case, "--allow-host", "case.lan"])
    try:
        port = re.search(r"http://0\.0\.0\.0:(\d+)/", said).group(1)
        client = Client(f"http://127.0.0.1:{port}/", site_key(case))
        assert client.get(client.at(""), Host=f"evil.example:{port}")[0] == 403
        assert client.get(client.at(""), Host=f"case.lan:{port}")[0] == 200
        assert client.get(client.at(""), Host=f"localhost:{port}")[0] == 200
        assert "Ada" in client.page("identities")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert "other machines may reach" in said and "biometric" in said and process.returncode == 0


def test_the_command_lists_the_datasets_of_recops_home(tmp_path, fake_models):
    make_case(tmp_path)
    process, said = start_command(["-p", "0"], {"RECOPS_HOME": str(tmp_path)})
    try:
        client = Client(re.search(r"http://[^ ]+/", said).group(0), "")
        assert str(tmp_path / "case.rx") in client.get("/")[2].decode()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)


def test_help_is_only_long_as_minus_h_is_the_host():
    helped = subprocess.run([tool("recops"), "webui", "--help"], capture_output=True, timeout=60)
    assert helped.returncode == 0 and b"-h, --host" in helped.stdout and b"--help is the only" in helped.stdout
    missing = subprocess.run([tool("recops"), "webui", "-h"], capture_output=True, timeout=60)
    assert missing.returncode == 2 and b"requires an argument" in missing.stderr


def test_a_missing_dataset_fails_at_start(tmp_path):
    result = subprocess.run(
        [tool("recops"), "webui", "-d", str(tmp_path / "nothing.rx"), "-p", "0"], capture_output=True, timeout=60
    )
    assert result.returncode == 3 and b"no such dataset" in result.stderr
