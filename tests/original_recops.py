"""A database and storage folder as the original recops (forensic-toolkit/recops) left them.

The DDL is what SQLAlchemy creates in SQLite for the original's models.py, written out by hand
column by column; rows and files are written the way its manager.py and cli.py wrote them
(images at image/<md5>, a thumbnail beside each, PickleType columns as pickles).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sqlite3
import uuid

import numpy as np

# Face and DetectedFace declare the same columns in models.py.
FACE_COLUMNS = """
    id CHAR(32) NOT NULL, created_at DATETIME, updated_at DATETIME,
    dataset_id CHAR(32), image_id CHAR(32), checksum VARCHAR, descriptor BLOB,
    box_left INTEGER, box_top INTEGER, box_right INTEGER, box_bottom INTEGER, consent BOOLEAN,
    gender_prediction BLOB, gender VARCHAR, emotion_prediction BLOB, emotion VARCHAR,
    age_predictions BLOB, age INTEGER, race_prediction BLOB, race VARCHAR,
    PRIMARY KEY (id), FOREIGN KEY(dataset_id) REFERENCES dataset (id), FOREIGN KEY(image_id) REFERENCES image (id)
"""
DDL = f"""
CREATE TABLE dataset (
    id CHAR(32) NOT NULL, created_at DATETIME, updated_at DATETIME,
    name VARCHAR NOT NULL, description VARCHAR,
    detector_backend VARCHAR, basemodel_backend VARCHAR,
    threshold FLOAT, distance_metric VARCHAR,
    PRIMARY KEY (id), UNIQUE (name)
);
CREATE TABLE identity (
    id CHAR(32) NOT NULL, created_at DATETIME, updated_at DATETIME,
    name VARCHAR NOT NULL, dataset_id CHAR(32), attributes JSON, description TEXT, color VARCHAR,
    PRIMARY KEY (id), UNIQUE (name), FOREIGN KEY(dataset_id) REFERENCES dataset (id)
);
CREATE TABLE image (
    id CHAR(32) NOT NULL, created_at DATETIME, updated_at DATETIME,
    dataset_id CHAR(32), path VARCHAR, description TEXT, checksum VARCHAR, content_type VARCHAR,
    marked VARCHAR, consent BOOLEAN,
    PRIMARY KEY (id), FOREIGN KEY(dataset_id) REFERENCES dataset (id)
);
CREATE TABLE job (
    id CHAR(32) NOT NULL, created_at DATETIME, updated_at DATETIME,
    dataset_id CHAR(32), image_id CHAR(32), processed BOOLEAN, options JSON,
    PRIMARY KEY (id), FOREIGN KEY(dataset_id) REFERENCES dataset (id), FOREIGN KEY(image_id) REFERENCES image (id)
);
CREATE TABLE face ({FACE_COLUMNS});
CREATE TABLE detectedface ({FACE_COLUMNS});
CREATE TABLE faceidentities (
    face_id CHAR(32) NOT NULL, identity_id CHAR(32) NOT NULL,
    PRIMARY KEY (face_id, identity_id),
    FOREIGN KEY(face_id) REFERENCES face (id), FOREIGN KEY(identity_id) REFERENCES identity (id)
);
CREATE TABLE matched_face_association (
    detected_face_id CHAR(32) NOT NULL, face_id CHAR(32) NOT NULL, distance FLOAT, threshold FLOAT,
    PRIMARY KEY (detected_face_id, face_id),
    FOREIGN KEY(detected_face_id) REFERENCES detectedface (id), FOREIGN KEY(face_id) REFERENCES face (id)
);
"""
NOW = "2022-03-04 05:06:07.000000"


def pickled(value) -> bytes:
    """As SQLAlchemy's PickleType stored a value (pickle.HIGHEST_PROTOCOL)."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


class Evil:
    """A pickle that runs a shell command when loaded."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class OriginalRecops:
    """An original database at `root`/recops.db with its storage folder `root` (the original's default layout)."""

    def __init__(self, root: str):
        self.root = root
        self.database = os.path.join(root, "recops.db")
        os.makedirs(root, exist_ok=True)
        self.db = sqlite3.connect(self.database)
        self.db.executescript(DDL)

    def _insert(self, table: str, **row) -> str:
        row.setdefault("id", uuid.uuid4().hex)
        if table not in ("faceidentities", "matched_face_association"):
            row.setdefault("created_at", NOW)
            row.setdefault("updated_at", NOW)
        self.db.execute(
            f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )
        self.db.commit()
        return row["id"]

    def dataset(self, name: str, detector="dlib", basemodel="DlibResNet", metric="cosine", threshold=0.07) -> str:
        return self._insert(
            "dataset",
            name=name,
            description="",
            detector_backend=detector,
            basemodel_backend=basemodel,
            threshold=threshold,
            distance_metric=metric,
        )

    def image(self, dataset: str, data: bytes, consent=False, marked="IMPORT", path: str | None = None) -> str:
        checksum = hashlib.md5(data).hexdigest()
        if path is None:
            path = f"image/{checksum}"
            os.makedirs(os.path.join(self.root, "image"), exist_ok=True)
            with open(os.path.join(self.root, path), "wb") as f:
                f.write(data)
            with open(os.path.join(self.root, f"{path}_thumb"), "wb") as f:
                f.write(_thumb(data))
        return self._insert(
            "image",
            dataset_id=dataset,
            path=path,
            description="",
            checksum=checksum,
            content_type="image/jpeg",
            marked=marked,
            consent=int(consent),
        )

    def face(
        self, dataset: str, image: str, box, descriptor: bytes | None, table="face", consent=False, **extended
    ) -> str:
        left, top, right, bottom = (int(v) for v in box)
        return self._insert(
            table,
            dataset_id=dataset,
            image_id=image,
            checksum=uuid.uuid4().hex,
            descriptor=descriptor,
            box_left=left,
            box_top=top,
            box_right=right,
            box_bottom=bottom,
            consent=int(consent),
            **extended,
        )

    def identity(self, dataset: str, name: str, color="#00ff01", description="") -> str:
        return self._insert(
            "identity", dataset_id=dataset, name=name, color=color, description=description, attributes="{}"
        )

    def link(self, face: str, identity: str) -> None:
        self.db.execute("INSERT INTO faceidentities (face_id, identity_id) VALUES (?, ?)", (face, identity))
        self.db.commit()

    def match(self, detected: str, face: str, distance: float, threshold: float) -> None:
        self.db.execute(
            "INSERT INTO matched_face_association (detected_face_id, face_id, distance, threshold) VALUES (?, ?, ?, ?)",
            (detected, face, distance, threshold),
        )
        self.db.commit()

    def close(self) -> None:
        self.db.close()


def _thumb(data: bytes) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.thumbnail((100, 100))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


class OriginalDescriptors:
    """A face's descriptor as the original computed it with DlibResNet: deepface's DlibWrapper
    detector aligned the face with dlib's chip at the face's own size, recops's preprocess scaled
    it to 150 pixels and to 0..1, and DlibResNet.predict turned it "from BGR to RGB" (the
    original's pixels were RGB already, so dlib got BGR) and back to 0..255 before dlib described it."""

    def __init__(self):
        import dlib

        from recops.models.weight_files import weights_dir
        from recops.models.weight_status import require

        require("facial_recognition", "Dlib")
        self.dlib = dlib
        self.shape = dlib.shape_predictor(os.path.join(weights_dir(), "shape_predictor_5_face_landmarks.dat"))
        self.model = dlib.face_recognition_model_v1(
            os.path.join(weights_dir(), "dlib_face_recognition_resnet_model_v1.dat")
        )

    def __call__(self, rgb: np.ndarray, box) -> np.ndarray:
        import cv2

        dlib = self.dlib
        rect = dlib.rectangle(*(int(v) for v in box))
        chip = dlib.get_face_chip(rgb, self.shape(rgb, rect), size=int(box[3]) - int(box[1]))
        pixels = cv2.resize(chip, (150, 150)).astype(np.float32) / 255
        pixels = (pixels[:, :, ::-1] * 255).astype(np.uint8)
        return np.asarray(self.model.compute_face_descriptor(np.ascontiguousarray(pixels)), dtype=np.float64)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """deepface's findCosineDistance, as the original's Dataset.distance used it."""
    return float(1 - a @ b / (np.sqrt(a @ a) * np.sqrt(b @ b)))
