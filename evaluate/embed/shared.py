"""One decode per clip per run: every encoder of a run is fed from the same decoded batch.

An :class:`EncoderJob` is one encoder's share of one dataset: the views each clip still needs
(the cache already holds the rest) and the cache folders they go to. :func:`embed_jobs` decodes the
union of the clips the jobs' encoders need, ``batch_size`` clips at a time (the loader's lookahead
bounds memory: a few batches, whatever the dataset's size), and hands each batch's *original*
frames to every encoder that needs pixels; each encoder makes the views itself
(``Encoder.encode_views_async``: on its device, from its own downsampled frames, or in numpy by
default), so no view is decoded again. Encoders that read labels, not pixels (``needs_pixels =
False``: the oracles), are fed their clips without any decoding. The local executor runs this in
its process; each Ray actor runs it on its chunks with every encoder of the run built once.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evaluate.data.dataset import EvalDataset
from evaluate.data.loader import iter_view_batches
from evaluate.embed.base import Bad, GroupDirs
from evaluate.embed.cache import EmbeddingCache
from evaluate.encoders.batch_memo import BatchMemo
from evaluate.progress import Advance, Log


def needs_pixels(encoder: Any) -> bool:
    """Whether ``encoder`` reads the decoded frames (the oracles read each clip's json only)."""
    return getattr(encoder, "needs_pixels", True)


@dataclass
class EncoderJob:
    """What one encoder still has to embed of one dataset, and where it goes."""

    encoder: Any
    needs: dict[str, tuple[str, ...]]  # clip id -> views still missing from the cache, in the run's order
    groups: dict[str, GroupDirs]  # view -> cache folder (a layer sweep: layer -> folder)
    idents: dict[str, dict]  # clip id -> the clip's identity (its cache key)
    timings: dict[str, float] = field(default_factory=lambda: {"cache_write_s": 0.0, "clips_embedded": 0})

    def store(self, cache: EmbeddingCache, view: str, clips: list, vectors: np.ndarray) -> None:
        """Write one view's batch of vectors to the cache, each as soon as it is there."""
        start = time.perf_counter()
        dirs = self.groups[view]
        for clip, vec in zip(clips, vectors, strict=True):
            if isinstance(dirs, dict):  # a layer sweep: one vector per layer, in the encoder's order
                for directory, layer_vec in zip(dirs.values(), vec, strict=True):
                    cache.put(directory, self.idents[clip.clip_id], layer_vec)
            else:
                cache.put(dirs, self.idents[clip.clip_id], vec)
        self.timings["cache_write_s"] += time.perf_counter() - start


def _rows(frames: np.ndarray | list, rows: list[int], total: int) -> np.ndarray | list:
    """The frames of batch rows ``rows``: the batch itself when that is every row (no copy)."""
    if len(rows) == total:
        return frames
    return frames[rows] if isinstance(frames, np.ndarray) else [frames[i] for i in rows]


def lanes(jobs: list[EncoderJob]) -> list[list[EncoderJob]]:
    """The pixel jobs split into the lanes that run side by side on each decoded batch: the model encoders
    (torch) in one, the encoders that compute in numpy on the host (``host_numpy``: pixels, motion, track)
    in another. numpy's array work and torch's kernels release the GIL, so two threads keep two cores busy
    where one left the host idle while a model ran, or a model idle while the tracker ran."""
    models, host = [j for j in jobs if not host_numpy(j)], [j for j in jobs if host_numpy(j)]
    return [lane for lane in (models, host) if lane]


def host_numpy(job: EncoderJob) -> bool:
    return getattr(job.encoder, "host_numpy", False)


def stealable(job: EncoderJob) -> bool:
    """Whether the host lane may take ``job``, a model's, once its own jobs of the batch are done: a model on
    a CPU (a GPU's forwards stay queued from one thread, in order)."""
    return not str(getattr(job.encoder, "device", "cpu")).startswith("cuda")


class BatchJobs:
    """One decoded batch's pixel jobs, as two lanes take them. The model lane takes the models in the run's
    order, from the front (encoders that share a resize or a forward run one after the other, the later
    ones reading the first one's from the batch's memo), then what the host lane has not started. The host
    lane takes its own jobs in order, then the models still waiting, from the back (on a CPU). Which lane
    runs a job changes no vector: each encoder's work is the same, and torch runs one thread a lane. On the
    demo the lanes' work had been 75 s : 53 s; sharing it took embedding from 90.9 to 84.5 s."""

    def __init__(self, jobs: list[EncoderJob]):
        self._models = deque(j for j in jobs if not host_numpy(j))
        self._host = deque(j for j in jobs if host_numpy(j))
        self._lock = threading.Lock()

    def for_model_lane(self) -> EncoderJob | None:
        with self._lock:
            if self._models:
                return self._models.popleft()
            return self._host.pop() if self._host else None

    def for_host_lane(self) -> EncoderJob | None:
        with self._lock:
            if self._host:
                return self._host.popleft()
            return self._models.pop() if self._models and stealable(self._models[-1]) else None


def _leave_a_core(others: int) -> Callable[[], None]:
    """Leave ``others`` cores to the other lanes: torch's intra-op threads (one per core by default) wait
    for each other at every operator, so one of them descheduled by the tracker stalls them all (the
    tiny V-JEPA 2's forward took 4.1 s alone, 18.9 s beside track with 2 threads on 2 cores). Returns what
    restores torch's count."""
    torch = sys.modules.get("torch")  # not imported: no model lane, nothing to share
    if not others or torch is None:
        return lambda: None
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, before - others))
    return lambda: torch.set_num_threads(before)


def embed_jobs(jobs: list[EncoderJob], dataset: EvalDataset, cache: EmbeddingCache, *, batch_size: int,
               workers: int, loader: str, pin_memory: bool, skip_bad: bool, bad: Bad, log: Log,
               queue_depth: int = 1, advance: Advance | None = None) -> dict[str, float]:
    """Embed every job's clips of ``dataset``, decoding each clip once for all of them. Returns the
    shared timings: ``decode_wait_s`` (waiting for decoded batches) and ``clips_decoded``. A clip that
    cannot be decoded raises its BadClipError, or with ``skip_bad`` is recorded in ``bad`` (and so
    left out of every encoder's probes). ``queue_depth``: forwards queued, per lane (:func:`lanes`),
    beyond the one whose result is being written (on a GPU the device runs ahead of the cache writes).
    ``advance`` is told how many clips each batch held. Each batch is done by every lane before the next
    one is handed out, so memory holds the loader's few batches, as with one lane."""
    from concurrent.futures import ThreadPoolExecutor

    pending: dict[int, list[tuple[EncoderJob, str, list, Callable[[], np.ndarray]]]] = {}
    shared = {"decode_wait_s": 0.0, "clips_decoded": 0}

    def feed(lane: int, job: EncoderJob, clips: list, frames: Any, memo: dict | None = None) -> None:
        # Generators: each view's batch is queued as it is made, so an interruption keeps the ones before it.
        queue = pending.setdefault(lane, [])
        needs = [job.needs[c.clip_id] for c in clips]
        for view, view_clips, wait in job.encoder.encode_views_async(clips, frames, needs, memo):
            job.timings["clips_embedded"] += len(view_clips)
            queue.append((job, view, view_clips, wait))  # queue this batch, then store an earlier one
            if len(queue) > queue_depth:
                done, done_view, done_clips, done_wait = queue.pop(0)
                done.store(cache, done_view, done_clips, done_wait())

    def feed_lane(lane: int, take: Callable[[], EncoderJob | None], clips: list, frames: Any, memo: BatchMemo) -> None:
        while (job := take()) is not None:
            rows = [i for i, c in enumerate(clips) if c.clip_id in job.needs]
            if rows:  # a subset of the batch is another batch: it shares nothing with the whole one
                feed(lane, job, [clips[i] for i in rows], _rows(frames, rows, len(clips)),
                     memo if len(rows) == len(clips) else None)

    by_id = {c.clip_id: c for c in dataset.clips}
    pixel_jobs = [j for j in jobs if needs_pixels(j.encoder)]
    split = lanes(pixel_jobs)
    threads = ThreadPoolExecutor(len(split) - 1) if len(split) > 1 else None  # the first lane runs here
    torch_threads = _leave_a_core(len(split) - 1)
    try:
        for job in (j for j in jobs if not needs_pixels(j.encoder)):  # labels only: nothing to decode
            clips = [by_id[cid] for cid in job.needs]
            for lo in range(0, len(clips), batch_size):
                chunk = clips[lo:lo + batch_size]
                feed(-1, job, chunk, [None] * len(chunk))
                if advance:
                    advance(len(chunk))
        wanted = {cid for j in pixel_jobs for cid in j.needs}
        load = [(c, ("original",)) for c in dataset.clips if c.clip_id in wanted]  # in the dataset's order
        start = time.perf_counter()
        for batch in iter_view_batches(dataset, load, batch_size=batch_size, workers=workers, loader=loader,
                                       pin_memory=pin_memory):
            shared["decode_wait_s"] += time.perf_counter() - start
            for clip, error in batch.bad:
                if not skip_bad:
                    raise error
                bad[(dataset.name, clip.clip_id)] = f"{clip.split}/{clip.clip_id}: {error}"
                log(f"[yellow]skipped[/yellow] {dataset.name} {clip.split}/{clip.clip_id}: cannot be decoded")
            clips, frames = batch.views.get("original", ([], []))
            shared["clips_decoded"] += len(clips) + len(batch.bad)
            if advance:
                advance(len(clips) + len(batch.bad))
            batch_jobs = BatchJobs(pixel_jobs)
            memo = BatchMemo()  # what the encoders share of this batch (the same resize, say), made once
            other = threads.submit(feed_lane, 1, batch_jobs.for_host_lane, clips, frames, memo) if threads else None
            try:
                feed_lane(0, batch_jobs.for_model_lane, clips, frames, memo)
            finally:  # every lane has finished this batch before the next (or before an error goes up)
                if other:
                    other.result()
            start = time.perf_counter()
    finally:  # also on an interruption: what was computed is kept
        if threads:
            threads.shutdown(wait=True)
        torch_threads()
        for queue in pending.values():
            for job, view, clips, wait in queue:
                job.store(cache, view, clips, wait())
    return shared
