"""recops recognize and verify: who the faces of photos are, and whether two photos show one person."""

import contextlib
from typing import Annotated, Optional

import typer

from ...errors import UsageError
from ...outputs import open_private
from ...report import ReportOptions, checked_format, gather, write_report
from ...shards import open_shards, roots_of
from ...stages.matching import MatchOptions
from ...stages.recognition import RecognizeOptions, recognize
from ...store.dataset import Dataset, locate
from ...stream import RecordWriter
from ...verify import verify_photos
from .. import common
from ..match import ExcludeOpt, IdentifiedOpt, MatchThresholdOpt, MaximumOpt, names
from ..verify import Pick, PickOpt
from .shared import DatasetsArg, app, dataset_location, output_form, refuse_existing, run


@app.command("recognize")
def recognize_command(
    images: Annotated[list[str], typer.Argument(metavar="IMAGE...", help="Photos to recognise (folders are walked).")],
    roots: DatasetsArg,
    output: Annotated[
        Optional[str],
        typer.Option(
            "-o",
            "--output",
            metavar="FILE",
            help=(
                "Write the records to FILE (JSON lines) instead of stdout; a FILE ending in .html gets the report of "
                "rx-report (the original's image-view)."
            ),
        ),
    ] = None,
    blur: Annotated[
        bool,
        typer.Option(
            "--blur", help="Blur every detected face in the HTML report, for sharing (the original's image-blur-view)."
        ),
    ] = False,
    template: Annotated[
        Optional[str],
        typer.Option(
            metavar="FILE", help="A jinja2 template for the HTML report instead of the bundled one (see rx-report)."
        ),
    ] = None,
    consent: Annotated[
        Optional[bool], typer.Option("--consent/--no-consent", help="Record that the people shown consented (or not).")
    ] = None,
    align: Annotated[
        bool, typer.Option("--align/--no-align", help="Align faces by their landmarks before embedding.")
    ] = True,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Detect and embed again even if the dataset has it, and write -o FILE over a file that is there "
            "(refused without it, as in the original).",
        ),
    ] = False,
    include_extended_fields: Annotated[
        bool,
        typer.Option(
            "--include-extended-fields",
            help="Add the stored attributes (age, gender, emotion, race) to faces and matches.",
        ),
    ] = False,
    maximum: MaximumOpt = 10,
    threshold: MatchThresholdOpt = None,
    identified_faces: IdentifiedOpt = False,
    exclude_identities: ExcludeOpt = None,
    max_false_alarm: common.MaxFalseAlarmOpt = None,
    min_quality: common.MinQualityOpt = None,
    listing: common.DatasetListOpt = None,
) -> None:
    """Recognise the faces of photos against a dataset (rx-import | rx-detect | rx-embed | rx-match).

    Writes each photo's image record, its faces with their embeddings, and their matches; with
    -o FILE.html, the report instead (and a report record on stdout). The dataset keeps what a
    recognition saw (the photo, marked as a query, its faces and matches); query faces are not
    searched by later recognitions unless linked to an identity. With -d again (or --datasets),
    the photos are recognised against every dataset given, searched as one (see rx-match).
    """
    with run("recognize") as out:
        if threshold is not None and max_false_alarm is not None:
            raise UsageError("give --threshold or --max-false-alarm, not both")
        options = RecognizeOptions(
            consent,
            align,
            force,
            include_extended_fields,
            MatchOptions(
                maximum,
                threshold,
                identified_faces,
                names(exclude_identities),
                max_false_alarm=max_false_alarm,
                min_quality=min_quality,
            ),
        )
        form = output_form(output, "records", blur, template)
        if form:
            refuse_existing([output], force)
        if form == "html":
            settings = {
                "maximum": maximum,
                "identified_faces": identified_faces,
                "exclude_identities": list(names(exclude_identities)),
                "threshold": threshold,
                "include_extended_fields": include_extended_fields,
            }
            report = ReportOptions("recognize", "html", blur, template, settings=settings)
            checked_format(output, report)
        with contextlib.ExitStack() as stack:
            records: list[dict] = []
            if form == "html":
                write = records.append
            elif form == "records":
                writer = RecordWriter(stack.enter_context(open_private(output, "wb")))
                write = writer.write
                stack.callback(writer.flush)  # before the file closes: what was recognised before an interruption stays
            roots = roots_of(roots, listing)
            dataset = stack.enter_context(Dataset.open(locate(roots[0])))
            shards = stack.enter_context(open_shards(dataset, roots[1:]))
            target = stack.enter_context(common.counted("recops recognize", write)) if form else out
            recognize(dataset, images, target, options, shards)
            if form == "html":
                write_report(gather(records, out), dataset, output, out, report)  # upstream errors count there
            elif form == "records":
                out.failures += target.failures


@app.command("verify")
def verify_command(
    first: Annotated[str, typer.Argument(metavar="IMAGE1", help="A photo of the person.")],
    second: Annotated[str, typer.Argument(metavar="IMAGE2", help="Another photo.")],
    root: Annotated[
        Optional[str],
        typer.Option(
            "-d",
            "--dataset",
            "--dataset-id",
            metavar="NAME|DIR|ID",
            parser=dataset_location,
            help="Use this dataset's detector, model, metric and threshold.",
        ),
    ] = None,
    threshold: MatchThresholdOpt = None,
    align: Annotated[
        bool, typer.Option("--align/--no-align", help="Align faces by their landmarks before embedding.")
    ] = True,
    pick: PickOpt = Pick.one,
    consent: Annotated[
        Optional[bool],
        typer.Option(
            "--consent/--no-consent",
            help="Taken as the original took it, and without effect: verify stores nothing, so there is nothing to "
            "mark.",
        ),
    ] = None,
) -> None:
    """Tell whether two photos show the same person (rx-verify); stores nothing."""
    with run("verify") as out:
        verify_photos(out, first, second, locate(root) if root else None, threshold, align, pick.value)
