"""The probing phase on every core: one (dataset, encoder) task per worker process.

Each linear fit runs with one BLAS thread (small matrices: threads cost more than they give, see
evaluate/probes/linear.py), so a probing phase in one process leaves every other core idle. The tasks
are independent: each reads its own feature matrices from the cache and fits every target on them. So
``probe_workers`` processes take them in turn; each writes its prediction rows to a part file of its own,
and the parent appends the parts to predictions.jsonl in task order. The rows, the scores and their
order are the same as in one process, whatever the number of workers (tested).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from evaluate.lean import probe_worker
from evaluate.parallel import default_workers, process_imap

# A worker costs ~1.5 s to start (spawned: imports numpy, scipy, scikit-learn). Below this many clips a
# run's probing takes a few seconds at most, so it stays in this process.
MIN_CLIPS_FOR_WORKERS = 100


def probe_workers(requested: int | None, clips: int) -> int:
    """The processes to probe with: ``requested`` (``--probe-workers``), else one per core once the run's
    datasets hold MIN_CLIPS_FOR_WORKERS clips."""
    if requested:
        return requested
    return default_workers() if clips >= MIN_CLIPS_FOR_WORKERS else 1


@dataclass
class ProbeTask:
    """The arguments of :func:`evaluate.tasks.probe.probe_encoder` for one (dataset, encoder[, layer]),
    but for where its predictions go and its progress."""

    split: Any
    record: Any
    views: list[str]
    targets: list
    probes: dict
    cache: Any
    n_bootstrap: int

    @property
    def steps(self) -> int:
        """Its share of the progress bar: one step per (view, target, probe)."""
        return len(self.views) * len(self.targets) * len(self.probes)

    def run(self, probe_encoder: Callable[..., Any], predictions: IO[str], advance: Callable[[int], None]) -> Any:
        return probe_encoder(self.split, self.record, self.views, self.targets, self.probes, self.cache,
                             self.n_bootstrap, predictions, advance)


def _run_in_worker(probe_encoder: Callable[..., Any], task: ProbeTask, part: str) -> Any:
    with open(part, "w", encoding="utf-8") as predictions:
        return task.run(probe_encoder, predictions, lambda _: None)


def run_tasks(probe_encoder: Callable[..., Any], tasks: list[ProbeTask], workers: int, predictions: IO[str],
              advance: Callable[[int], None], scratch: Path) -> Iterator[Any]:
    """Each task's :class:`~evaluate.tasks.probe.Probed` (from ``probe_encoder``, a module-level function a
    worker can import), in task order, its prediction rows written to ``predictions`` before it is
    yielded. ``workers`` ≤ 1 (or one task): in this process. Else that many spawned processes, their part
    files kept in a temporary folder under ``scratch`` until appended."""
    if min(workers, len(tasks)) <= 1:
        for task in tasks:
            yield task.run(probe_encoder, predictions, advance)
        return
    parts = Path(tempfile.mkdtemp(prefix="probe-parts-", dir=scratch))
    try:
        jobs = [(probe_encoder, task, str(parts / f"{i:06d}.jsonl")) for i, task in enumerate(tasks)]
        for (_, task, part), result in zip(jobs, process_imap(_run_in_worker, jobs, workers, probe_worker), strict=True):
            with open(part, encoding="utf-8") as rows:  # in task order: the same file as in one process
                shutil.copyfileobj(rows, predictions)
            Path(part).unlink()
            advance(task.steps)
            yield result
    finally:
        shutil.rmtree(parts, ignore_errors=True)
