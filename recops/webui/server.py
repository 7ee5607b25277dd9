"""The HTTP pieces the web interface needs from the standard library: a request with its form
(URL-encoded or multipart, within a size limit), a response, and the server plumbing."""

from __future__ import annotations

import email.parser
import email.policy
import logging
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("recops")
MAX_FORM = 1 << 20


class BadRequest(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Upload:
    filename: str | None
    data: bytes


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


def read_form(request: Request, body: bytes) -> None:
    kind = (request.header("content-type") or "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        request.form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    elif kind == "multipart/form-data":
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + request.header("content-type").encode("latin-1") + b"\r\n\r\n" + body)
        if not message.is_multipart():
            raise BadRequest(400, "malformed multipart form")
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                request.files[name] = Upload(filename, payload)
            else:
                request.form.setdefault(name, []).append(payload.decode("utf-8", "replace"))
    elif body:
        raise BadRequest(415, f"a form must be URL-encoded or multipart, not {kind or 'untyped'}")


def handler_class(app: Callable[[Request], Response], max_upload: int) -> type:
    """A request handler that hands each request to `app` and writes its response."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def version_string(self) -> str:
            return "recops-webui"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            request = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                              {k.lower(): v for k, v in self.headers.items()}, raw_query=parts.query)
            try:
                if self.command == "POST":
                    length = self.headers.get("Content-Length")
                    if length is None or not length.isdigit():
                        raise BadRequest(411, "a POST needs a Content-Length")
                    limit = max_upload if "multipart" in (self.headers.get("Content-Type") or "") else MAX_FORM
                    if int(length) > limit:
                        raise BadRequest(413, f"request larger than {limit >> 20} MiB")
                    read_form(request, self.rfile.read(int(length)))
                response = app(request)
            except BadRequest as exc:
                self.close_connection = True
                response = Response(exc.status, exc.reason.encode() + b"\n", "text/plain; charset=utf-8")
            self.send_response(response.status)
            headers = {"Content-Type": response.content_type, "Content-Length": str(len(response.body)),
                       **response.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

        def log_message(self, format: str, *args) -> None:
            log.info("%s %s", self.address_string(), format % args)

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
