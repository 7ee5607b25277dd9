"""Keeping deepface off the network: within no_downloads(), deepface's and retina-face's download
function finds a weight file where it belongs, or raises ModelError naming the file and where to get it."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from typing import Iterator

from ..errors import ModelError
from .weight_files import fetch_hint, installed, models_needing, weights_dir

# The modules whose download function every model calls through its module attribute.
DOWNLOADERS = ("deepface.commons.weight_utils", "retinaface.commons.weight_utils")
ATTRIBUTE = "download_weights_if_necessary"
_lock = threading.Lock()
_depth = 0
_patched: list[tuple[object, str, object]] = []


def _offline(file_name: str, *args, **kwargs) -> str:
    """Stands in for deepface's and retina-face's downloads: the file, if present, else ModelError."""
    path = os.path.normpath(os.path.join(weights_dir(), file_name))
    if os.path.isfile(path):
        return path
    urls = args[0] if args else kwargs.get("source_url", kwargs.get("source_urls"))
    users = ", ".join(models_needing(file_name)) or "deepface"
    raise ModelError(
        f"{users} needs {file_name}, and recops never lets deepface download: {fetch_hint(file_name, path, urls)}"
    )


def _patch() -> None:
    originals = {}
    for module_name in DOWNLOADERS:
        if installed(module_name.split(".")[0]):
            originals[module_name.split(".")[0]] = getattr(importlib.import_module(module_name), ATTRIBUTE)
    # Also any module that imported the function by name: it holds its own reference.
    for module_name, module in list(sys.modules.items()):
        original = originals.get(module_name.split(".")[0])
        for attribute, value in list(vars(module).items()) if original else ():
            if value is original:
                setattr(module, attribute, _offline)
                _patched.append((module, attribute, original))


def _unpatch() -> None:
    while _patched:
        module, attribute, original = _patched.pop()
        setattr(module, attribute, original)


@contextlib.contextmanager
def no_downloads() -> Iterator[None]:
    """Within: deepface finds its weight files where they are, or raises ModelError naming the missing one."""
    global _depth
    with _lock:
        if _depth == 0:
            _patch()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _unpatch()
