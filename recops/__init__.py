"""recops: face recognition for investigators, as small Unix tools over a content-addressed dataset.

The core is usable from Python without the command line:

    from recops.store.dataset import Dataset
    from recops.importer import Importer
    from recops.stream import Emitter

    records = []
    with Dataset.open("case.rx") as ds:
        Importer(ds, Emitter(records.append)).add_arguments(["photos/"])
"""

__version__ = "0.1.0"
