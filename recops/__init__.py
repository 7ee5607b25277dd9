"""recops: face recognition for investigators, as small Unix tools over a content-addressed dataset.

The core is usable from Python without the command line:

    from recops.store.dataset import Dataset
    from recops.stages.importing import Importer
    from recops.stream import Emitter

    records = []
    with Dataset.open("case.rx") as dataset:
        Importer(dataset, Emitter(records.append)).add_arguments(["photos/"])
"""

__version__ = "0.1.0"
