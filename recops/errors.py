"""Exceptions of the core and the exit codes every tool maps them to."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes shared by every tool; a code is never reused for another meaning."""

    OK = 0
    """Every input was handled."""
    FAILED = 1
    """Some inputs failed: each has an error record on stdout and a line on stderr."""
    USAGE = 2
    """Bad command line: unknown option, missing argument, invalid value."""
    DATASET = 3
    """The dataset is missing, unreadable, of an unknown format, or the request conflicts with its config."""
    MODEL = 4
    """A model or its weight file is unavailable."""
    DAMAGED = 5
    """rx-fsck found damage: an object whose bytes do not match its name, a torn or invalid record file."""
    LOCKED = 6
    """Another recops process holds the dataset's exclusive lock (a garbage collection or a deletion)."""
    SOFTWARE = 70
    """A bug in recops: please report it with the output of -v."""
    INTERRUPTED = 130
    """Interrupted by Ctrl-C (SIGINT); everything finished before it is stored."""
    PIPE = 141
    """stdout was closed by the reader (| head); everything finished before it is stored."""


class RecopsError(Exception):
    """A failure that ends a whole command (not one input); carries its exit code."""

    exit_code = ExitCode.SOFTWARE


class UsageError(RecopsError):
    exit_code = ExitCode.USAGE


class DatasetError(RecopsError):
    exit_code = ExitCode.DATASET


class ModelError(RecopsError):
    exit_code = ExitCode.MODEL


class DamagedError(RecopsError):
    exit_code = ExitCode.DAMAGED


class LockedError(RecopsError):
    exit_code = ExitCode.LOCKED


class InputError(Exception):
    """One input failed; the run goes on. `kind` is a stable machine-readable slug."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason

    def __reduce__(self):
        # Raised in a worker process, it travels back pickled; the default would call
        # InputError(reason) and fail, which leaves a multiprocessing pool waiting for ever.
        return type(self), (self.kind, self.reason)
