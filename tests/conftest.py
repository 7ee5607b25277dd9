import io
import os
import random
import subprocess
import sys
import tarfile

import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
SHARED_FACES = os.path.normpath(os.path.join(REPO, "..", "shared", "faces"))
CACHE = os.path.join(REPO, ".cache")
# The tests' own deepface home: never the user's ~/.deepface, and filled from installed packages
# only (rx-models provide), so a test can never download a weight file.
os.environ["DEEPFACE_HOME"] = os.path.join(CACHE, "deepface-home")


def tool(name: str) -> str:
    return os.path.join(BIN, name)


def command(name: str) -> list[str]:
    """How to start a tool: its installed script, or, for a tool added since the environment was
    installed, its module's main."""
    from recops.cli import TOOLS

    if os.path.exists(tool(name)) or name not in TOOLS:
        return [tool(name)]
    return [sys.executable, "-c", f"import sys; sys.argv[0] = {name!r}; from {TOOLS[name]} import main; main()"]


def run(args: list[str], input: bytes | None = None, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """Run an installed tool for real: its own process, real pipes."""
    return subprocess.run(
        command(args[0]) + args[1:],
        input=input,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        **kw,
    )


def jsonl(data: bytes) -> list[dict]:
    import json

    return [json.loads(line) for line in data.splitlines() if line.strip()]


def make_jpeg(seed: int, size=(64, 48), **save) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    for _ in range(20):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        image.putpixel((x, y), tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "JPEG", **save)
    return out.getvalue()


def make_png(seed: int, size=(40, 30), mode="RGB") -> bytes:
    rng = random.Random(seed)
    image = Image.new(
        mode, size, rng.randrange(256) if mode in ("L", "P") else tuple(rng.randrange(256) for _ in range(len(mode)))
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def face_recognition_photos() -> str:
    """The face_recognition project's photos: from ../shared/faces, else from its sdist on PyPI."""
    shared = os.path.join(SHARED_FACES, "face_recognition")
    if os.path.isdir(shared):
        return shared
    target = os.path.join(CACHE, "face_recognition-test-photos")  # the demo keeps its own beside it
    if not os.path.isdir(target):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "face_recognition==1.3.0",
                "-d",
                CACHE,
                "-q",
            ],
            check=True,
        )
        sdist = next(f for f in os.listdir(CACHE) if f.startswith("face_recognition-") and f.endswith(".tar.gz"))
        with tarfile.open(os.path.join(CACHE, sdist)) as archive:
            members = [m for m in archive.getmembers() if m.isfile() and "/tests/test_images/" in m.name]
            for member in members:
                # Its tests' photos only (its docs' icons are no photos); each named after who is in
                # it, as the tests tell people apart by name: 32bit.png is Obama too.
                name = os.path.basename(member.name)
                member.name = "obama_32bit.png" if name == "32bit.png" else name
                archive.extract(member, target, filter="data")
    return target


def shared_photo(path: str | None, name: str) -> str:
    """`path`, or a skip where `name` is one of the photos that only ../shared/faces holds (the
    face_recognition sdist, a user's clone's source, has its tests' 7 photos)."""
    if not path or not os.path.exists(path):
        pytest.skip(f"{name} is in ../shared/faces/face_recognition only, not in the face_recognition sdist")
    return path


@pytest.fixture(scope="session")
def real_photos() -> str:
    return face_recognition_photos()


@pytest.fixture
def photos(tmp_path):
    """A folder of small generated images: 3 JPEG, 2 PNG, all distinct."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        (folder / f"img{i}.jpg").write_bytes(make_jpeg(i))
    for i in range(2):
        (folder / f"pic{i}.png").write_bytes(make_png(100 + i))
    return folder


@pytest.fixture
def dataset(tmp_path):
    from recops.datasets import create_dataset

    root = tmp_path / "case.rx"
    create_dataset(str(root)).close()
    return root


class FakeDetector:
    """One face in the middle of any image that is not all one colour; none in a flat one."""

    name = "fake"

    def detect(self, image):
        from recops.models import FoundFace

        if (image == image[0, 0]).all():
            return []
        h, w = image.shape[:2]
        box = (w // 4, h // 4, 3 * w // 4, 3 * h // 4)
        return [FoundFace(box, 0.9, {"left_eye": [0.6 * w, 0.4 * h], "right_eye": [0.4 * w, 0.4 * h]}, "fake")]


class FakeEmbedder:
    """The mean colour of the box and its size: equal faces, equal vectors."""

    name = "Fake"
    dim = 4
    version = "fake-1"
    normalization = "base"

    def embed(self, image, faces, align, flip=False):
        import numpy as np

        rows = []
        for face in faces:
            left, top, right, bottom = face["box"]
            crop = image[top:bottom, left:right].reshape(-1, 3).astype(np.float32)
            rows.append([*crop.mean(axis=0), right - left])
        return np.asarray(rows, dtype=np.float32).reshape(len(faces), self.dim)


@pytest.fixture
def fake_models():
    from recops import models

    models.register_detector("fake", FakeDetector)
    models.register_embedder("Fake", FakeEmbedder)
    yield
    models._detector_factories.pop("fake", None)
    models._embedder_factories.pop("Fake", None)
