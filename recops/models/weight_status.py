"""Whether each model can run here: its weight files present, its packages installed; and what
to do when it cannot."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

from ..errors import ModelError
from .extras import extra_for
from .weight_files import (
    BACKEND_PACKAGES,
    MODELS,
    PACKAGED,
    PIP,
    RECOPS_MODELS,
    TASKS,
    fetch_hint,
    installed,
    locations,
    need,
)
from .weight_install import provide


@dataclass(frozen=True)
class WeightFile:
    name: str
    path: str  # where it is, or where it belongs when missing
    present: bool
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Status:
    task: str
    name: str
    backend: str  # the one its table entry is for: a framework, or "any"
    usable: bool
    files: tuple[WeightFile, ...]
    missing_files: tuple[str, ...]  # full paths where deepface looks
    missing_packages: tuple[str, ...]  # import names
    note: str
    install: str = ""  # the command that installs the missing packages
    unavailable: str = ""  # why they cannot be installed on this Python


def status(task: str, name: str, backend: str | None = None) -> Status:
    key, entry = need(task, name, backend)
    files = []
    for file_name, urls in entry.files.items():
        places = locations(file_name)
        found = next((p for p in places if os.path.isfile(p)), None)
        files.append(WeightFile(file_name, found or places[-1], found is not None, urls))
    packages = entry.packages + BACKEND_PACKAGES.get(key, ())
    missing_packages = tuple(dict.fromkeys(p for p in packages if not installed(p)))
    missing = tuple(f.path for f in files if not f.present)
    lacking = [f.name for f in files if not f.present] + [PIP.get(p, p) for p in missing_packages]
    extra = extra_for(task, name) if missing_packages else None
    install = extra.command if extra else _pip_command(missing_packages) if missing_packages else ""
    unavailable = extra.unavailable if extra else ""
    missing_note = f"missing {', '.join(lacking)}" + (f" ({unavailable or install})" if install else "")
    note = "; ".join(filter(None, [missing_note if lacking else "", entry.note])) or "ready"
    return Status(task, name, key, not lacking, tuple(files), missing, missing_packages, note, install, unavailable)


def statuses(task: str | None = None, backend: str | None = None) -> list[Status]:
    return [
        status(t, name, backend)
        for t in ([task] if task else TASKS)
        for name in [*MODELS[t], *RECOPS_MODELS.get(t, {})]
    ]


def usable_models(task: str) -> list[str]:
    return [s.name for s in statuses(task) if s.usable]


def _pip_command(packages: tuple[str, ...]) -> str:
    return "pip install " + " ".join(shlex.quote(PIP.get(p, p)) for p in packages)


def explain(st: Status) -> str:
    """Why a model cannot run here and what to do about it, one line per step."""
    lines = [f"{st.name} ({st.task}, {st.backend} backend) is not usable here"]
    lines += [f"  missing {f.name}: {fetch_hint(f.name, f.path, f.urls)}" for f in st.files if not f.present]
    if st.missing_packages:
        names = ", ".join(PIP.get(p, p) for p in st.missing_packages)
        lines.append(f"  missing packages {names}: {st.unavailable or st.install}")
    usable = usable_models(st.task)
    lines.append(f"  usable {st.task} models here: {', '.join(usable) or 'none'}")
    return "\n".join(lines)


def require(task: str, name: str) -> Status:
    """Raise ModelError, naming each missing file, its place and its source, unless the model can run here.

    Files that installed packages ship are copied into place first: that is no download, and it
    spares a user the `rx-models provide` step after a fresh install."""
    st = status(task, name)
    if not st.usable and any(f.name in PACKAGED and not f.present for f in st.files):
        provide()
        st = status(task, name)
    if not st.usable:
        raise ModelError(explain(st))
    return st


def model_record(st: Status, default: bool) -> dict:
    primary = next((f.urls[0] for f in st.files if f.urls), None)
    return {
        "type": "model",
        "task": st.task,
        "name": st.name,
        "backend": st.backend,
        "usable": st.usable,
        "files": [
            {"name": f.name, "path": f.path, "present": f.present, "url": f.urls[0] if f.urls else None}
            for f in st.files
        ],
        "packages": [PIP.get(p, p) for p in st.missing_packages],
        "install": st.install or None,
        "unavailable": st.unavailable or None,
        "url": primary,
        "note": st.note,
        "default": default,
    }
