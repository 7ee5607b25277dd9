"""The original's pickled columns, decoded without running anything they name.

SQLAlchemy's PickleType stored a face's descriptor (a list of floats, or a numpy array) and its
attribute predictions (numpy arrays) as pickles. Unpickling runs whatever callable a pickle
names, so a database from elsewhere could run any code: only the few callables that rebuild
numpy arrays and plain containers are admitted, each by name, and anything else is refused.
"""

from __future__ import annotations

import builtins
import io
import math
import pickle

import numpy as np

from ..errors import InputError

MAX_PICKLE = 1 << 20
"""A descriptor of 4,096 float64s pickles to 33 KiB; more than this is no column of the original."""


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    # Protocol 2 pickles bytes as _codecs.encode(text, "latin1"); another codec is not admitted.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r} is not admitted")
    return text.encode("latin1")


MAX_VALUES = 1 << 16
"""Numbers one array may hold: more than any descriptor or prediction of the original."""


class _ArrayType:
    """What a pickle gets for numpy.ndarray: the type, as an argument of _reconstruct, and never a
    constructor (ndarray((10**10,)) would ask for 80 GB)."""


def _sized(shape: object) -> None:
    dims = shape if isinstance(shape, tuple) else (shape,)
    if not all(isinstance(d, int) and d >= 0 for d in dims) or math.prod(dims) > MAX_VALUES:
        raise pickle.UnpicklingError(f"an array of shape {shape!r} is not admitted")


def _numpy_globals() -> dict[tuple[str, str], object]:
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1
        from numpy.core import multiarray, numeric

    def reconstruct(subtype: object, shape: object, dtype: object) -> np.ndarray:
        if subtype is not _ArrayType:
            raise pickle.UnpicklingError("_reconstruct of another type than numpy.ndarray is not admitted")
        _sized(shape)
        return multiarray._reconstruct(np.ndarray, shape, dtype)

    def frombuffer(buffer: object, dtype: object, shape: object, order: str) -> np.ndarray:
        _sized(shape)
        return numeric._frombuffer(buffer, dtype, shape, order)

    rebuild = {"_reconstruct": reconstruct, "scalar": multiarray.scalar}
    found: dict[tuple[str, str], object] = {("numpy", "ndarray"): _ArrayType, ("numpy", "dtype"): np.dtype}
    # numpy 1 wrote numpy.core, numpy 2 writes numpy._core: the original ran on numpy 1.
    for package in ("numpy.core", "numpy._core"):
        for name, value in rebuild.items():
            found[(f"{package}.multiarray", name)] = value
        found[(f"{package}.numeric", "_frombuffer")] = frombuffer
    return found


# Containers and numbers, whose size is bounded by the pickle's own; not bytes(n) or bytearray(n),
# which allocate n bytes.
_BUILTINS = ("list", "dict", "tuple", "set", "frozenset", "float", "int", "complex", "bool")
ADMITTED: dict[tuple[str, str], object] = {
    **_numpy_globals(),
    **{("builtins", name): getattr(builtins, name) for name in _BUILTINS},
    ("_codecs", "encode"): _latin1,
}


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return ADMITTED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which is not admitted") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not admitted")


def decode(blob: object) -> object:
    """The value a pickled column holds; InputError ("unsafe-pickle" for a pickle that names
    a callable not admitted, "bad-pickle" for anything else that does not decode)."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise InputError("bad-pickle", f"holds {type(blob).__name__}, not pickled bytes")
    if len(blob) > MAX_PICKLE:
        raise InputError("bad-pickle", f"holds {len(blob)} bytes, more than a pickled vector takes")
    try:
        return _Restricted(io.BytesIO(bytes(blob))).load()
    except pickle.UnpicklingError as exc:
        kind = "unsafe-pickle" if "not admitted" in str(exc) else "bad-pickle"
        reason = f"refused: {exc} (unpickling runs what a pickle names)" if kind == "unsafe-pickle" else str(exc)
        raise InputError(kind, f"not decoded: {reason}") from None
    except Exception as exc:  # a truncated or malformed pickle raises almost anything
        raise InputError("bad-pickle", f"not decoded: {type(exc).__name__}: {exc}") from None


def vector(blob: object) -> np.ndarray:
    """A pickled vector (a list of numbers, or a numeric numpy array of one row) as float64;
    InputError when it is anything else."""
    value = decode(blob)
    if isinstance(value, np.ndarray) and value.dtype.kind not in "fiu":
        raise InputError("bad-vector", f"holds an array of {value.dtype}, not of numbers")
    if isinstance(value, (list, tuple)) and not all(
        isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in value
    ):
        raise InputError("bad-vector", "holds a list of other things than numbers")
    if not isinstance(value, (np.ndarray, list, tuple)):
        raise InputError("bad-vector", f"holds {type(value).__name__}, not a vector")
    count = value.size if isinstance(value, np.ndarray) else len(value)
    if count > MAX_VALUES:
        raise InputError("bad-vector", f"holds {count} values, more than any vector of the original")
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1 or not array.size:
        raise InputError("bad-vector", f"holds an array of shape {array.shape}, not a vector")
    if not all(math.isfinite(v) for v in array):
        raise InputError("bad-vector", "holds a number that is not finite")
    return array
