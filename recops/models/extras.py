"""recops's optional extras for models: the command that installs a model's packages, and where it
cannot install, why (pyproject.toml's [project.optional-dependencies]; make installs them)."""

from __future__ import annotations

import sys
from typing import NamedTuple

# mediapipe 0.10.21 declares numpy<2, protobuf<5 and the non-headless OpenCV, which would replace
# recops's numpy 2 and headless OpenCV; it runs with them all the same, so it goes in without its
# declared dependencies, after the extra that holds the ones it imports.
MEDIAPIPE_PIN = "mediapipe==0.10.21"


class Extra(NamedTuple):
    command: str
    unavailable: str  # why it cannot be installed on this Python; "" where it can


# detector -> (install command, first Python it cannot install on, why)
_EXTRAS = {
    "mtcnn": ("pip install 'recops[mtcnn]'", (3, 14), "TensorFlow 2.21 has no wheel for it (2.22 is a pre-release)"),
    "mediapipe": (
        f"pip install 'recops[mediapipe]' && pip install --no-deps '{MEDIAPIPE_PIN}'",
        (3, 13),
        "mediapipe 0.10.21, the last release with the mediapipe.solutions API that deepface's wrapper calls, "
        "has wheels for Python 3.9 to 3.12 only",
    ),
}


def python_version() -> tuple[int, int]:
    return sys.version_info[:2]


def extra_for(task: str, name: str) -> Extra | None:
    """The extra that installs a model's packages, or None for a model without one."""
    if task != "face_detector" or name not in _EXTRAS:
        return None
    command, first_without, why = _EXTRAS[name]
    version = python_version()
    return Extra(
        command, f"not installable on Python {version[0]}.{version[1]}: {why}" if version >= first_without else ""
    )
