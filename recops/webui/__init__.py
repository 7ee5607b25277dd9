"""recops webui: browse and curate a dataset in the browser (the original recops's web interface).

Served by the standard library's threading HTTP server from the dataset directory itself (no
other database), with jinja2 templates under recops/templates/webui/:

    guard.py         what keeps it to its own pages and dataset: form token, Origin, Host, ids
    server.py        requests, forms and uploads (streamed to temporary files), responses, and
                     the limits no client gets past: time to send a request, connections at once
    app.py           the routes: pages (GET) and changes (POST)
    sites.py         the datasets served, each with its current snapshot
    snapshot.py      a dataset's views at one moment: images, faces, identities, clusters, ...
    pages.py         the variables of each page, paginated
    actions.py       the changes: identities, links, rejections, merges, deletions
    recognitions.py  an uploaded photo recognised, and rx-report's report of it
    thumbs.py        face and photo thumbnails, cached under the dataset's cache/thumbs/

Pages use no script at all: every change is a plain HTML form.
"""

from __future__ import annotations

import logging
from typing import Iterable

from ..errors import UsageError
from .app import make_server, url_of
from .guard import is_loopback
from .sites import Sites

logger = logging.getLogger("recops")


def serve(
    dataset: str | None,
    folder: str,
    host: str = "127.0.0.1",
    port: int = 5000,
    announce=lambda url: None,
    allowed_hosts: Iterable[str] = (),
) -> None:
    """Serve one dataset, or every dataset under `folder`, until interrupted; `allowed_hosts`:
    more names clients may call it by."""
    sites = Sites(dataset=dataset) if dataset else Sites(folder=folder)
    try:
        server, _ = make_server(sites, host, port, allowed_hosts=allowed_hosts)
    except OSError as exc:  # the port taken (another webui), or an address not of this machine
        reason = exc.strerror or exc
        raise UsageError(f"cannot listen on {host}:{port}: {reason}; choose another with -p PORT") from None
    if not is_loopback(host):
        logger.warning(
            "listening on %s, which other machines may reach: faces are biometric data, and "
            "anyone who reaches this address sees and changes the dataset",
            host or "every address",
        )
    try:
        announce(url_of(server))
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped")
    finally:
        server.server_close()
