"""recops webui with the real models (dlib's detector, the Dlib recogniser) on real photos: Obama
and Biden enrolled, another photo of Obama uploaded through the interface and recognised as him,
and the face thumbnails it serves are faces the detector finds again."""

import io
import os
import re
import shutil
import threading

import pytest
from PIL import Image
from test_webui import Client

from recops.datasets import create_dataset
from recops.stages.detection import DetectOptions, find_faces
from recops.stages.folder_imports import import_identities
from recops.store.dataset import Dataset
from recops.stream import Emitter
from recops.webui import make_server, url_of
from recops.webui.sites import Sites, site_key

pytestmark = pytest.mark.slow


def photo(real_photos: str, person: str, name: str) -> str:
    """A photo of the face_recognition project: in a folder per person (../shared/faces), or flat (its sdist)."""
    nested = os.path.join(real_photos, person, name)
    return nested if os.path.exists(nested) else os.path.join(real_photos, name)


@pytest.fixture
def served(tmp_path, real_photos):
    for person, name in (("obama", "obama.jpg"), ("biden", "biden.jpg")):
        os.makedirs(tmp_path / "people" / person)
        shutil.copy(photo(real_photos, person, name), tmp_path / "people" / person / name)
    root = str(tmp_path / "case.rx")
    create_dataset(root).close()
    with Dataset.open(root) as dataset:
        out = []
        import_identities(dataset, str(tmp_path / "people"), Emitter(out.append))
    assert not [r for r in out if r["type"] == "error"], out
    server, _ = make_server(Sites(dataset=root), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield Client(url_of(server), site_key(root))
    server.shutdown()
    server.server_close()


def test_an_uploaded_photo_is_recognised_with_the_real_models(served, real_photos):
    with open(photo(real_photos, "obama", "obama2.jpg"), "rb") as handle:
        data = handle.read()
    status, headers, _ = served.upload("obama2.jpg", data)
    assert status == 303 and "/recognitions/" in headers["Location"], headers
    image = re.search(r"/recognitions/([0-9a-f]{32})", headers["Location"]).group(1)
    report = served.get(served.at(f"recognitions/{image}/report"))[2].decode()
    assert re.search(r"Face 1: <span class=\"swatch\"[^>]*></span>obama <small>\(nearest match\)</small>", report)
    assert "biden" not in re.search(r"<table class=\"matches\">.*?</table>", report, re.S).group(0)

    page = served.page("faces")
    faces = re.findall(r'id="face-([0-9a-f]{32})"', page)
    assert len(faces) == 3
    for face in faces:
        status, _, thumb = served.get(served.at(f"thumbs/faces/{face}.jpg"))
        shown = Image.open(io.BytesIO(thumb)).convert("RGB")
        larger = io.BytesIO()
        shown.resize((shown.width * 2, shown.height * 2)).save(larger, "PNG")
        assert status == 200 and len(find_faces(larger.getvalue(), DetectOptions("dlib", True))) == 1
