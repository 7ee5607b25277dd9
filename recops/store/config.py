"""The dataset's one config file: format version, detector, model, metric, threshold."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields

from ..errors import DatasetError
from ..records import timestamp
from .atomic import write_atomic

CONFIG_NAME = "recops.json"
FORMAT_VERSION = 1


@dataclass
class Config:
    detector: str
    model: str
    metric: str
    threshold: float | None = None
    """None: deepface's threshold for the model and metric."""
    flip: bool = False
    """Embeddings average each face with its mirror image (fixed at creation, like the model)."""
    description: str = ""
    format: int = FORMAT_VERSION
    id: str = field(default_factory=lambda: os.urandom(16).hex())
    """Tells copies of one dataset from different datasets, so a merge of two unrelated ones is caught."""
    created: str = field(default_factory=timestamp)

    def effective_threshold(self) -> float:
        from ..catalog import default_threshold

        return self.threshold if self.threshold is not None else default_threshold(self.model, self.metric)


def load(root: str) -> Config:
    path = os.path.join(root, CONFIG_NAME)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise DatasetError(f"{root}: not a recops dataset (no {CONFIG_NAME}); create one with rx-init") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable config: {exc}") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: config is not a JSON object")
    version = data.get("format")
    if version != FORMAT_VERSION:
        raise DatasetError(
            f"{path}: dataset format {version!r}, this recops reads format {FORMAT_VERSION}; "
            "use the recops version that wrote it"
        )
    known = {f.name for f in fields(Config)}
    try:
        return Config(**{k: v for k, v in data.items() if k in known})
    except TypeError as exc:
        raise DatasetError(f"{path}: invalid config: {exc}") from None


def save(root: str, config: Config) -> None:
    data = json.dumps(asdict(config), indent=2, sort_keys=True).encode() + b"\n"
    write_atomic(os.path.join(root, CONFIG_NAME), data, mode=0o600)
