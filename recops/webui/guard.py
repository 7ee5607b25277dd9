"""What keeps the web interface to its own pages and its own dataset.

A page that changes data is a POST carrying the process's random token, which only the
interface's own pages hold (a page of another site cannot read them), from a page whose Origin
(or, lacking one, Referer) is this server; GET never changes anything. The Host header must name
this server too, so a hostile name resolved to its address (DNS rebinding) reads nothing: the
address it is bound to (localhost's names for a loopback one), and when bound to every address,
any address literal, localhost or the machine's own names; with the right port, and besides those
only the names the user allows. Files are never named by path: images and faces by their 32-hex
ids, looked up in the dataset's views.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import socket
from typing import Iterable
from urllib.parse import urlsplit

ID_RE = re.compile(r"[0-9a-f]{32}")
COLOR_RE = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


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
    """The checks for one server: bound to `host`:`port`, holding `token`, and called by its own
    names or by those `allowed`."""

    def __init__(self, host: str, port: int, token: str | None = None, allowed: Iterable[str] = ()):
        self.host = host
        self.port = port
        self.token = token or new_token()
        self.allowed = {_plain(name) for name in allowed}
        if host in WILDCARD_HOSTS:
            self.own = {"localhost", _plain(socket.gethostname()), _plain(socket.getfqdn())} - {""}
        else:
            self.own = set(LOOPBACK_NAMES) if is_loopback(host) else {_plain(_bracket(host))}

    def accepts(self, header: str | None) -> bool:
        """Whether a Host header names this server."""
        name, port = split_host(header or "")
        if port != self.port or not name:
            return False
        return name in self.own or name in self.allowed or (self.host in WILDCARD_HOSTS and is_address(name))

    def check_host(self, header: str | None) -> None:
        if not self.accepts(header):
            raise Refused(f"Host {header!r} is not a name of this server (recops webui --allow-host NAME allows one)")

    def check_change(
        self, method: str, token: str | None, origin: str | None, referer: str | None, host: str | None
    ) -> None:
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


def split_host(header: str) -> tuple[str, int | None]:
    """A Host header's name (lower case, an IPv6 address in brackets) and port (80 if none);
    ("", None) if it is no name and port."""
    name = header.strip()
    if name.startswith("["):
        end = name.find("]") + 1
        name, rest = (name[:end], name[end:]) if end else ("", "")
    else:
        name, colon, rest = name.partition(":")
        rest = colon + rest
    port = rest[1:]
    if rest and not (rest[0] == ":" and port.isascii() and port.isdigit() and len(port) <= 5):
        return "", None
    return _plain(name), int(port) if rest else 80


def is_address(name: str) -> bool:
    """An IP address literal as a Host header spells it: IPv4 bare, IPv6 in brackets."""
    bracketed = name.startswith("[") and name.endswith("]")
    try:
        address = ipaddress.ip_address(name[1:-1] if bracketed else name)
    except ValueError:
        return False
    return bracketed == (address.version == 6)


def _plain(name: str) -> str:
    name = name.strip().lower()
    return name[:-1] if name.endswith(".") and not name.endswith("..") else name


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def local_path(target: str | None, fallback: str) -> str:
    """A redirect target that stays on this server (a path), else `fallback`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 0x20 for c in target):
        return fallback
    return target
