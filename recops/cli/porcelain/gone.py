"""The original's `debug`: gone, and answered with what replaces it rather than "No such command"."""

from ...errors import UsageError
from .shared import app, run

GONE_DEBUG = (
    "debug is gone: the original's Python shell over its database has no database to open here; a dataset is a "
    "folder of plain files: list it with `recops dataset-list-faces -d NAME` (or rx-ls), read it from Python with "
    "`from recops.store.dataset import Dataset`, and see what a command does with --log-level DEBUG"
)


@app.command("debug", hidden=True, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def debug() -> None:
    """The original's Python shell: gone (says what replaces it)."""
    with run("debug"):
        raise UsageError(GONE_DEBUG)
