"""The web interface's routes: each address a page (GET) or a change (POST), over the sites served.

Pages never change data. A change is a POST from a form of these pages (guard.py) that runs one
operation of actions.py on the dataset and sends the browser back (303) to the page it came
from, with a note of what happened. Images and faces are named by id only, and only those a
snapshot of the dataset holds are served.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import urlencode

import jinja2

from .. import __version__
from ..errors import InputError, LockedError, RecopsError
from ..imageinfo import EXTENSIONS, SUPPORTED
from ..pixels import Picture
from ..report.context import UNKNOWN_COLOR
from ..store.objects import ObjectStore
from ..store.tree import ForeignEntry
from ..thresholds import effective_threshold
from . import actions, pages
from .actions import Outcome, attempt
from .guard import Guard, Refused, local_path
from .recognitions import MAX_UPLOAD, recognition_report, recognize_upload
from .server import Limits, Request, Response, Server, handler_class
from .sites import Site, Sites

logger = logging.getLogger("recops")
TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")
PAGE_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-src 'self'; frame-ancestors 'self'; base-uri 'none'"
)
REPORT_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'none'; "
    "frame-ancestors 'self'; base-uri 'none'"
)
PRIVATE = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}
FILE_HEADERS = {"Content-Security-Policy": "default-src 'none'; sandbox", "X-Content-Type-Options": "nosniff"}
NOTES_KEPT = 500
SECTIONS = {"image": "images", "face": "faces", "identity": "identities", "recognition": "recognitions"}
K = r"(?P<key>[0-9a-f]{32})"
ID = r"(?P<id>[0-9a-f]{32})"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    handle: Callable


class WebApp:
    """Callable on a Request; returns a Response. Holds no data but notes for the next page."""

    def __init__(self, sites: Sites, guard: Guard):
        self.sites = sites
        self.guard = guard
        loader = jinja2.PrefixLoader(
            {
                "webui": jinja2.FileSystemLoader(os.path.join(TEMPLATES, "webui")),
                "report": jinja2.FileSystemLoader(os.path.join(TEMPLATES, "report")),
            }
        )
        self.env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
        self.env.globals.update(token=guard.token, version=__version__, unknown_color=UNKNOWN_COLOR)
        self.notes: collections.OrderedDict[str, tuple[str, bool]] = collections.OrderedDict()
        self._notes_lock = threading.Lock()
        routes = [
            ("GET", r"/", self.home),
            ("GET", rf"/d/{K}/", self.overview),
            ("GET", rf"/d/{K}/images", self.images),
            ("GET", rf"/d/{K}/images/{ID}", self.image),
            ("POST", rf"/d/{K}/images/{ID}/delete", self.delete_image),
            ("GET", rf"/d/{K}/faces", self.faces),
            ("GET", rf"/d/{K}/faces/{ID}", self.face),
            ("POST", rf"/d/{K}/faces/link", self.link_faces),
            ("POST", rf"/d/{K}/faces/delete", self.delete_faces),
            ("GET", rf"/d/{K}/identities", self.identities),
            ("POST", rf"/d/{K}/identities", self.create_identity),
            ("GET", rf"/d/{K}/identities/{ID}", self.identity),
            ("POST", rf"/d/{K}/identities/{ID}/update", self.update_identity),
            ("POST", rf"/d/{K}/identities/{ID}/delete", self.delete_identity),
            ("POST", rf"/d/{K}/identities/{ID}/merge", self.merge_identity),
            ("GET", rf"/d/{K}/proposals", self.proposals),
            ("POST", rf"/d/{K}/proposals/review", self.review_proposal),
            ("GET", rf"/d/{K}/recognitions", self.recognitions),
            ("POST", rf"/d/{K}/recognitions", self.upload),
            ("GET", rf"/d/{K}/recognitions/{ID}", self.recognition),
            ("GET", rf"/d/{K}/recognitions/{ID}/report", self.report),
            ("GET", rf"/d/{K}/thumbs/(?P<kind>faces|images|views)/{ID}\.jpg", self.thumb),
            ("GET", rf"/d/{K}/original/{ID}", self.original),
        ]
        self.routes = [Route(m, re.compile(p), h) for m, p, h in routes]

    # -- dispatch

    def __call__(self, request: Request) -> Response:
        try:
            self.guard.check_host(request.header("host"))
            route, params = self._route(request)
            if route.method == "POST":
                self.guard.check_change(
                    request.method,
                    request.field("csrf"),
                    request.header("origin"),
                    request.header("referer"),
                    request.header("host"),
                )
            if "key" in params:
                params["site"] = self._site(params.pop("key"))
            return route.handle(request, **params)
        except Refused as exc:
            return self._error(403, "Refused", str(exc))
        except pages.NotFound as exc:
            return self._error(404, "Not found", str(exc))
        except _NotAllowed as exc:
            return self._error(405, "Method not allowed", str(exc), {"Allow": exc.allow})
        except LockedError as exc:
            return self._error(503, "Busy", f"{exc}; try again in a moment", {"Retry-After": "5"})
        except RecopsError as exc:
            return self._error(500, "Dataset error", str(exc))
        except Exception as exc:  # a page that fails must not stop the server
            logger.exception("internal error on %s %s", request.method, request.path)
            return self._error(500, "Internal error", f"{type(exc).__name__}: {exc}")

    def _route(self, request: Request) -> tuple[Route, dict]:
        allowed = []
        for route in self.routes:
            found = route.pattern.fullmatch(request.path)
            if found:
                if route.method == request.method or (route.method == "GET" and request.method == "HEAD"):
                    return route, found.groupdict()
                allowed.append(route.method)
        if allowed:
            raise _NotAllowed(", ".join(sorted(set(allowed))))
        raise pages.NotFound(f"no page {request.path}")

    def _site(self, key: str) -> Site:
        site = self.sites.get(key)
        if site is None:
            raise pages.NotFound("no such dataset here")
        return site

    # -- responses

    def render(self, template: str, status: int = 200, **variables) -> Response:
        body = self.env.get_template(f"webui/{template}.html.j2").render(variables).encode()
        return Response(status, body, headers={**PRIVATE, "Content-Security-Policy": PAGE_POLICY})

    def page(self, request: Request, site: Site, template: str, **variables) -> Response:
        snap = variables.pop("snap", None) or site.snapshot()
        query = {k: v[0] for k, v in request.query.items() if k != "note"}
        here = request.path + (f"?{urlencode(query)}" if query else "")
        return self.render(
            template,
            site={
                "key": site.key,
                "root": site.root,
                "name": os.path.basename(site.root),
                "config": snap.config,
                "threshold": effective_threshold(snap.config),
                "single": self.sites.single is not None,
            },
            here=here,
            note=self.notes.get(request.arg("note")),
            nav=SECTIONS.get(template, template),
            query=query,
            **variables,
        )

    def _error(self, status: int, title: str, reason: str, headers: dict | None = None) -> Response:
        response = self.render("error", status, title=title, reason=reason)
        response.headers.update(headers or {})
        return response

    def _redirect(self, target: str) -> Response:
        return Response(303, b"", headers={**PRIVATE, "Location": target})

    def _after(self, request: Request, site: Site, outcome: Outcome) -> Response:
        target = outcome.go or local_path(request.field("next"), f"/d/{site.key}/")
        note = secrets.token_hex(8)
        with self._notes_lock:
            self.notes[note] = (outcome.message, outcome.ok)
            while len(self.notes) > NOTES_KEPT:
                self.notes.popitem(last=False)
        target = re.sub(r"([?&])note=[0-9a-f]*&?", r"\1", target).rstrip("?&")
        return self._redirect(f"{target}{'&' if '?' in target else '?'}note={note}")

    def change(self, request: Request, site: Site, operation: Callable) -> Response:
        with site.opened() as dataset:
            outcome = attempt(lambda: operation(dataset))
            site.changed(dataset)
        for record in outcome.records:
            logger.info(
                "recorded %s",
                {k: v for k, v in record.items() if k in ("type", "id", "face", "identity", "op", "name")},
            )
        return self._after(request, site, outcome)

    # -- pages

    def home(self, request: Request) -> Response:
        if self.sites.single is not None:
            return self._redirect(f"/d/{self.sites.all()[0].key}/")
        return self.render(
            "datasets", datasets=self.sites.listing(), folder=self.sites.folder, note=None, site=None, nav="datasets"
        )

    def overview(self, request: Request, site: Site) -> Response:
        snap = site.snapshot()
        return self.page(request, site, "overview", snap=snap, **pages.overview(snap))

    def images(self, request: Request, site: Site) -> Response:
        snap = site.snapshot()
        return self.page(request, site, "images", snap=snap, **pages.images(snap, site.key, request.number()))

    def image(self, request: Request, site: Site, id: str) -> Response:
        snap = site.snapshot()
        variables = pages.image(snap, site.key, id, request.number(), self._size_of(site))
        return self.page(request, site, "image", snap=snap, **variables)

    def faces(self, request: Request, site: Site) -> Response:
        snap = site.snapshot()
        wanted = {name: request.arg(name) for name in pages.FILTERS}
        return self.page(request, site, "faces", snap=snap, **pages.faces(snap, wanted, request.number()))

    def face(self, request: Request, site: Site, id: str) -> Response:
        snap = site.snapshot()
        if id not in snap.faces:
            raise pages.NotFound(f"no face {id} in this dataset")
        proposal = next((p for p in pages.open_proposals(snap, site.cached_proposals()) if p["face"] == id), None)
        variables = pages.face(snap, site.key, id, site.nearest(id, pages.NEAREST), proposal, self._size_of(site))
        return self.page(request, site, "face", snap=snap, **variables)

    def identities(self, request: Request, site: Site) -> Response:
        snap = site.snapshot()
        return self.page(request, site, "identities", snap=snap, **pages.identities(snap, request.number()))

    def identity(self, request: Request, site: Site, id: str) -> Response:
        snap = site.snapshot()
        return self.page(request, site, "identity", snap=snap, **pages.identity(snap, id, request.number()))

    def proposals(self, request: Request, site: Site) -> Response:
        ready = site.proposals(refresh=request.arg("refresh") == "1")
        snap = site.snapshot()
        if ready is None:
            return self.page(
                request,
                site,
                "proposals",
                snap=snap,
                computing=True,
                unlinked=len(snap.faces) - len(snap.view.face_identity),
            )
        return self.page(
            request,
            site,
            "proposals",
            snap=snap,
            computing=False,
            **pages.proposals(snap, ready[1], ready[0], request.number()),
        )

    def recognitions(self, request: Request, site: Site) -> Response:
        snap = site.snapshot()
        return self.page(
            request,
            site,
            "recognitions",
            snap=snap,
            **pages.recognitions(snap, site.key, request.number()),
            max_upload=MAX_UPLOAD >> 20,
            formats=SUPPORTED,
            accept=",".join([*EXTENSIONS, *(f".{e}" for e in EXTENSIONS.values())]),
        )

    def recognition(self, request: Request, site: Site, id: str) -> Response:
        snap = site.snapshot()
        return self.page(request, site, "recognition", snap=snap, **pages.recognition(snap, id))

    def report(self, request: Request, site: Site, id: str) -> Response:
        with site.opened() as dataset:
            try:
                html = recognition_report(dataset, id)
            except KeyError:
                raise pages.NotFound(f"no recognition of image {id} in this dataset") from None
        return Response(200, html.encode(), headers={**PRIVATE, "Content-Security-Policy": REPORT_POLICY})

    @staticmethod
    def _size_of(site: Site) -> Callable:
        """A later page's size, from its image's header (the image record holds the first's)."""

        def size(image: str, picture: Picture) -> tuple[int, int]:
            try:
                return site.thumbs.size(image, picture)
            except (OSError, ForeignEntry, InputError) as exc:
                raise pages.NotFound(f"the pixels of image {image} are not read: {exc}") from None

        return size

    def thumb(self, request: Request, site: Site, kind: str, id: str) -> Response:
        snap = site.snapshot(fresh=False)
        held = snap.faces if kind == "faces" else snap.images
        if id not in held:
            snap = site.snapshot()
            held = snap.faces if kind == "faces" else snap.images
            if id not in held:
                raise pages.NotFound(f"no {kind[:-1]} {id} in this dataset")
        try:
            if kind == "faces":
                face = snap.faces[id]
                data = site.thumbs.face(face, snap.faces_of.get(face["image"], []))
            else:
                number = request.number()
                pictures = pages.pictures_of(snap, id)
                if number > len(pictures):
                    raise pages.NotFound(f"image {id} has no page {number}")
                data = site.thumbs.image(id, kind, pictures[number - 1])
        except FileNotFoundError:
            raise pages.NotFound(f"the pixels of {kind[:-1]} {id} are gone (rx-gc)") from None
        return Response(200, data, "image/jpeg", {**FILE_HEADERS, "Cache-Control": "private, max-age=3600"})

    def original(self, request: Request, site: Site, id: str) -> Response:
        snap = site.snapshot()
        record = snap.images.get(id)
        if record is None or record.get("media_type") not in EXTENSIONS:
            raise pages.NotFound(f"no image {id} in this dataset")
        try:
            data = ObjectStore(site.thumbs.tree).read(id)
        except FileNotFoundError:
            raise pages.NotFound(f"the bytes of image {id} are gone (rx-gc)") from None
        except ForeignEntry as exc:
            raise pages.NotFound(f"the bytes of image {id} are not read: {exc.reason} (run rx-fsck)") from None
        extension = EXTENSIONS[record["media_type"]]
        return Response(
            200,
            data,
            record["media_type"],
            {**PRIVATE, **FILE_HEADERS, "Content-Disposition": f'inline; filename="{id}.{extension}"'},
        )

    # -- changes

    def create_identity(self, request: Request, site: Site) -> Response:
        return self.change(
            request,
            site,
            lambda dataset: actions.create_identity(
                dataset, site.key, request.field("name"), request.field("color"), request.field("description")
            ),
        )

    def update_identity(self, request: Request, site: Site, id: str) -> Response:
        fields = {
            name: (request.form[name][0] if name in request.form else None) for name in ("name", "color", "description")
        }
        return self.change(request, site, lambda dataset: actions.update_identity(dataset, id, **fields))

    def delete_identity(self, request: Request, site: Site, id: str) -> Response:
        return self.change(request, site, lambda dataset: actions.delete_identity(dataset, site.key, id))

    def merge_identity(self, request: Request, site: Site, id: str) -> Response:
        return self.change(
            request, site, lambda dataset: actions.merge_identities(dataset, site.key, id, request.field("into"))
        )

    def link_faces(self, request: Request, site: Site) -> Response:
        op = request.field("op", "link")
        if op not in ("link", "unlink", "reject"):
            return self._after(request, site, Outcome(f"unknown operation {op!r}", ok=False))
        return self.change(
            request,
            site,
            lambda dataset: actions.link_faces(
                dataset, request.form.get("face", []), op, request.field("identity"), request.field("new_name")
            ),
        )

    def delete_faces(self, request: Request, site: Site) -> Response:
        return self.change(
            request, site, lambda dataset: actions.delete(dataset, site.key, request.form.get("face", []), "face")
        )

    def delete_image(self, request: Request, site: Site, id: str) -> Response:
        return self.change(request, site, lambda dataset: actions.delete(dataset, site.key, [id], "image"))

    def review_proposal(self, request: Request, site: Site) -> Response:
        decision = request.field("decision")
        if decision not in ("confirm", "reject"):
            return self._after(request, site, Outcome("confirm or reject a proposal", ok=False))
        return self.change(
            request,
            site,
            lambda dataset: actions.review_proposal(
                dataset, request.field("face"), request.field("identity"), decision == "confirm"
            ),
        )

    def upload(self, request: Request, site: Site) -> Response:
        upload = request.files.get("photo")

        def operation(dataset) -> Outcome:
            if upload is None:
                raise InputError("nothing-chosen", "choose a photo to upload")
            try:
                image = recognize_upload(dataset, upload.path)
            except RecopsError as exc:
                return Outcome(str(exc), ok=False)
            return Outcome("recognised", go=f"/d/{site.key}/recognitions/{image}")

        return self.change(request, site, operation)


class _NotAllowed(Exception):
    def __init__(self, allow: str):
        super().__init__(f"this address takes {allow} only")
        self.allow = allow


def make_server(
    sites: Sites,
    host: str = "127.0.0.1",
    port: int = 5000,
    limits: Limits = Limits(),
    allowed_hosts: Iterable[str] = (),
) -> tuple[Server, WebApp]:
    """A server bound to host:port (port 0: any free one), not yet serving; `allowed_hosts`: more
    names that clients may call it by (guard.Guard)."""
    guard = Guard(host, port, allowed=allowed_hosts)
    app = WebApp(sites, guard)
    server = Server((host, port), handler_class(app, MAX_UPLOAD + (1 << 20), limits), limits)
    guard.port = server.server_address[1]
    return server, app


def url_of(server: Server) -> str:
    host, port = server.server_address[:2]
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
