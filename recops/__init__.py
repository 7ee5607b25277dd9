"""recops: face recognition for investigators, as small Unix tools over a content-addressed dataset.

The core is usable from Python without the command line:

    from recops.store.dataset import Dataset
    from recops.stages.importing import Importer
    from recops.stream import Emitter

    records = []
    with Dataset.open("case.rx") as dataset:
        Importer(dataset, Emitter(records.append)).add_arguments(["photos/"])
"""

import os

__version__ = "0.1.0"

# deepface runs its models on TensorFlow whenever TensorFlow is installed, and recops[mtcnn] installs
# it: installing a detector would change the weight files every recognition model asks for (.h5,
# not .onnx) and need tf-keras besides. recops runs them on ONNX unless the user says otherwise.
os.environ.setdefault("DEEPFACE_BACKEND_ENGINE", "onnx")
