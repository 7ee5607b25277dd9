"""recops: the functions of the original recops CLI, over the same core as the rx tools.

`shared` holds the app and what the functions share; each other module registers a group of
functions on the app, and importing this package imports them all.
"""

# In the order `recops --help` lists them (kept by hand: sorting would reorder the help).
from . import datasets, recognition, analyze, backup, cluster, identities, imports, webui, migrate, gone  # noqa: F401, I001
from .shared import app


def main() -> None:
    app(prog_name="recops")
