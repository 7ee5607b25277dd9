"""Work spread over processes, results in input order, never more than a window in flight.

Records that need no work travel in the same queue, so a stream keeps its order. Workers are
forked: they inherit what the parent registered (a test's fake model) and load models themselves,
on first use.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

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
    context = multiprocessing.get_context("fork")
    pool = context.Pool(workers, initializer=_worker_signals)
    # Not `with Pool`: its exit calls terminate(), which can hang for good when the pool's
    # handler thread forks a replacement worker during it (a pool with nothing to do, ended at
    # once, did so one run in six). close() lets the workers finish and leave.
    try:
        pending: deque = deque()
        for item in items:
            task = task_of(item)
            pending.append((item, pool.apply_async(work, (task,)) if task is not None else None))
            while pending and (len(pending) > window or pending[0][1] is None or pending[0][1].ready()):
                head, result = pending.popleft()
                yield head, (result.get() if result is not None else None)
        while pending:
            head, result = pending.popleft()
            yield head, (result.get() if result is not None else None)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
