"""Embedding here: one encoder in this process. Clips are decoded and put under their views by a
loader (``evaluate.data.loader``): decoding threads, with pinned memory on CUDA, so decoding overlaps
with the forward pass. Each vector goes to the cache as soon as its batch is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from evaluate.data.dataset import EvalDataset, clip_identity
from evaluate.data.loader import iter_view_batches
from evaluate.embed.base import (
    EXECUTORS,
    Bad,
    Embedded,
    Executor,
    GroupDirs,
    cache_groups,
    encoder_layer_identities,
    layer_dirs,
)
from evaluate.embed.cache import EmbeddingCache
from evaluate.encoders import build_encoder
from evaluate.progress import Advance, Log

Work = list[tuple[Any, list[str]]]  # [(ClipRef, views it still needs)]


def resolve_loader(loader: str, device: str) -> tuple[str, bool]:
    """(loader, pin_memory): ``auto`` is threads. On CUDA either loader hands over batches in pinned
    memory. Threads start decoding at once; the torch DataLoader first forks its workers from this
    process, which holds the model: 0.66 s to the first batch of 32 on an H200 box against 0.10 s, and
    over a whole 16-frame run with five views 0.89–0.95 of the bare forward against 0.98–0.99."""
    if loader == "auto":
        loader = "threads"
    return loader, str(device).startswith("cuda")


def default_batch_size(device: str) -> int:
    """Clips per forward when --batch-size is not given: 32 on CUDA, where ViT-L's forward at 8 leaves
    the GPU underfed (the launch overhead and the small products; see the README), 8 on a CPU."""
    return 32 if str(device).startswith("cuda") else 8


def read_cached(cache: EmbeddingCache, dataset: EvalDataset, views: list[str], groups: dict[str, GroupDirs],
                bad: Bad) -> list[tuple[Any, dict, list[str]]]:
    """What is left to embed of ``dataset``, as [(clip, clip identity, views not cached)]: a view of
    a layer sweep is missing unless every layer has it. Only cache headers are read: the vectors
    stay on disk until a probe stacks them. Clips in ``bad`` are left out."""
    todo = []
    for clip in dataset.clips:
        if (dataset.name, clip.clip_id) in bad:
            continue
        ident = clip_identity(clip)
        missing = [v for v in views if not all(cache.has(d, ident) for d in layer_dirs(groups[v]))]
        if missing:
            todo.append((clip, ident, missing))
    return todo


def embed_work(encoder: Any, dataset: EvalDataset, work: Work, groups: dict[str, GroupDirs], idents: dict[str, dict],
               cache: EmbeddingCache, *, batch_size: int | None, workers: int, loader: str, skip_bad: bool,
               bad: Bad, log: Log, queue_depth: int = 1, advance: Advance | None = None) -> float:
    """Embed ``work`` with ``encoder``, writing each vector to the cache as soon as its batch is done
    (so an interrupted run keeps everything finished before the interruption). Returns the seconds
    spent waiting for decoded batches. A clip that cannot be decoded raises its BadClipError, or with
    ``skip_bad`` is recorded in ``bad`` and left out. ``queue_depth``: forwards queued on the device
    beyond the one whose result is being fetched (bench/embed.py measures 1 against 2). ``advance``
    is told how many clips each batch held. A layer sweep's (n_layers, D...) vector of a clip goes
    to the view's folder of each layer (``groups[view]`` then maps layer -> folder, in the
    encoder's layer order)."""
    loader, pin = resolve_loader(loader, getattr(encoder, "device", "cpu"))
    batch_size = batch_size or default_batch_size(getattr(encoder, "device", "cpu"))
    waited = 0.0
    pending: list[tuple[str, list, Callable[[], np.ndarray]]] = []

    def store(view: str, clips: list, wait: Callable[[], np.ndarray]) -> None:
        dirs = groups[view]
        for clip, vec in zip(clips, wait(), strict=True):
            if isinstance(dirs, dict):  # a layer sweep: one vector per layer, in the encoder's order
                for directory, layer_vec in zip(dirs.values(), vec, strict=True):
                    cache.put(directory, idents[clip.clip_id], layer_vec)
            else:
                cache.put(dirs, idents[clip.clip_id], vec)

    # An encoder that builds the views itself gets only the original frames: one decode, one copy
    # to the device, one resize per clip, whatever the number of views.
    builds_views = getattr(encoder, "builds_views", False)
    needs = {clip.clip_id: tuple(views) for clip, views in work}
    load = [(clip, ("original",)) for clip, _ in work] if builds_views else work
    start = time.perf_counter()
    try:
        for batch in iter_view_batches(dataset, load, batch_size=batch_size, workers=workers, loader=loader,
                                       pin_memory=pin):
            waited += time.perf_counter() - start
            for clip, error in batch.bad:
                if not skip_bad:
                    raise error
                bad[(dataset.name, clip.clip_id)] = f"{clip.split}/{clip.clip_id}: {error}"
                log(f"[yellow]skipped[/yellow] {dataset.name} {clip.split}/{clip.clip_id}: cannot be decoded")
            if advance:
                advance(len(batch.bad) + len({c.clip_id for clips, _ in batch.views.values() for c in clips}))
            # Generators: each view's batch is queued as it is made, so an interruption keeps the ones before it.
            if builds_views:
                queued = (item for clips, frames in batch.views.values()
                          for item in encoder.encode_views_async(clips, frames, [needs[c.clip_id] for c in clips]))
            else:
                queued = ((view, clips, encoder.encode_async(frames)) for view, (clips, frames) in batch.views.items())
            for item in queued:
                # Queue this batch, then store an earlier one: the device works while the host writes.
                pending.append(item)
                if len(pending) > queue_depth:
                    store(*pending.pop(0))
            start = time.perf_counter()
    finally:  # also on an interruption: what was computed is kept
        for item in pending:
            store(*item)
    return waited


@EXECUTORS.add("local")
class LocalExecutor(Executor):
    """The encoder in this process, fed by a decoding loader."""

    name = "local"

    def embed(self, spec: str, datasets: list[EvalDataset], views: list[str], bad: Bad) -> Embedded:
        config, cache = self.config, self.cache
        t0 = time.perf_counter()
        encoder = build_encoder(spec, config.device)
        identity = encoder.identity()
        groups = cache_groups(cache, encoder.kind, identity, datasets, views, encoder_layer_identities(encoder))
        record = Embedded(encoder.name, identity, encoder.notes, groups,
                          {"load_s": time.perf_counter() - t0, "decode_wait_s": 0.0})
        hits, misses = cache.hits, cache.misses
        t1 = time.perf_counter()
        for dataset in datasets:
            groups = {v: record.groups[(dataset.name, v)] for v in views}
            todo = read_cached(cache, dataset, views, groups, bad)
            self.log(f"{encoder.name} · {dataset.name}: {len(dataset.clips)} clips × {len(views)} views, "
                     f"{len(todo)} clips to embed")
            advance = self.progress.task(f"embedding {dataset.name} with {encoder.name}", len(todo))
            try:
                record.timings["decode_wait_s"] += embed_work(
                    encoder, dataset, [(c, m) for c, _, m in todo], groups, {c.clip_id: i for c, i, _ in todo},
                    cache, batch_size=config.batch_size, workers=config.workers, loader=config.loader,
                    skip_bad=config.skip_bad, bad=bad, log=self.log, advance=advance)
            finally:
                self.progress.done(advance)
        record.timings.update(encoder.timings, embed_wall_s=time.perf_counter() - t1,
                              cache_hits=cache.hits - hits, cache_misses=cache.misses - misses)
        return record
