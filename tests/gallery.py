"""Faces written straight into a dataset, with chosen vectors: matching and review without models."""

import numpy as np

from recops.logs import EMBEDDINGS, FACES, IMAGES
from recops.records import image_record, timestamp


def hexid(n: int, kind: str = "f") -> str:
    return f"{kind}{n:031x}"


def add_face(ds, n: int, image: int, vector, model: str = "Dlib", query: bool = False) -> str:
    """Face hexid(n) of image hexid(image, "a"), embedded as `vector`; returns the face id."""
    face, image_id = hexid(n), hexid(image, "a")
    ds.log(IMAGES).append(image_record(image_id, 1, "image/jpeg", 10, 10, [f"/photos/{image}.jpg"], False, query=query))
    ds.log(FACES).append({"type": "face", "id": face, "image": image_id, "box": [0, 0, 5, 5], "ts": timestamp()})
    ds.log(EMBEDDINGS).append(
        {
            "type": "embedding",
            "face": face,
            "image": image_id,
            "model": model,
            "vector": np.asarray(vector, np.float32),
            "ts": timestamp(),
        }
    )
    return face
