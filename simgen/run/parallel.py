"""Running a render: which groups are missing, a local process pool, progress and a summary.

Workers render and write a group's files; only this process records completions, so the
journal has one writer per run. Results are recorded as they complete, in any order: the
final metadata is sorted when the journals are folded.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from simgen.dataset.format import FORMAT_VERSION, DatasetInfo, DatasetWriter, metadata_line
from simgen.run.engine import GroupTask, generator_info, plan, render_group
from simgen.run.variants import variants_for
from simgen.spec.models import SceneSpec


@dataclass
class RenderSummary:
    out: str
    family: str
    shard: str
    clips_total: int
    clips_rendered: int
    clips_skipped: int
    clips_missing: int
    workers: int
    seconds: float

    @property
    def clips_per_second(self) -> float:
        return self.clips_rendered / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clips_per_second": round(self.clips_per_second, 3)}


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: write K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard {text!r}: K must be in 1..N")
    return k, n


def dataset_info(spec: SceneSpec) -> DatasetInfo:
    return DatasetInfo(
        format_version=FORMAT_VERSION, generator=generator_info(), family=spec.family, fingerprint=spec.fingerprint(),
        seed=spec.seed, fps=spec.render.fps, frames=spec.render.frames, width=spec.render.width,
        height=spec.render.height, counts=dict(spec.counts.items()),
        targets={name: t.to_dict() for name, t in variants_for(spec).targets.items()}, spec=spec.canonical())


def render_task(root: str, spec: SceneSpec, task: GroupTask) -> list[tuple[str, dict[str, Any]]]:
    """Render one group and write its files; returns the metadata lines to record."""
    lines = []
    for clip in render_group(spec, task):
        DatasetWriter.write_clip_files(Path(root), clip.split, clip.clip_id, clip.frames, clip.labels,
                                       spec.render.fps, spec.render.video.model_dump())
        lines.append((clip.split, metadata_line(clip.clip_id, clip.group_id, clip.labels["targets"])))
    return lines


def render_dataset(spec: SceneSpec, out: str | os.PathLike, *, workers: int | None = None,
                   shard: tuple[int, int] = (1, 1), force: bool = False, allow_mixed_versions: bool = False,
                   executor: str = "local", address: str | None = None,
                   on_progress: Callable[[int, int], None] | None = None) -> RenderSummary:
    """Render what is missing of ``spec`` (or of its shard) into ``out``.

    ``executor`` is ``local`` (a process pool of ``workers``) or ``ray`` (tasks on the Ray cluster at
    ``address``, which must see ``out`` on a shared filesystem). ``on_progress(done, total)`` is
    called after each group, counted in clips. ``force`` re-renders a dataset of another spec whole;
    ``allow_mixed_versions`` finishes one another simgen version left incomplete (see DatasetWriter).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"--executor {executor!r}: allowed: {', '.join(EXECUTORS)}")
    start = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    writer = DatasetWriter(out, dataset_info(spec), force=force, shard=shard,
                           allow_mixed_versions=allow_mixed_versions)
    tasks = plan(spec, shard)
    done = writer.completed()
    variants = spec.variants
    todo = [t for t in tasks if not set(t.clip_ids(variants)) <= done]
    writer.clean_partial({c for t in todo for c in t.clip_ids(variants)})
    group_size = len(variants)
    total, rendered = len(tasks) * group_size, 0
    skipped = total - len(todo) * group_size
    if on_progress:
        on_progress(skipped, total)
    try:
        run = _execute_ray(str(writer.root), spec, todo, workers, address) if executor == "ray" else \
            _execute(str(writer.root), spec, todo, workers)
        for lines in run:
            for split, line in lines:
                writer.record(split, line)
            rendered += len(lines)
            if on_progress:
                on_progress(skipped + rendered, total)
    finally:
        missing = writer.finalize()
    return RenderSummary(str(writer.root), spec.family, f"{shard[0]}/{shard[1]}", total, rendered, skipped,
                         missing, workers, time.perf_counter() - start)


EXECUTORS = ("local", "ray")


def _execute_ray(root: str, spec: SceneSpec, tasks: list[GroupTask], workers: int,
                 address: str | None) -> Iterator[list]:
    """Chunks of groups as Ray tasks (1 CPU each), at most 2 per CPU in flight; the tasks write the files."""
    try:
        import ray
    except ImportError:
        raise ValueError("--executor ray needs Ray: pip install 'simgen[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address, **({} if address else {"num_cpus": workers}), log_to_driver=False,
                 include_dashboard=False)
    remote = ray.remote(num_cpus=1)(render_tasks)
    cpus = max(1, int(ray.cluster_resources().get("CPU", workers)))
    queue, pending = iter(chunk_tasks(tasks, cpus)), []
    for chunk in queue:
        pending.append(remote.remote(root, spec, chunk))
        if len(pending) >= 2 * cpus:
            break
    while pending:
        finished, pending = ray.wait(pending, num_returns=1)
        yield from ray.get(finished[0])
        chunk = next(queue, None)
        if chunk is not None:
            pending.append(remote.remote(root, spec, chunk))


def render_tasks(root: str, spec: SceneSpec,
                 tasks: list[GroupTask]) -> list[list[tuple[str, dict[str, Any]]]]:
    """Several groups in one call: one round trip to a worker per chunk instead of per group."""
    return [render_task(root, spec, task) for task in tasks]


def chunk_tasks(tasks: list[GroupTask], workers: int) -> list[list[GroupTask]]:
    # The parent shares the cores with the workers and spends ~1 ms of CPU per round trip (pickling,
    # the pool's threads), ~4% of a core beside 2 workers at 18 ms a clip. Chunks of up to 8 groups
    # cut that, while each worker still gets 16 or more chunks, so the last ones balance.
    size = max(1, min(8, len(tasks) // (16 * workers)))
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


def _execute(root: str, spec: SceneSpec, tasks: list[GroupTask], workers: int) -> Iterator[list]:
    if workers == 1 or len(tasks) <= 1:
        for task in tasks:
            yield render_task(root, spec, task)
        return
    # spawn, not fork: the parent may run a progress thread, and PyBullet holds no state worth sharing.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
        pending, queue = set(), iter(chunk_tasks(tasks, workers))
        # Keep a bounded number of chunks in flight, so memory does not grow with the dataset.
        for chunk in queue:
            pending.add(pool.submit(render_tasks, root, spec, chunk))
            if len(pending) >= 2 * workers:
                break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield from future.result()
                chunk = next(queue, None)
                if chunk is not None:
                    pending.add(pool.submit(render_tasks, root, spec, chunk))
