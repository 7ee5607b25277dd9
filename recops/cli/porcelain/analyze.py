"""recops dataset-compute-extended-fields: the original's attribute analysis, over rx-analyze's core."""

from ...listing import list_kind
from ...stages.analysis import analyze
from ...store.dataset import Dataset, locate
from ...stream import Emitter
from ..analyze import AgeOpt, EmotionOpt, GenderOpt, ModelsOpt, RaceOpt
from ..pipeline import ForceOpt, JobsOpt, jobs
from .shared import DatasetArg, app, run


@app.command("dataset-compute-extended-fields")
def dataset_compute_extended_fields(
    root: DatasetArg,
    age: AgeOpt = None,
    gender: GenderOpt = None,
    emotion: EmotionOpt = None,
    race: RaceOpt = None,
    model: ModelsOpt = None,
    force: ForceOpt = False,
    workers: JobsOpt = None,
) -> None:
    """Estimate the age, gender, emotion and race of every face of a dataset (rx-analyze).

    WARNING: these are weak and questionable models that categorise people in a discriminatory
    way. Treat what they say as unreliable guesses, never as facts about a person; every
    attribute record carries this warning.

    Writes one attribute record per face, stored in the dataset; `recops recognize
    --include-extended-fields` adds them to its faces and matches. What a model already said of
    a face is reused unless --force. Race needs deepface's own model file (rx-models add);
    without it, race is skipped with a warning.
    """
    with run("dataset-compute-extended-fields") as out:
        with Dataset.open(locate(root)) as dataset:
            attributes = Emitter(lambda record: out.emit(record) if record.get("type") != "face" else None)
            wanted = {"age": age, "gender": gender, "emotion": emotion, "race": race}
            analyze(attributes, list_kind(dataset, "faces"), wanted, model or (), dataset, jobs(workers), force)
