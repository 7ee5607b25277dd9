"""$STORAGE_URI and $DATABASE_URI, where the original recops kept its files and its SQLite
database, read as the folder that holds the datasets (what $RECOPS_HOME names today).

The original derived its paths so (utils.py): `urlparse(STORAGE_URI).path` and
`DATABASE_URI.replace("sqlite:///", "")`, both defaulting to ~/.recops/data. The same is done
here, and anything recops cannot keep datasets in (a database server, object storage, another
host) is refused with the reason.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from ..errors import UsageError

STORAGE_ENV = "STORAGE_URI"
DATABASE_ENV = "DATABASE_URI"
_SQLITE = "sqlite:///"
_INSTEAD = (
    "recops keeps each dataset in a folder of plain files: set RECOPS_HOME=FOLDER (or STORAGE_URI=file:///FOLDER)"
)


def folder_of(variable: str, uri: str) -> str:
    """The folder `uri` (the value of STORAGE_URI or DATABASE_URI) names; UsageError where it
    names something else than a local folder or a local SQLite file."""
    if variable == DATABASE_ENV:
        return os.path.dirname(database_file(uri, variable)) or "."
    return storage_folder(uri, variable)


def _checked(variable: str, uri: str, instead: str):
    if "\0" in uri or any(ord(c) < 32 for c in uri):
        raise UsageError(f"{variable}: holds a control character; {instead}")
    parts = urlsplit(uri)
    if parts.query or parts.fragment:
        raise UsageError(f"{variable}={uri}: a query or fragment (? or #) is not read; {instead}")
    return parts


def database_file(
    uri: str, variable: str = DATABASE_ENV, instead: str = _INSTEAD, why: str = ": there is no database"
) -> str:
    """The SQLite file a DATABASE_URI names (`sqlite:////abs/path`, `sqlite:///relative/path`, as
    SQLAlchemy reads it); UsageError for any other database, saying `why` it is not read."""
    scheme = _checked(variable, uri, instead).scheme.lower()
    if scheme != "sqlite":
        what = f"a {scheme} database" if scheme else "no sqlite:/// URI"
        raise UsageError(f"{variable}={uri} names {what}{why}; {instead}")
    path = uri[len(_SQLITE) :] if uri.startswith(_SQLITE) else ""
    if not path or path == ":memory:" or path.endswith("/"):
        raise UsageError(f"{variable}={uri}: names no database file (sqlite:////PATH/recops.db); {instead}")
    return path


def storage_folder(uri: str, variable: str = STORAGE_ENV, instead: str = _INSTEAD) -> str:
    """The local folder a STORAGE_URI names (`file:///FOLDER`); UsageError for anything else."""
    parts = _checked(variable, uri, instead)
    scheme = parts.scheme.lower()
    if scheme != "file":
        what = f"{scheme}:// storage" if scheme else "a bare path"
        raise UsageError(f"{variable}={uri} names {what}, not a local folder (file:///FOLDER); {instead}")
    if parts.netloc not in ("", "localhost"):
        raise UsageError(f"{variable}={uri} names a folder on {parts.netloc}, not on this machine; {instead}")
    if not parts.path.startswith("/"):
        raise UsageError(f"{variable}={uri}: a file URI names an absolute path (file:///FOLDER); {instead}")
    return parts.path
