"""The audit's workers: calls spread over a spawned process pool, a bounded number in flight, each
process's OpenMP held to one thread.

One thread per process because the audit's many small fits (HistGradientBoosting on a few thousand
rows) spend more time in OpenMP's spinning barriers than in work when threads outnumber free cores: on
2 shared cores a 5,000-clip boosted fit took 17 s with the default threads and 0.8 s with one. The
processes, not the threads, use the cores. ``OMP_NUM_THREADS`` must be set before a process loads its
OpenMP runtime (``threadpoolctl``'s limit, tried first, left scikit-learn's boosting at 0.3-5 s for a
48-row fit that takes 0.08 s with the variable), so even one worker is a spawned process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any


@contextmanager
def one_openmp_thread() -> Iterator[None]:
    """``OMP_NUM_THREADS=1`` for the processes started inside, as it was afterwards."""
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = before


def bounded_map(fn: Callable[..., Any], calls: Iterable[tuple[Any, tuple]], workers: int) -> Iterator[tuple[Any, Any]]:
    """``(key, fn(*args))`` for each ``(key, args)`` of ``calls``, in completion order, from a pool of
    ``workers`` spawned processes with at most 2 calls each in flight."""
    calls = iter(calls)
    # spawn, not fork: the parent runs a progress thread, and PyBullet holds no state worth sharing.
    context = multiprocessing.get_context("spawn")
    with one_openmp_thread(), ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context) as pool:
        pending = {}
        for key, args in calls:
            pending[pool.submit(fn, *args)] = key
            if len(pending) >= 2 * max(1, workers):
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield pending.pop(future), future.result()
                following = next(calls, None)
                if following is not None:
                    key, args = following
                    pending[pool.submit(fn, *args)] = key
