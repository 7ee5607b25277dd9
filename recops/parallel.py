"""Work spread over processes, results in input order, never more than a window in flight.

Records that need no work travel in the same queue, so a stream keeps its order. Workers are
forked: they inherit what the parent registered (a test's fake model) and load models themselves,
on first use.
"""

from __future__ import annotations

import concurrent.futures
import mmap
import multiprocessing
import os
import signal
from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


def _worker_signals() -> None:
    # The parent turns Ctrl-C and SIGTERM into a clean stop and ends the pool; workers just go.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def parent_only(shape: tuple[int, ...], dtype) -> np.ndarray:
    """A zeroed array that forked workers do not inherit (Linux): a worker that needs none of it
    neither maps it nor counts it in its resident size, which at ten million faces is the
    difference between the index's pages alone and those plus 5 GB of vectors."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if not size:
        return np.zeros(shape, dtype)
    buffer = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
    if hasattr(mmap, "MADV_DONTFORK"):
        buffer.madvise(mmap.MADV_DONTFORK)
    return np.frombuffer(buffer, dtype).reshape(shape)


def ordered_map(
    items: Iterable[T],
    work: Callable[[object], R],
    workers: int,
    task_of: Callable[[T], object | None],
    window: int | None = None,
) -> Iterator[tuple[T, R | None]]:
    """Yield (item, work(task_of(item))) for items with a task and (item, None) for the rest,
    in input order. Tasks travel to the workers, so they must pickle. With one worker
    everything runs here, in this process."""
    if workers <= 1:
        for item in items:
            task = task_of(item)
            yield item, (work(task) if task is not None else None)
        return
    window = window or workers * 4
    # An executor, not multiprocessing.Pool: when a worker dies (a crash in native model code, the
    # OOM killer), a Pool silently loses its task and waits for ever; the executor raises.
    pool = concurrent.futures.ProcessPoolExecutor(
        workers, multiprocessing.get_context("fork"), initializer=_worker_signals
    )
    try:
        pending: deque = deque()
        for item in items:
            task = task_of(item)
            pending.append((item, pool.submit(work, task) if task is not None else None))
            while pending and (len(pending) > window or pending[0][1] is None or pending[0][1].done()):
                head, result = pending.popleft()
                yield head, _outcome(result)
        while pending:
            head, result = pending.popleft()
            yield head, _outcome(result)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _outcome(future: concurrent.futures.Future | None):
    if future is None:
        return None
    try:
        return future.result()
    except concurrent.futures.process.BrokenProcessPool:
        raise RuntimeError(
            "a worker process died (killed, out of memory, or a crash in model code); "
            "what finished before is stored, and a re-run goes on from there"
        ) from None
