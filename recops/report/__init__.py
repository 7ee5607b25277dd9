"""rx-report's core: self-contained reports of record streams, for people to review and share.

A report is one file. As HTML it opens offline in any browser: images are embedded as base64
JPEG, face boxes are SVG drawn over each photo in its identity's colour, styles are inline, and
there is no script and no external address of any kind (a Content-Security-Policy in the page
forbids both, should a user's template try). Kinds:

    recognize    photos, their faces boxed, a table of candidate matches per face
    match-faces  the review sheet of proposed links (also as CSV: dataset-match-faces's columns)
    cluster      a contact sheet of face crops per cluster
    verify       the two faces of a verification side by side, and the verdict

`blur` blurs every detected face, in photos and crops, for sharing, and puts stand-ins in place
of identity names and file names ("Person 1", "photo 1"). JSON holds a report's variables
without pixels, for scripts.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from typing import Iterable

from ..errors import UsageError
from ..records import timestamp
from ..review import write_csv
from ..store.atomic import write_atomic
from ..store.dataset import Dataset, is_dataset
from ..stream import Emitter
from . import original
from .context import Builder
from .gather import KINDS, STAGE, Gathered, from_dataset, gather
from .pictures import Pictures
from .render import reads, render_html, render_json

logger = logging.getLogger("recops")
FORMATS = ("html", "json", "csv")
_EXTENSIONS = {".html": "html", ".htm": "html", ".json": "json", ".csv": "csv"}


@dataclass(frozen=True)
class ReportOptions:
    kind: str | None = None
    """None: told by the records (a verification, clusters, proposals, else recognitions)."""
    format: str | None = None
    """None: told by the output's extension, else html."""
    blur: bool = False
    template: str | None = None
    title: str | None = None
    settings: dict | None = None
    """The command's options that a template of the original recops reads (report/original.py)."""


def checked_format(output: str, options: ReportOptions) -> str:
    """The format to write, once the options are known to make sense (before any work)."""
    fmt = options.format or _EXTENSIONS.get(os.path.splitext(output)[1].lower(), "html")
    if fmt not in FORMATS:
        raise UsageError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}")
    if options.kind is not None and options.kind not in KINDS:
        raise UsageError(f"unknown report kind {options.kind!r}; choose from {', '.join(KINDS)}")
    if options.template and fmt != "html":
        raise UsageError("--template renders HTML; give -o a .html file (or --format html)")
    if options.template and not os.path.isfile(options.template):
        raise UsageError(f"--template {options.template}: no such file")
    return fmt


def report_stream(
    items: Iterable, dataset: str | None, output: str, out: Emitter, options: ReportOptions = ReportOptions()
) -> dict:
    """Report on the records of a stream. Pixels, names and colours come from `dataset` (a
    directory), else from the dataset the records name when it is here, else from the records'
    paths and inline data."""
    checked_format(output, options)
    gathered = gather(items, out)
    root = dataset or gathered.dataset
    if root and (dataset or is_dataset(root)):
        with Dataset.open(root) as opened:
            return write_report(gathered, opened, output, out, options)
    if root:
        logger.warning("the records name dataset %s, which is not here: pixels come from their paths", root)
    return write_report(gathered, None, output, out, options)


def report_dataset(dataset: Dataset, output: str, out: Emitter, options: ReportOptions = ReportOptions()) -> dict:
    """Report on what a dataset keeps: see gather.from_dataset."""
    checked_format(output, options)
    return write_report(from_dataset(dataset, options.kind or "recognize"), dataset, output, out, options)


def write_report(
    gathered: Gathered, dataset: Dataset | None, output: str, out: Emitter, options: ReportOptions = ReportOptions()
) -> dict:
    """Render the report, write it atomically (mode 0600: it holds faces), emit and return a
    report record."""
    fmt = checked_format(output, options)
    kind = options.kind or gathered.kind()
    if fmt == "csv":
        if kind != "match-faces":
            raise UsageError("CSV is the match-faces review sheet's format; use json for other reports")
        text = io.StringIO()
        rows = write_csv(gathered.proposals, text)
        data, counts = text.getvalue(), {"proposals": rows}
    else:
        pictures = Pictures(dataset, options.blur, enabled=fmt == "html")
        variables = Builder(gathered, dataset, pictures, out).build(kind, options.title)
        if fmt == "html" and options.template and kind == "recognize":
            data = render_html(variables | _as_original(variables, dataset, options, out), options.template)
        else:
            data = render_html(variables, options.template) if fmt == "html" else render_json(variables)
        counts = _counts(variables)
    encoded = data.encode("utf-8")
    try:
        write_atomic(output, encoded, mode=0o600)
    except OSError as exc:
        raise UsageError(f"-o {output}: {exc.strerror or exc}") from None
    record = {
        "type": "report",
        "kind": kind,
        "format": fmt,
        "file": os.path.abspath(output),
        "blurred": options.blur and fmt == "html",
        **counts,
        "bytes": len(encoded),
        "ts": timestamp(),
    }
    out.emit(record)
    return record


def _as_original(variables: dict, dataset: Dataset | None, options: ReportOptions, out: Emitter) -> dict:
    """The original recops's variables, for a user's template that reads its `img` (today's read
    `images`); it showed one photo, so each further photo is an error record: not in the report."""
    if not reads(options.template, ("img",)):
        return {}
    given = original.variables(variables, dataset, options.settings)
    for image in given["imgs"][1:]:
        out.fail(
            image.id,
            STAGE,
            f"not in the report: the template {options.template} shows one photo (the original's img); "
            "recognise each photo on its own, or read `images` in the template",
            "one-photo-template",
        )
    return given


def _counts(variables: dict) -> dict:
    for key in ("images", "proposals", "clusters", "verifications"):
        if key in variables:
            counts = {key: len(variables[key])}
            if key == "images":
                counts["faces"] = sum(len(i["faces"]) for i in variables["images"])
            return counts | {"problems": len(variables["problems"])}
    return {}
