"""Independent CPU-bound work on every core, in spawned processes: the probing phase
(evaluate/tasks/probe_pool.py) and the report's per-dataset plots (evaluate/report/probe.py).

Spawned, not forked: ``evaluate run`` holds torch's thread pools from embedding, which a forked child
would inherit in an undefined state. A worker costs ~1 s to start (imports), so one task runs here."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def process_pool(workers: int, initializer: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """``workers`` spawned processes, each running ``initializer`` (e.g. evaluate.lean's) before its first job."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=initializer)


def process_imap(fn: Callable[..., Any], jobs: list[tuple], workers: int,
                 initializer: Callable[[], None] | None = None) -> Iterator[Any]:
    """``fn(*job)`` of each job, yielded in order as each is ready; in ``min(workers, len(jobs))`` spawned
    processes when that is more than one (``fn`` and ``initializer`` must then be module-level functions,
    the arguments picklable). On an error or an interruption the jobs not started are cancelled."""
    workers = min(workers, len(jobs))
    if workers <= 1:
        yield from (fn(*job) for job in jobs)
        return
    pool = process_pool(workers, initializer)
    try:
        yield from pool.map(fn, *zip(*jobs, strict=True))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def process_map_async(fn: Callable[..., Any], jobs: list[tuple], workers: int) -> Callable[[], list[Any]]:
    """``[fn(*job) for job in jobs]`` (:func:`process_imap`'s processes) started now, its results waited for when the returned function is called: this
    process can do other work meanwhile. In this process (one worker or one job), the jobs run at that call.
    The returned function must be called (it shuts the pool down; on an error there, the jobs not started
    are cancelled)."""
    workers = min(workers, len(jobs))
    if workers <= 1:
        return lambda: [fn(*job) for job in jobs]
    pool = process_pool(workers)
    futures = [pool.submit(fn, *job) for job in jobs]

    def wait() -> list[Any]:
        try:
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    return wait
