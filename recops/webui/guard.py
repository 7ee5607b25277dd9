"""What keeps the web interface to its own pages and its own dataset.

A page that changes data is a POST carrying the process's random token, which only the
interface's own pages hold (a page of another site cannot read them), from a page whose Origin
(or, lacking one, Referer) is this server; GET never changes anything. The Host header must name
this server too, so a hostile name resolved to 127.0.0.1 (DNS rebinding) reads nothing. Files are
never named by path: images and faces by their 32-hex ids, looked up in the dataset's views.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from urllib.parse import urlsplit

ID_RE = re.compile(r"[0-9a-f]{32}")
COLOR_RE = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


class Refused(Exception):
    """A request the interface will not serve: 403."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_id(value: str | None) -> bool:
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Guard:
    """The checks for one server: bound to `host`:`port`, holding `token`."""

    def __init__(self, host: str, port: int, token: str | None = None):
        self.host = host
        self.port = port
        self.token = token or new_token()

    def names(self) -> set[str]:
        """Host header values that name this server (the port always included, as browsers send it)."""
        hosts = {"localhost", "127.0.0.1", "[::1]"} if is_loopback(self.host) else {self._bracket(self.host)}
        return {f"{h}:{self.port}" for h in hosts}

    def _bracket(self, host: str) -> str:
        return f"[{host}]" if ":" in host and not host.startswith("[") else host

    def check_host(self, header: str | None) -> None:
        if self.host in WILDCARD_HOSTS:
            return  # bound to every address on purpose: any name of the machine may reach it
        if (header or "").lower() not in self.names():
            raise Refused(f"Host {header!r} is not this server")

    def check_change(self, method: str, token: str | None, origin: str | None, referer: str | None,
                     host: str | None) -> None:
        """A request that changes data: a POST from this server's own pages, with the token."""
        if method != "POST":
            raise Refused("changes are made by the forms of these pages only (POST)")
        source = origin if origin and origin != "null" else referer
        if not source:
            raise Refused("no Origin or Referer: a change must come from these pages")
        parts = urlsplit(source)
        if parts.scheme != "http" or not host or parts.netloc.lower() != host.lower():
            raise Refused(f"a change from {source!r} is not from these pages")
        if not token or not hmac.compare_digest(token.encode(), self.token.encode()):
            raise Refused("missing or wrong form token: reload the page and try again")


def local_path(target: str | None, fallback: str) -> str:
    """A redirect target that stays on this server (a path), else `fallback`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 0x20 for c in target):
        return fallback
    return target
