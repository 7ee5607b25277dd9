"""The HTTP pieces the web interface needs from the standard library: a request with its form
(URL-encoded, or multipart with its files streamed to a private temporary folder), a response,
and a threaded server that no client can hold: each request must arrive whole within a time
limit, and connections over a cap are answered 503 at once."""

from __future__ import annotations

import email.parser
import email.policy
import io
import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger("recops")
MAX_FORM = 1 << 20
CHUNK = 1 << 16
MAX_PART_HEADERS = 16 << 10
MAX_PARTS = 64
UPLOAD_PREFIX = "recops-webui-upload-"
_UNSAFE = re.compile(r"[^\w.() -]+")


@dataclass(frozen=True)
class Limits:
    """What one client may hold of the server."""

    header_timeout: float = 10.0
    """Seconds for a request's line and headers to arrive, counted from when the server waits
    for them (so also how long a kept-alive connection may idle)."""
    body_timeout: float = 30.0
    """Seconds for the whole body to arrive after its headers, and for a response to be taken."""
    connections: int = 64
    """Connections served at once; the next is answered 503 and closed."""


class BadRequest(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Upload:
    filename: str | None
    path: str
    """The uploaded bytes, in a private temporary file named after `filename` (made safe), removed
    once the response is sent."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    raw_query: str = ""

    def arg(self, name: str, default: str = "") -> str:
        return (self.query.get(name) or [default])[0]

    def number(self, name: str = "page") -> int:
        value = self.arg(name, "1")
        return int(value) if value.isdigit() and len(value) < 9 else 1

    def field(self, name: str, default: str = "") -> str:
        return (self.form.get(name) or [default])[0]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def upload_name(filename: str | None) -> str:
    """An uploaded file's own name, reduced to a plain file name."""
    name = _UNSAFE.sub("_", os.path.basename((filename or "").replace("\\", "/"))).strip(" .")[:120]
    return name or "upload.jpg"


def read_form(request: Request, read: Callable[[int], bytes], length: int) -> None:
    """The request's form, from a body of `length` bytes that `read` gives."""
    kind = (request.header("content-type") or "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        request.form = parse_qs(_read_all(read, length).decode("utf-8", "replace"), keep_blank_values=True)
    elif kind == "multipart/form-data":
        Multipart(read, length, _boundary(request.header("content-type"))).into(request)
    elif length:
        raise BadRequest(415, f"a form must be URL-encoded or multipart, not {kind or 'untyped'}")


def discard(request: Request) -> None:
    """Remove the request's uploaded files."""
    for upload in request.files.values():
        shutil.rmtree(os.path.dirname(upload.path), ignore_errors=True)


def _read_all(read: Callable[[int], bytes], length: int) -> bytes:
    data = read(length)
    if len(data) < length:
        raise BadRequest(400, "the request body ended early")
    return data


def _boundary(content_type: str) -> bytes:
    header = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    )
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 70:
        raise BadRequest(400, "a multipart form needs a boundary (1 to 70 characters)")
    return boundary.encode("latin-1", "replace")


class Multipart:
    """A multipart/form-data body read once, in chunks: fields into the form, each file into a
    private temporary folder as its bytes arrive (RFC 7578)."""

    def __init__(self, read: Callable[[int], bytes], length: int, boundary: bytes):
        self._read = read
        self._left = length
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")  # so that the first delimiter reads like the others

    def into(self, request: Request) -> None:
        form_bytes = parts = 0
        try:
            self._until(self._delimiter, lambda chunk: None)  # the preamble
            while self._starts_part():
                parts += 1
                if parts > MAX_PARTS:
                    raise BadRequest(413, f"a form of more than {MAX_PARTS} parts")
                part = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(
                    self._collect(b"\r\n\r\n", MAX_PART_HEADERS, "a part's headers").lstrip(b"\r\n") + b"\r\n\r\n"
                )
                name = part.get_param("name", header="content-disposition")
                filename = part.get_filename()
                if filename is not None:
                    upload = self._file(filename)
                    if name and name not in request.files:
                        request.files[name] = upload
                    else:
                        shutil.rmtree(os.path.dirname(upload.path), ignore_errors=True)
                else:
                    value = self._collect(self._delimiter, MAX_FORM - form_bytes, "the form's fields")
                    form_bytes += len(value)
                    if name:
                        request.form.setdefault(name, []).append(value.decode("utf-8", "replace"))
            while self._more():  # the epilogue
                self._buffer.clear()
        except BaseException:
            discard(request)
            raise

    def _starts_part(self) -> bool:
        """After a delimiter: True for a part (its headers next), False for the closing one."""
        self._need(2)
        if self._buffer[:2] == b"--":
            return False
        while self._buffer[:1] in (b" ", b"\t"):  # transport padding
            del self._buffer[:1]
            self._need(2)
        if self._buffer[:2] != b"\r\n":
            raise BadRequest(400, "malformed multipart form")
        return True

    def _file(self, filename: str) -> Upload:
        folder = tempfile.mkdtemp(prefix=UPLOAD_PREFIX)
        path = os.path.join(folder, upload_name(filename))
        try:
            with open(path, "xb") as handle:
                self._until(self._delimiter, handle.write)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return Upload(filename, path)

    def _collect(self, marker: bytes, limit: int, what: str) -> bytes:
        held = bytearray()

        def keep(chunk: bytes) -> None:
            if len(held) + len(chunk) > limit:
                raise BadRequest(413, f"{what} are too large")
            held.extend(chunk)

        self._until(marker, keep)
        return bytes(held)

    def _until(self, marker: bytes, sink: Callable[[bytes], object]) -> None:
        """Pass on the bytes before the next `marker`, and drop the marker."""
        while True:
            found = self._buffer.find(marker)
            if found >= 0:
                sink(bytes(self._buffer[:found]))
                del self._buffer[: found + len(marker)]
                return
            cut = len(self._buffer) - (len(marker) - 1)  # what may begin the marker waits for more
            if cut > 0:
                sink(bytes(self._buffer[:cut]))
                del self._buffer[:cut]
            if not self._more():
                raise BadRequest(400, "malformed multipart form: a part does not end")

    def _need(self, count: int) -> None:
        while len(self._buffer) < count:
            if not self._more():
                raise BadRequest(400, "malformed multipart form: it ends too early")

    def _more(self) -> bool:
        if not self._left:
            return False
        data = self._read(min(CHUNK, self._left))
        if not data:
            raise BadRequest(400, "the request body ended early")
        self._left -= len(data)
        self._buffer += data
        return True


class _DeadlineReader(io.RawIOBase):
    """A socket's reads that end with TimeoutError at a deadline: a client that sends a byte now
    and then (slow drip) is cut off as surely as one that sends nothing."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request did not arrive in time")
            self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


def handler_class(app: Callable[[Request], Response], max_upload: int, limits: Limits = Limits()) -> type:
    """A request handler that hands each request to `app` and writes its response."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = limits.body_timeout

        def version_string(self) -> str:
            return "recops-webui"

        def setup(self) -> None:
            super().setup()
            self.rfile.close()
            self.reader = _DeadlineReader(self.connection)
            self.rfile = io.BufferedReader(self.reader, CHUNK)

        def handle_one_request(self) -> None:
            self.reader.deadline = time.monotonic() + limits.header_timeout
            super().handle_one_request()

        def _read(self, request: Request) -> None:
            """The request's form, its body read within the time limit; then the socket's own
            timeout again, for the response."""
            try:
                self.reader.deadline = time.monotonic() + limits.body_timeout
                if self.command == "POST":
                    length = self.headers.get("Content-Length")
                    if length is None or not (length.isascii() and length.isdigit()):
                        raise BadRequest(411, "a POST needs a Content-Length")
                    limit = max_upload if "multipart" in (self.headers.get("Content-Type") or "") else MAX_FORM
                    if int(length) > limit:
                        raise BadRequest(413, f"request larger than {limit >> 20} MiB")
                    read_form(request, self.rfile.read, int(length))
            except TimeoutError:
                raise BadRequest(408, f"the request did not arrive within {limits.body_timeout:g} s") from None
            finally:
                self.reader.deadline = None
                self.connection.settimeout(limits.body_timeout)

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query, keep_blank_values=True),
                {k.lower(): v for k, v in self.headers.items()},
                raw_query=parts.query,
            )
            try:
                self._read(request)
                response = app(request)
            except BadRequest as exc:
                self.close_connection = True
                response = Response(exc.status, exc.reason.encode() + b"\n", "text/plain; charset=utf-8")
            finally:
                discard(request)
            self.send_response(response.status)
            headers = {
                "Content-Type": response.content_type,
                "Content-Length": str(len(response.body)),
                **response.headers,
            }
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

        def log_message(self, format: str, *args) -> None:
            logger.info("%s %s", self.address_string(), format % args)

    return Handler


BUSY_WARNING_EVERY = 10.0
_BUSY_TEXT = b"too many connections: try again in a moment\n"
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_TEXT), _BUSY_TEXT)
)


class Server(ThreadingHTTPServer):
    """A thread per connection, at most `limits.connections` of them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 would leave connections waiting to be accepted

    def __init__(self, address, handler: type, limits: Limits = Limits()):
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.connections)
        self._warned = -BUSY_WARNING_EVERY
        super().__init__(address, handler)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            if time.monotonic() - self._warned > BUSY_WARNING_EVERY:
                self._warned = time.monotonic()
                logger.warning(
                    "%d connections at once: more are answered 503 (the last from %s)",
                    self.limits.connections,
                    client_address[0],
                )
            try:
                request.setblocking(False)
                request.send(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()
