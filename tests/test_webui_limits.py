"""What a client can take from recops webui: threads held by requests that never arrive, memory
taken by a large upload. Real sockets against a real server: a thread of this process, or a
process of its own where its memory is measured."""

import io
import os
import random
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from conftest import REPO
from test_webui import Client, draw_photo, make_case

from recops.webui import make_server, url_of
from recops.webui.server import BadRequest, Limits, Request, discard, read_form
from recops.webui.sites import Sites, site_key

TESTS = os.path.join(REPO, "tests")
MB = 1 << 20


def rss(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak since start, or since the last reset) of a process, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        return {
            k: int(v.split()[0]) * 1024 for k, v in (line.split(":", 1) for line in status) if k in ("VmRSS", "VmHWM")
        }


SERVE = """
import sys
sys.path.insert(0, {tests!r})
from conftest import FakeDetector, FakeEmbedder
from recops import models
models.register_detector("fake", FakeDetector)
models.register_embedder("Fake", FakeEmbedder)
from recops.webui import serve
serve({root!r}, "", "127.0.0.1", 0, announce=lambda url: print(url, flush=True))
"""


def test_a_60_mb_upload_takes_about_one_copy_of_memory(tmp_path, fake_models):
    """The upload's body goes to a temporary file as it arrives; the server once held it in
    memory a dozen times over (48 MB to 790 MB of RSS for 60 MB)."""
    root = make_case(tmp_path)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE.format(tests=TESTS, root=root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        client = Client(server.stdout.readline().decode().strip(), site_key(root))
        draw_photo(tmp_path / "small.jpg", (198, 41, 44), 99)
        photo = (tmp_path / "small.jpg").read_bytes()
        assert client.upload("small.jpg", photo)[0] == 303, "a first upload loads what every upload needs"
        before = rss(server.pid)["VmRSS"]
        with open(f"/proc/{server.pid}/clear_refs", "w") as reset:
            reset.write("5")  # VmHWM starts again from VmRSS
        size = 60 * MB
        large = photo + random.Random(1).randbytes(size - len(photo))  # a whole JPEG, then bytes it ignores
        status, headers, _ = client.upload("large.jpg", large)
        assert status == 303 and "/recognitions/" in headers["Location"], status
        growth = rss(server.pid)["VmHWM"] - before
        print(f"server RSS {before / MB:.0f} MB, peak {(before + growth) / MB:.0f} MB during a 60 MB upload")
        assert growth < 2.5 * size, f"the server grew by {growth / MB:.0f} MB for a {size / MB:.0f} MB upload"
    finally:
        server.terminate()
        server.communicate(timeout=20)


@pytest.fixture
def limited(tmp_path, fake_models):
    """Serves the case with the limits asked for: (server, Client)."""
    root = make_case(tmp_path)
    servers = []

    def serve(**limits):
        server, _ = make_server(Sites(dataset=root), "127.0.0.1", 0, Limits(**limits))
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server, Client(url_of(server), site_key(root))

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def until(condition, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def answer(sock: socket.socket, seconds: float = 10.0) -> bytes | None:
    """What the server sends until it closes the connection; None if it has not closed it in time."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        return None
    return received


def test_slow_clients_are_cut_off_while_others_are_served(limited):
    """40 clients that announce a body and never send it, send it a byte at a time, or send their
    headers a line at a time: each is cut off at its deadline, none stops a normal request."""
    server, client = limited(header_timeout=1.0, body_timeout=1.0, connections=64)
    before = threading.active_count()
    post = (
        f"POST {client.at('faces/link')} HTTP/1.1\r\nHost: {client.host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    silent, body_drip, header_drip = (
        [socket.create_connection(server.server_address[:2]) for _ in range(n)] for n in (20, 10, 10)
    )
    for sock in silent + body_drip:
        sock.sendall(post)
    for sock in header_drip:
        sock.sendall(f"GET {client.at('')} HTTP/1.1\r\nHost: {client.host}\r\n".encode())
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(0.1):
            for sock, data in [(s, b"a") for s in body_drip] + [(s, b"X-Drip: 1\r\n") for s in header_drip]:
                try:
                    sock.send(data)
                except OSError:
                    pass

    dripping = threading.Thread(target=drip, daemon=True)
    dripping.start()
    try:
        assert until(lambda: threading.active_count() >= before + 40), "the server took every connection"
        assert "Ada" in client.page("identities"), "a normal request is answered meanwhile"
        answers = [answer(sock) for sock in silent + body_drip + header_drip]
    finally:
        stop.set()
        dripping.join()
        for sock in silent + body_drip + header_drip:
            sock.close()
    assert None not in answers, f"{answers.count(None)} of 40 slow clients still held a thread"
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers[:20]), answers[:20]
    assert until(lambda: threading.active_count() <= before), "every thread ended"
    assert "Ada" in client.page("identities")


def test_connections_over_the_cap_are_answered_503_at_once(limited):
    server, client = limited(header_timeout=5.0, connections=4)
    before = threading.active_count()
    held = [socket.create_connection(server.server_address[:2]) for _ in range(4)]
    try:
        assert until(lambda: threading.active_count() >= before + 4)
        extra = socket.create_connection(server.server_address[:2])
        said = answer(extra, 3.0)
        assert said is not None and said.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 5" in said, said
    finally:
        for sock in held:
            sock.close()
    assert until(lambda: threading.active_count() <= before)
    assert "Ada" in client.page("identities")


BOUNDARY = "b0undary"
FILE = b"\r\n--b0undar\r\n-b0undary\r--b0undary\n--b0undary" + bytes(range(256)) * 20 + b"\r\n"
"""A file whose bytes come close to the delimiter (CRLF, --, the boundary) without being it."""
BODY = (
    b'preamble\r\n--b0undary\r\nContent-Disposition: form-data; name="csrf"\r\n\r\ntok\xc3\xa9n\r\n'
    b'--b0undary \t\r\nContent-Disposition: form-data; name="photo"; filename="../../a b.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n" + FILE + b"\r\n--b0undary\r\nContent-Disposition: form-data; "
    b'name="empty"\r\n\r\n\r\n--b0undary--\r\nepilogue'
)


def multipart(body: bytes, piece: int) -> Request:
    """A request whose multipart body arrives `piece` bytes at a time."""
    stream = io.BytesIO(body)
    request = Request("POST", "/", {}, {"content-type": f'multipart/form-data; boundary="{BOUNDARY}"'})
    read_form(request, lambda n: stream.read(min(n, piece)), len(body))
    return request


@pytest.mark.parametrize("piece", [1, 3, 17, 1 << 16])
def test_a_multipart_form_is_read_in_pieces_to_a_private_file(piece, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    request = multipart(BODY, piece)
    assert request.form == {"csrf": ["tokén"], "empty": [""]}
    upload = request.files["photo"]
    assert upload.filename == "../../a b.jpg" and os.path.basename(upload.path) == "a b.jpg"
    with open(upload.path, "rb") as handle:
        assert handle.read() == FILE
    assert stat.S_IMODE(os.stat(os.path.dirname(upload.path)).st_mode) == 0o700
    discard(request)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "body",
    [
        BODY[:-40],
        BODY.replace(b"--b0undary--", b"--b0undary"),
        BODY[:60],
        BODY.replace(b"--b0undary \t", b"--b0undaryX"),
    ],
)
def test_a_malformed_multipart_form_is_refused_and_leaves_no_file(body, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(BadRequest) as refused:
        multipart(body, 5)
    assert refused.value.status == 400
    assert os.listdir(tmp_path) == []
