"""recops: the functions of the original recops CLI, over the same core as the rx tools.

Datasets are given by name (kept under $RECOPS_HOME), by path, or by id.
"""

import contextlib
import logging
import os
import sys
from typing import Annotated, Optional

import typer

from ..datasets import dataset_record, init_dataset, list_datasets
from ..errors import DatasetError, UsageError
from ..ids import dataset_path
from ..stages.matching import MatchOptions
from ..outputs import open_private
from ..stages.recognition import RecognizeOptions, recognize
from ..report import ReportOptions, checked_format, gather, write_report
from ..listing import list_kind
from ..store.dataset import Dataset, home, locate
from ..stream import Emitter, RecordWriter
from . import common, table
from .match import ExcludeOpt, IdentifiedOpt, MatchThresholdOpt, MaximumOpt, names
from .common import DescriptionOpt, DetectorOpt, FlipOpt, MetricOpt, ModelOpt, ThresholdOpt, new_app, running

app = new_app()
logger = logging.getLogger("recops")

def dataset_location(text: str) -> str:
    """A dataset as the porcelain takes it: a directory, a name under $RECOPS_HOME, or the id
    (or a unique start of it) that dataset-list prints."""
    try:
        return dataset_path(text)
    except DatasetError as exc:
        raise typer.BadParameter(str(exc)) from None


DatasetArg = Annotated[str, typer.Option("-d", "--dataset", "--dataset-id", envvar=common.ENV_VAR, show_envvar=True, metavar="NAME|DIR|ID",
                                         parser=dataset_location,
                                         help="Dataset name (under $RECOPS_HOME), directory, or the id dataset-list shows (or a unique start of it).")]
_state: dict = {"level": None, "log_file": None}


@app.callback()
def porcelain(
    log_level: Annotated[Optional[str], typer.Option(metavar="LEVEL", help="Logging level: DEBUG, INFO, WARNING or ERROR [default: INFO on a terminal, else WARNING].")] = None,
    log_file: Annotated[Optional[str], typer.Option(metavar="FILE", help="Append logs to this file instead of stderr.")] = None,
) -> None:
    """Face recognition for investigators: the functions of the original recops command.

    Datasets are given by name (kept under $RECOPS_HOME), by path, or by the id dataset-list
    shows. Images, faces, identities and clusters are given by id, or by a unique start of it
    (at least 4 characters: the 12 that tables show will do), as git takes commits. Each
    function is a composition of the rx tools' core; records go to stdout (a table on a terminal).
    """
    _state.update(level=log_level, log_file=log_file)


def run(name: str):
    return running(f"recops {name}", level=_state["level"], log_file=_state["log_file"])


def show(records: list[dict], kind: str, out: Emitter) -> None:
    if common.stdout_is_terminal():
        sys.stdout.write(table.render(records, table.COLUMNS[kind]))
    else:
        for record in records:
            out.emit(record)


@app.command("dataset-create")
def dataset_create(
    name: Annotated[str, typer.Argument(metavar="DATASET", help="Dataset name (created under $RECOPS_HOME) or directory.")],
    detector: DetectorOpt = None,
    basemodel: ModelOpt = None,
    distance_metric: MetricOpt = None,
    threshold: ThresholdOpt = None,
    description: DescriptionOpt = None,
    flip: FlipOpt = None,
) -> None:
    """Create a dataset, or update an existing one's description, threshold and metric (rx-init)."""
    with run("dataset-create") as out:
        dataset, created = init_dataset(locate(name), detector, basemodel, distance_metric, threshold, description, flip)
        with dataset:
            out.emit(dataset_record(dataset) | {"new": created})


@app.command("dataset-list")
def dataset_list(
    folder: Annotated[Optional[str], typer.Argument(metavar="FOLDER", help="Where to look [default: $RECOPS_HOME].")] = None,
) -> None:
    """List datasets with their detector, model, threshold and counts (rx-ls datasets)."""
    with run("dataset-list") as out:
        found: list[dict] = []
        sink = Emitter(found.append)
        if folder or os.path.isdir(home()):  # no home yet: no datasets, not an error
            list_datasets(folder or home(), sink)
        out.failures += sink.failures
        show(found, "datasets", out)


def _lister(kind: str):
    def command(dataset: DatasetArg) -> None:
        with run(f"dataset-list-{kind}") as out:
            with Dataset.open(locate(dataset)) as ds:
                show(list(list_kind(ds, kind)), kind, out)

    command.__doc__ = f"List the {kind} of a dataset (rx-ls {kind})."
    return command


for _kind in ("images", "faces", "identities"):
    app.command(f"dataset-list-{_kind}")(_lister(_kind))


@app.command("recognize")
def recognize_command(
    images: Annotated[list[str], typer.Argument(metavar="IMAGE...", help="Photos to recognise (folders are walked).")],
    dataset: DatasetArg,
    output: Annotated[Optional[str], typer.Option("-o", "--output", metavar="FILE", help="Write the records to FILE (JSON lines) instead of stdout; a FILE ending in .html gets the report of rx-report (the original's image-view).")] = None,
    blur: Annotated[bool, typer.Option("--blur", help="Blur every detected face in the HTML report, for sharing (the original's image-blur-view).")] = False,
    template: Annotated[Optional[str], typer.Option(metavar="FILE", help="A jinja2 template for the HTML report instead of the bundled one (see rx-report).")] = None,
    consent: Annotated[Optional[bool], typer.Option("--consent/--no-consent", help="Record that the people shown consented (or not).")] = None,
    align: Annotated[bool, typer.Option("--align/--no-align", help="Align faces by their landmarks before embedding.")] = True,
    force: Annotated[bool, typer.Option("--force", help="Detect and embed again even if the dataset has it.")] = False,
    include_extended_fields: Annotated[bool, typer.Option("--include-extended-fields", help="Add the stored attributes (age, gender, emotion, race) to faces and matches.")] = False,
    maximum: MaximumOpt = 10,
    threshold: MatchThresholdOpt = None,
    identified_faces: IdentifiedOpt = False,
    exclude_identities: ExcludeOpt = None,
) -> None:
    """Recognise the faces of photos against a dataset (rx-import | rx-detect | rx-embed | rx-match).

    Writes each photo's image record, its faces with their embeddings, and their matches; with
    -o FILE.html, the report instead (and a report record on stdout). The dataset keeps what a
    recognition saw (the photo, marked as a query, its faces and matches); query faces are not
    searched by later recognitions unless linked to an identity.
    """
    with run("recognize") as out:
        options = RecognizeOptions(consent, align, force, include_extended_fields, MatchOptions(maximum, threshold, identified_faces, names(exclude_identities)))
        html = bool(output) and output.lower().endswith((".html", ".htm"))
        if html:
            report = ReportOptions("recognize", "html", blur, template)
            checked_format(output, report)
        elif blur or template:
            raise UsageError("--blur and --template shape the HTML report: give -o FILE.html")
        with contextlib.ExitStack() as stack:
            records: list[dict] = []
            if html:
                write = records.append
            elif output:
                sink = stack.enter_context(open_private(output, "wb"))
                writer = RecordWriter(sink)
                write = writer.write
                stack.callback(writer.flush)  # before the file closes: what was recognised before an interruption stays
            ds = stack.enter_context(Dataset.open(locate(dataset)))
            target = stack.enter_context(common.counted("recops recognize", write)) if output else out
            recognize(ds, images, target, options)
            if html:
                write_report(gather(records, out), ds, output, out, report)  # upstream errors count there
            elif output:
                out.failures += target.failures


@app.command("verify")
def verify_command(
    first: Annotated[str, typer.Argument(metavar="IMAGE1", help="A photo with exactly one face.")],
    second: Annotated[str, typer.Argument(metavar="IMAGE2", help="Another photo with exactly one face.")],
    dataset: Annotated[Optional[str], typer.Option("-d", "--dataset", "--dataset-id", metavar="NAME|DIR|ID", parser=dataset_location, help="Use this dataset's detector, model, metric and threshold.")] = None,
    threshold: MatchThresholdOpt = None,
    align: Annotated[bool, typer.Option("--align/--no-align", help="Align faces by their landmarks before embedding.")] = True,
) -> None:
    """Tell whether two photos show the same person (rx-verify); stores nothing."""
    from .verify import rx_verify

    rx_verify(first, second, locate(dataset) if dataset else None, threshold, align, "json", False, False)


def main() -> None:
    app(prog_name="recops")


# The other functions live in modules of their own and register on `app` as they are imported.
from . import porcelain_analyze, porcelain_backup, porcelain_cluster, porcelain_identities, porcelain_imports, porcelain_webui  # noqa: E402,F401
