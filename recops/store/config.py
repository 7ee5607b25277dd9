"""The dataset's one config file: format version, detector, model, metric, threshold."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields

from ..errors import DatasetError
from ..records import timestamp
from .tree import ForeignEntry, MiB, Tree

CONFIG_NAME = "recops.json"
FORMAT_VERSION = 1
METRICS = ("cosine", "euclidean", "euclidean_l2", "angular")
"""deepface's four distances; recops.json's `metric` is one of them (metrics.py computes them)."""
"""The metrics a config may name: recops.metrics computes each."""


@dataclass
class Config:
    detector: str
    model: str
    metric: str
    threshold: float | None = None
    """None: the default, the shipped calibration's for the pipeline (thresholds.py), else deepface's."""
    threshold_source: str = ""
    """Where a threshold that is set came from: a person, or a calibration at a false-match rate."""
    threshold_fmr: float | None = None
    """The false-match rate a calibrated threshold was chosen for (chosen again when the metric changes)."""
    calibration: str | None = None
    """The id of the dataset's own calibration record (rx-calibrate); None: the shipped one."""
    flip: bool = False
    """Embeddings average each face with its mirror image (fixed at creation, like the model)."""
    description: str = ""
    format: int = FORMAT_VERSION
    id: str = field(default_factory=lambda: os.urandom(16).hex())
    """Tells copies of one dataset from different datasets, so a merge of two unrelated ones is caught."""
    created: str = field(default_factory=timestamp)


NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
MAX_CONFIG = MiB


def _name(value: object) -> bool:
    return isinstance(value, str) and NAME_RE.match(value) is not None and ".." not in value


def finite_positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


# What each field of the file must be: the file may have come by sync or restore from anywhere,
# and a detector or model name ends up in file names of the cache.
_CHECKS = {
    "detector": (_name, "a detector name"),
    "model": (_name, "a model name"),
    "metric": (lambda v: v in METRICS, f"one of {', '.join(METRICS)}"),
    "threshold": (lambda v: v is None or finite_positive(v), "a positive number, or null"),
    "flip": (lambda v: isinstance(v, bool), "true or false"),
    "description": (lambda v: isinstance(v, str), "text"),
    "threshold_source": (lambda v: isinstance(v, str), "text"),
    "threshold_fmr": (lambda v: v is None or (finite_positive(v) and v < 1), "a rate between 0 and 1, or null"),
    "calibration": (
        lambda v: v is None or (isinstance(v, str) and re.fullmatch(r"[0-9a-f]{32}", v) is not None),
        "an id (32 hex digits), or null",
    ),
    "id": (lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{32}", v) is not None, "32 hex digits"),
    "created": (lambda v: isinstance(v, str), "a time stamp"),
}


def parse(data: bytes, path: str) -> Config:
    """A config from the bytes of a recops.json, every field checked; DatasetError naming the
    first field that is wrong."""
    try:
        loaded = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise DatasetError(f"{path}: unreadable config: {exc}") from None
    if not isinstance(loaded, dict):
        raise DatasetError(f"{path}: config is not a JSON object")
    version = loaded.get("format")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise DatasetError(
            f"{path}: dataset format {version!r}; this recops reads format {FORMAT_VERSION} (docs/format.md); "
            "use the recops version that wrote it"
        )
    for key in ("detector", "model", "metric"):
        if key not in loaded:
            raise DatasetError(f"{path}: invalid config: no {key}")
    for key, (check, what) in _CHECKS.items():
        if key in loaded and not check(loaded[key]):
            raise DatasetError(f"{path}: invalid config: {key} must be {what}, not {_shown(loaded[key])}")
    known = {f.name for f in fields(Config)}
    return Config(**{k: v for k, v in loaded.items() if k in known})


def _shown(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:40] + "..."


def load(tree: Tree) -> Config:
    try:
        data = tree.read(CONFIG_NAME, MAX_CONFIG)
    except FileNotFoundError:
        raise DatasetError(f"{tree.root}: not a recops dataset (no {CONFIG_NAME}); create one with rx-init") from None
    except ForeignEntry as exc:
        raise DatasetError(f"{exc}") from None
    except OSError as exc:
        raise DatasetError(f"{tree.path(CONFIG_NAME)}: unreadable config: {exc.strerror or exc}") from None
    return parse(data, tree.path(CONFIG_NAME))


def encode(config: Config) -> bytes:
    if config.threshold is not None and not finite_positive(config.threshold):
        raise ValueError(f"threshold must be a positive number, not {config.threshold}")
    return json.dumps(asdict(config), indent=2, sort_keys=True, allow_nan=False).encode() + b"\n"


def save(tree: Tree, config: Config) -> None:
    tree.write(CONFIG_NAME, encode(config), mode=0o600)
