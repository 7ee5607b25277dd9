"""Where paths come from: arguments, stdin lines or NUL-separated items; folders walked."""

from __future__ import annotations

import os
from typing import Callable, Iterator


def walk_files(directory: str, prune: Callable[[str], bool] = lambda path: False) -> Iterator[str]:
    """Files under `directory` in a stable order. Hidden entries (.git, .DS_Store) and folders
    for which `prune` is true are skipped; symlinked folders are not followed (no loops, no
    walking out of the tree), symlinked files are."""
    for root, subdirs, files in os.walk(directory):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and not prune(os.path.join(root, d)))
        for name in sorted(files):
            if not name.startswith("."):
                yield os.path.join(root, name)
