"""Embedding here: every encoder of the run in this process, fed from one decode of each clip
(evaluate.embed.shared). Clips are decoded and put under their views by a
loader (``evaluate.data.loader``): decoding threads, with pinned memory on CUDA, so decoding overlaps
with the forward pass. Each vector goes to the cache as soon as its batch is done.
"""

from __future__ import annotations

import time
from typing import Any

from evaluate.data.dataset import EvalDataset, clip_identity
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
from evaluate.embed.shared import EncoderJob, embed_jobs, needs_pixels
from evaluate.encoders import build_encoder
from evaluate.errors import EncoderError
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
    """Embed ``work`` = [(clip, views)] with one encoder (:func:`evaluate.embed.shared.embed_jobs` with
    one job); returns the seconds spent waiting for decoded batches. A layer sweep's (n_layers, D...)
    vector of a clip goes to the view's folder of each layer."""
    job = EncoderJob(encoder, {clip.clip_id: tuple(views) for clip, views in work}, groups, idents)
    loader, pin = resolve_loader(loader, getattr(encoder, "device", "cpu"))
    shared = embed_jobs([job], dataset, cache, batch_size=batch_size or default_batch_size(getattr(encoder, "device", "cpu")),
                        workers=workers, loader=loader, pin_memory=pin, skip_bad=skip_bad, bad=bad, log=log,
                        queue_depth=queue_depth, advance=advance)
    return shared["decode_wait_s"]


def dataset_jobs(cache: EmbeddingCache, dataset: EvalDataset, views: list[str], built: list[tuple[Any, Embedded]],
                 bad: Bad) -> list[EncoderJob]:
    """One job per encoder that still has clips of ``dataset`` to embed (the cache holds the rest);
    each record's timings count its cache look-ups and the seconds they took."""
    jobs = []
    for encoder, record in built:
        start, hits, misses = time.perf_counter(), cache.hits, cache.misses
        groups = {v: record.groups[(dataset.name, v)] for v in views}
        todo = read_cached(cache, dataset, views, groups, bad)
        record.timings["cache_hits"] += cache.hits - hits
        record.timings["cache_misses"] += cache.misses - misses
        record.timings["cache_read_s"] += time.perf_counter() - start
        if todo:
            jobs.append(EncoderJob(encoder, {c.clip_id: tuple(m) for c, _, m in todo}, groups,
                                   {c.clip_id: i for c, i, _ in todo}))
    return jobs


@EXECUTORS.add("local")
class LocalExecutor(Executor):
    """The encoder in this process, fed by a decoding loader."""

    name = "local"

    def embed_all(self, specs: list[str], datasets: list[EvalDataset], views: list[str],
                  bad: Bad) -> tuple[list[Embedded], list[tuple[str, EncoderError]]]:
        """Every encoder built at once and fed from one decode of each clip (evaluate.embed.shared)."""
        config, cache = self.config, self.cache
        built, failed = [], []
        for spec in specs:
            t0 = time.perf_counter()
            try:
                encoder = build_encoder(spec, config.device)
            except EncoderError as e:
                failed.append((spec, e))
                continue
            identity = encoder.identity()
            groups = cache_groups(cache, encoder.kind, identity, datasets, views, encoder_layer_identities(encoder))
            built.append((encoder, Embedded(encoder.name, identity, encoder.notes, groups,
                                            {"load_s": time.perf_counter() - t0, "decode_wait_s": 0.0,
                                             "cache_write_s": 0.0, "cache_read_s": 0.0, "cache_hits": 0,
                                             "cache_misses": 0})))
        device = built[0][0].device if built else config.device
        loader, pin = resolve_loader(config.loader, device)
        batch_size = config.batch_size or default_batch_size(device)
        t1 = time.perf_counter()
        for dataset in datasets:
            jobs = dataset_jobs(cache, dataset, views, built, bad)
            if not jobs:
                continue
            names = ", ".join(f"{j.encoder.name} ({len(j.needs)})" for j in jobs)
            self.log(f"{dataset.name}: {len(dataset.clips)} clips × {len(views)} views; clips to embed: {names}")
            pixels = {cid for j in jobs if needs_pixels(j.encoder) for cid in j.needs}
            total = len(pixels) + sum(len(j.needs) for j in jobs if not needs_pixels(j.encoder))
            advance = self.progress.task(f"embedding {dataset.name} with {len(jobs)} encoder(s)", total)
            try:
                shared = embed_jobs(jobs, dataset, cache, batch_size=batch_size, workers=config.workers, loader=loader,
                                    pin_memory=pin, skip_bad=config.skip_bad, bad=bad, log=self.log, advance=advance)
            finally:
                self.progress.done(advance)
            records = dict((id(e), r) for e, r in built)
            for job in jobs:  # the decoding is shared: each pixel encoder is charged its wait in full
                timings = records[id(job.encoder)].timings
                timings["cache_write_s"] += job.timings["cache_write_s"]
                if needs_pixels(job.encoder):
                    timings["decode_wait_s"] += shared["decode_wait_s"]
        wall = time.perf_counter() - t1
        for encoder, record in built:
            record.timings.update(encoder.timings, embed_wall_s=wall)
        return [record for _, record in built], failed
