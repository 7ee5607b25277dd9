"""ordered_map: results in input order, and a worker that dies is an error, never a hang."""

import os
import signal

import pytest

from recops.parallel import ordered_map


def _square(n: int) -> int:
    return n * n


def _die_on_three(n: int) -> int:
    if n == 3:
        os._exit(9)  # as the OOM killer or a crash in native code would end it
    return n


@pytest.fixture
def deadline():
    def expired(signum, frame):
        raise TimeoutError("ordered_map hung")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_results_come_in_input_order_and_items_without_a_task_pass(deadline):
    results = list(ordered_map(range(20), _square, 2, lambda n: None if n % 5 == 0 else n))
    assert results == [(n, None if n % 5 == 0 else n * n) for n in range(20)]


def test_a_worker_that_dies_ends_the_run_with_an_error(deadline):
    with pytest.raises(RuntimeError, match="worker process died"):
        list(ordered_map(range(8), _die_on_three, 2, lambda n: n))
