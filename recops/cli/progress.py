"""A one-line count of what a tool has written, on stderr, for a person watching a long run."""

from __future__ import annotations

import collections
import os
import stat
import sys
import time
from typing import Callable, TextIO

CLEAR = "\r\033[K"


def last_stage(stdout_fd: int = 1) -> bool:
    """Whether this tool ends its pipeline: its stdout is a file, a terminal or /dev/null, not a
    pipe into another tool. Only the last stage shows progress, so the stages of one pipeline do
    not draw over each other."""
    try:
        return not stat.S_ISFIFO(os.fstat(stdout_fd).st_mode)
    except OSError:
        return False


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except ValueError:  # closed
        return False


def wanted(stdout_fd: int = 1, stderr: TextIO = sys.stderr) -> bool:
    """The last stage, writing to a file (records on the terminal are their own progress, and a
    line drawn between them would garble them), with a person at the terminal (never logs or
    cron mail)."""
    return is_terminal(stderr) and last_stage(stdout_fd) and not os.isatty(stdout_fd)


class Progress:
    """Wraps a record writer: counts records by type and redraws the line at most every
    `interval` seconds. The last tool of a pipeline sees every record that came through it, so
    its line tells how far the whole pipeline is."""

    def __init__(
        self,
        tool: str,
        write: Callable[[dict], None],
        enabled: bool,
        stream: TextIO = sys.stderr,
        interval: float = 0.5,
    ):
        self.tool = tool
        self._write = write
        self.enabled = enabled
        self.stream = stream
        self.interval = interval
        self.counts: collections.Counter[str] = collections.Counter()
        self.started = self._drawn_at = time.monotonic()
        self.showing = False

    def write(self, record: dict) -> None:
        self._write(record)
        self.counts[str(record.get("type", "record"))] += 1
        if self.enabled and time.monotonic() - self._drawn_at >= self.interval:
            self.draw()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self) -> str:
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in self.counts.most_common())
        return f"{kinds or 'nothing written'} · {self.elapsed():.0f} s"

    def draw(self) -> None:
        self._drawn_at = time.monotonic()
        columns = os.get_terminal_size(self.stream.fileno()).columns if is_terminal(self.stream) else 0
        self.stream.write(CLEAR + f"{self.tool}: {self.line()}"[: columns - 1 if columns > 20 else 200])
        self.stream.flush()
        self.showing = True

    def clear(self) -> None:
        """Before anything else is written to the terminal (a log line, the end of the run)."""
        if self.showing:
            self.stream.write(CLEAR)
            self.stream.flush()
            self.showing = False


class DownloadBar:
    """One line per file being downloaded: how far, of how much, redrawn at most every `interval`."""

    def __init__(self, stream: TextIO, interval: float = 0.2):
        self.stream = stream
        self.interval = interval
        self._drawn_at = 0.0
        self.showing = False

    def __call__(self, name: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._drawn_at < self.interval and done != total:
            return
        self._drawn_at = now
        size = (
            f"{done / 1e6:,.1f} of {total / 1e6:,.1f} MB ({100 * done / total:.0f}%)"
            if total
            else f"{done / 1e6:,.1f} MB"
        )
        self.stream.write(f"{CLEAR}rx-models fetch: {name}: {size}")
        self.stream.flush()
        self.showing = True

    def close(self) -> None:
        if self.showing:
            self.stream.write("\n")
            self.stream.flush()
