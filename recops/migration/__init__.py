"""recops migrate: the cases of the original recops (its SQLite database and storage folder),
carried into recops datasets, one per original dataset, without changing the original.

`original.py` reads the database read-only, `storage.py` its files without following a link,
`unpickle.py` decodes its pickled columns without running them, `carry.py` writes one dataset,
and `run.py` does them all and checks each with rx-fsck.
"""

from .run import migrate

__all__ = ["migrate"]
