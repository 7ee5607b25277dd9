"""The original recops's database (forensic-toolkit/recops, models.py), read and never written.

The file is opened through SQLite's read-only URI (`mode=ro`), so nothing in it, and no journal
beside it, can change. Every row is outside input: ids must be the 32 hex digits the original's
GUID type wrote, and whatever a row says is checked again where it is used.
"""

from __future__ import annotations

import os
import re
import sqlite3
import urllib.parse
from dataclasses import dataclass
from typing import Iterator

from ..errors import DatasetError, UsageError
from ..store import original_uris

# The columns migrate reads, per table, as models.py declares them (SQLAlchemy names each table
# after its class, lowercased, but for MatchedFaceAssociation's own __tablename__).
_COMMON = ("id", "created_at", "updated_at")
_FACE = (
    *_COMMON,
    "dataset_id",
    "image_id",
    "checksum",
    "descriptor",
    "box_left",
    "box_top",
    "box_right",
    "box_bottom",
    "consent",
    "gender_prediction",
    "gender",
    "emotion_prediction",
    "emotion",
    "age_predictions",
    "age",
    "race_prediction",
    "race",
)
SCHEMA: dict[str, tuple[str, ...]] = {
    "dataset": (
        *_COMMON,
        "name",
        "description",
        "detector_backend",
        "basemodel_backend",
        "threshold",
        "distance_metric",
    ),
    "identity": (*_COMMON, "name", "dataset_id", "attributes", "description", "color"),
    "image": (*_COMMON, "dataset_id", "path", "description", "checksum", "content_type", "marked", "consent"),
    "face": _FACE,
    "detectedface": _FACE,
    "faceidentities": ("face_id", "identity_id"),
    "matched_face_association": ("detected_face_id", "face_id", "distance", "threshold"),
    "job": (*_COMMON, "dataset_id", "image_id", "processed", "options"),
}
GUID = re.compile(r"[0-9a-f]{32}")
EXTENDED = (
    "age",
    "age_predictions",
    "gender",
    "gender_prediction",
    "emotion",
    "emotion_prediction",
    "race",
    "race_prediction",
)
"""The columns of a face's age, gender, emotion and race."""


_NOT_SQLITE = ", not the original's SQLite file"
_MIGRATE = "give the original's SQLite file (sqlite:///PATH or a path) and its storage folder (file:///PATH or a path)"


def database_file(uri: str) -> str:
    """The original's database file: a plain path, or a DATABASE_URI (`sqlite:///PATH`)."""
    return original_uris.database_file(uri, "--database", _MIGRATE, _NOT_SQLITE) if "://" in uri else uri


def storage_folder(uri: str) -> str:
    """The original's storage folder: a plain path, or a STORAGE_URI (`file:///PATH`)."""
    return original_uris.storage_folder(uri, "--storage", _MIGRATE) if "://" in uri else uri


def default_locations() -> tuple[str, str]:
    """Where the original kept its database and files: $DATABASE_URI and $STORAGE_URI, else ~/.recops/data."""
    data = os.path.join(os.path.expanduser("~"), ".recops", "data")
    database, storage = (os.environ.get(v) for v in (original_uris.DATABASE_ENV, original_uris.STORAGE_ENV))
    if database:
        database = original_uris.database_file(database, instead=_MIGRATE, why=_NOT_SQLITE)
    if storage:
        storage = original_uris.storage_folder(storage, instead=_MIGRATE)
    return database or os.path.join(data, "recops.db"), storage or data


def guid(value: object) -> str | None:
    """An id as the original's GUID type stored it (`%.32x`), or None when the value is not one."""
    return value if isinstance(value, str) and GUID.fullmatch(value) else None


@dataclass
class Original:
    """An open original database; its rows as dicts of the columns SCHEMA names."""

    path: str
    connection: sqlite3.Connection

    @classmethod
    def open(cls, path: str) -> "Original":
        if not os.path.isfile(path):
            raise UsageError(f"{path}: no such database file (give the original's DATABASE_URI or its file)")
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
        try:
            connection = sqlite3.connect(uri, uri=True)
            connection.execute("PRAGMA query_only = ON")
            found = {
                table: {row[1] for row in connection.execute("SELECT * FROM pragma_table_info(?)", (table,))}
                for table in SCHEMA
            }
        except sqlite3.DatabaseError as exc:
            raise DatasetError(f"{path}: not a database the original recops wrote: {exc}") from None
        lacking = [f"{t}.{c}" for t, columns in SCHEMA.items() for c in columns if c not in found[t]]
        if lacking:
            connection.close()
            raise DatasetError(
                f"{path}: not a database of the original recops: it lacks {', '.join(lacking[:5])}"
                + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
            )
        return cls(path, connection)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "Original":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rows(self, table: str, where: str = "", *args: object) -> Iterator[dict]:
        columns = SCHEMA[table]
        query = f"SELECT {', '.join(columns)} FROM {table}" + (f" WHERE {where}" if where else "")
        for row in self.connection.execute(query + " ORDER BY rowid", args):
            yield dict(zip(columns, row))

    def datasets(self) -> list[dict]:
        return list(self.rows("dataset"))

    def of_dataset(self, table: str, dataset: str) -> Iterator[dict]:
        return self.rows(table, "dataset_id = ?", dataset)

    def links(self, dataset: str) -> Iterator[dict]:
        """The face-identity pairs of the dataset's faces."""
        query = (
            "SELECT faceidentities.face_id, faceidentities.identity_id FROM faceidentities "
            "JOIN face ON face.id = faceidentities.face_id WHERE face.dataset_id = ? ORDER BY faceidentities.rowid"
        )
        for face, identity in self.connection.execute(query, (dataset,)):
            yield {"face_id": face, "identity_id": identity}

    def matches(self, dataset: str) -> Iterator[dict]:
        """The matches of recognitions in the dataset: a detected face, a face, their distance."""
        columns = SCHEMA["matched_face_association"]
        query = (
            f"SELECT {', '.join('m.' + c for c in columns)} FROM matched_face_association AS m "
            "JOIN detectedface ON detectedface.id = m.detected_face_id WHERE detectedface.dataset_id = ? "
            "ORDER BY m.rowid"
        )
        for row in self.connection.execute(query, (dataset,)):
            yield dict(zip(columns, row))

    def counts(self, dataset: str) -> dict[str, int]:
        """What the dataset holds of each kind migrate carries, counted as carry.py counts it."""
        faces = "(SELECT * FROM face UNION ALL SELECT * FROM detectedface)"
        extended = " OR ".join(f"{c} IS NOT NULL" for c in EXTENDED)
        queries = {
            "images": "SELECT COUNT(*) FROM image WHERE dataset_id = ?",
            "faces": f"SELECT COUNT(*) FROM {faces} WHERE dataset_id = ?",
            "embeddings": f"SELECT COUNT(*) FROM {faces} WHERE dataset_id = ? AND descriptor IS NOT NULL",
            "identities": "SELECT COUNT(*) FROM identity WHERE dataset_id = ?",
            "links": "SELECT COUNT(*) FROM faceidentities JOIN face ON face.id = face_id WHERE face.dataset_id = ?",
            "attributes": f"SELECT COUNT(*) FROM {faces} WHERE dataset_id = ? AND ({extended})",
            "matches": "SELECT COUNT(*) FROM matched_face_association AS m "
            "JOIN detectedface ON detectedface.id = m.detected_face_id WHERE detectedface.dataset_id = ?",
        }
        return {kind: self.connection.execute(query, (dataset,)).fetchone()[0] for kind, query in queries.items()}

    def orphans(self) -> dict[str, int]:
        """Rows of no dataset (a dataset_id that names none): they cannot come over."""
        found = {}
        for table in ("identity", "image", "face", "detectedface"):
            (count,) = self.connection.execute(
                f"SELECT COUNT(*) FROM {table} WHERE dataset_id IS NULL OR dataset_id NOT IN (SELECT id FROM dataset)"
            ).fetchone()
            if count:
                found[table] = count
        return found
