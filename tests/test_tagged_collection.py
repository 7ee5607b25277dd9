"""A collection tagged in digiKam or Lightroom enrols itself: exiftool writes the MWG face regions
(sidecars by either name, and into a photo), and the real pipeline turns them into links."""

import json
import os
import shutil
import subprocess

import pytest
from conftest import jsonl, run

pytestmark = pytest.mark.slow
EXIFTOOL = shutil.which("exiftool")
PEOPLE = {"biden.jpg": "Joe Biden", "obama.jpg": "Barack Obama", "obama2.jpg": "Barack Obama"}


def find(folder: str, name: str) -> str:
    return next(os.path.join(d, name) for d, _, files in os.walk(folder) if name in files)


def region_info(box: list[int], width: int, height: int, name: str) -> str:
    """exiftool's own structure for MWG regions: a hand-drawn region, a little larger than the face."""
    left, top, right, bottom = box
    w, h = (right - left) * 1.2 / width, (bottom - top) * 1.25 / height
    x, y = (left + right) / 2 / width, (top + bottom) / 2 / height
    return (
        f"{{AppliedToDimensions={{W={width},H={height},Unit=pixel}},RegionList=[{{Area={{X={x:.5f},Y={y:.5f},"
        f"W={w:.5f},H={h:.5f},Unit=normalized}},Name={name},Type=Face}}]}}"
    )


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed (Debian libimage-exiftool-perl)")
def test_regions_exiftool_wrote_become_links_through_import_detect_embed_and_review(tmp_path, real_photos):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in PEOPLE:
        shutil.copyfile(find(real_photos, name), photos / name)
    # where dlib finds each face, to draw the regions a person would have drawn around it
    probe = run(["rx-import", "-d", str(tmp_path / "probe.rx"), str(photos)])
    found = jsonl(run(["rx-detect"], input=probe.stdout).stdout)
    images = {r["id"]: r for r in found if r["type"] == "image"}
    boxes = {os.path.basename(images[r["image"]]["path"]): r["box"] for r in found if r["type"] == "face"}
    assert sorted(boxes) == sorted(PEOPLE)

    for name, person in PEOPLE.items():
        image = next(i for i in images.values() if i["path"].endswith(name))
        tag = f"-XMP-mwg-rs:RegionInfo={region_info(boxes[name], image['width'], image['height'], person)}"
        target = {
            "biden.jpg": ["-o", str(photos / "biden.jpg.xmp"), str(photos / name)],  # digiKam's sidecar
            "obama.jpg": ["-overwrite_original", str(photos / name)],  # inside the photo
            "obama2.jpg": [str(photos / "obama2.xmp")],  # Lightroom's sidecar, made from nothing
        }[name]
        subprocess.run([EXIFTOOL, "-q", tag, *target], check=True)

    root = str(tmp_path / "case.rx")
    imported = run(["rx-import", "-d", root, str(photos)])
    assert imported.returncode == 0, imported.stderr
    assert run(["rx-identity", "create", "Barack Obama", "-d", root]).returncode == 0
    sources = {os.path.basename(r["path"]): r["regions_source"] for r in jsonl(imported.stdout)}
    assert sources == {"biden.jpg": "sidecar", "obama.jpg": "embedded", "obama2.jpg": "sidecar"}
    embedded = run(["rx-embed"], input=run(["rx-detect"], input=imported.stdout).stdout)
    assert embedded.returncode == 0, embedded.stderr

    proposed = run(["rx-review", "propose", "-d", root], stdin=subprocess.DEVNULL)
    offers = jsonl(proposed.stdout)
    assert sorted((p["identity_name"], p["source"]) for p in offers) == [
        ("Barack Obama", "xmp"),
        ("Barack Obama", "xmp"),
        ("Joe Biden", "xmp"),
    ]
    assert all(p["overlap"] > 0.6 for p in offers)
    assert ("identity" in offers[0], "identity" in offers[-1]) == (True, False)  # Biden is nobody yet

    applied = run(["rx-review", "apply", "-d", root], input=proposed.stdout)
    assert applied.returncode == 0, applied.stderr
    links = [r for r in jsonl(applied.stdout) if r["type"] == "link"]
    assert len(links) == 3 and {link["source"] for link in links} == {"xmp"}
    identities = jsonl(run(["rx-ls", "identities", "-d", root, "-f", "json"]).stdout)
    assert {i["name"]: i["faces"] for i in identities} == {"Barack Obama": 2, "Joe Biden": 1}
    assert jsonl(run(["rx-review", "propose", "-d", root], stdin=subprocess.DEVNULL).stdout) == []
    assert json.loads(run(["rx-ls", "images", "-d", root, "--camera", "canon"]).stdout.splitlines()[0])["taken"]
