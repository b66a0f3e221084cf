"""Where embeddings are computed: here (a decoding loader feeding the encoder), or on Ray actors.

``local``: one encoder in this process. Clips are decoded and put under their views by a loader
(``evaluate.data.iter_view_batches``): worker processes with pinned memory on CUDA, so decoding
overlaps with the forward pass; threads on the CPU, where the model wants every core.

``ray``: one actor per GPU of the cluster (``num_gpus=1``), or CPU actors where it has none.
Each actor builds the encoder once; chunks of clips go to whichever actor is free (two in
flight per actor, so none waits for work). Actors write embeddings straight into the cache,
which must be on a filesystem the driver and the actors share; the driver then checks they
are there. The cache key is the same as a local run's, so the two share results, and a run stopped
part-way resumes with either executor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.cache import EmbeddingCache
from evaluate.data import EvalDataset, clip_identity, iter_view_batches, open_dataset
from evaluate.encoders.base import parse_spec
from evaluate.errors import BadClipError, EncoderError

EXECUTORS = ("local", "ray")
Log = Callable[[str], None]
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


def read_cached(cache: EmbeddingCache, dataset: EvalDataset, views: list[str], groups: dict[str, Path],
                bad: dict[tuple[str, str], str]) -> list[tuple[Any, dict, list[str]]]:
    """What is left to embed of ``dataset``, as [(clip, clip identity, views not cached)]. Only
    cache headers are read: the vectors stay on disk until a probe stacks them. Clips in ``bad``
    are left out."""
    todo = []
    for clip in dataset.clips:
        if (dataset.name, clip.clip_id) in bad:
            continue
        ident = clip_identity(clip)
        missing = [v for v in views if not cache.has(groups[v], ident)]
        if missing:
            todo.append((clip, ident, missing))
    return todo


def embed_work(encoder: Any, dataset: EvalDataset, work: Work, groups: dict[str, Path], idents: dict[str, dict],
               cache: EmbeddingCache, *, batch_size: int | None, workers: int, loader: str, skip_bad: bool,
               bad: dict[tuple[str, str], str], log: Log, queue_depth: int = 1) -> float:
    """Embed ``work`` with ``encoder``, writing each vector to the cache as soon as its batch is done
    (so an interrupted run keeps everything finished before the interruption). Returns the seconds
    spent waiting for decoded batches. A clip that cannot be decoded raises its BadClipError, or with
    ``skip_bad`` is recorded in ``bad`` and left out. ``queue_depth``: forwards queued on the device
    beyond the one whose result is being fetched (bench/embed.py measures 1 against 2)."""
    loader, pin = resolve_loader(loader, getattr(encoder, "device", "cpu"))
    batch_size = batch_size or default_batch_size(getattr(encoder, "device", "cpu"))
    waited = 0.0
    pending: list[tuple[str, list, Callable[[], np.ndarray]]] = []

    def store(view: str, clips: list, wait: Callable[[], np.ndarray]) -> None:
        for clip, vec in zip(clips, wait(), strict=True):
            cache.put(groups[view], idents[clip.clip_id], vec)

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


# --------------------------------------------------------------------------- Ray


class EmbedActor:
    """One encoder on one device (a GPU when Ray gives it one), embedding chunks of clips."""

    def __init__(self, spec: str, device: str):
        from evaluate.encoders import build_encoder

        self.error: tuple[str, str] | None = None
        self.encoder = None
        try:
            self.encoder = build_encoder(spec, device)
        except EncoderError as e:  # reported by info(): the driver skips the encoder like a local run
            self.error = (type(e).__name__, str(e))
        self.datasets: dict[str, EvalDataset] = {}

    def info(self) -> dict[str, Any]:
        if self.encoder is None:
            return {"error": self.error}
        return {"identity": self.encoder.identity(), "name": self.encoder.name, "device": self.encoder.device}

    def embed(self, root: str, chunk: list[tuple[str, list[str]]], cache_root: str, *, batch_size: int | None,
              workers: int, loader: str) -> dict[str, Any]:
        """Embed ``chunk`` = [(clip_id, views)] of the dataset at ``root`` into the cache at ``cache_root``."""
        # The driver verified the dataset (and applied --skip-bad); here clips are only looked up by id.
        dataset = self.datasets.get(root) or self.datasets.setdefault(root, open_dataset(root, skip_bad=True))
        by_id = {c.clip_id: c for c in dataset.clips}
        cache = EmbeddingCache(cache_root)
        encoder = self.encoder
        views = sorted({v for _, vs in chunk for v in vs})
        groups = {v: cache.group_dir(encoder.kind, encoder.identity(), v, dataset.fingerprint) for v in views}
        work = [(by_id[cid], vs) for cid, vs in chunk]
        idents = {c.clip_id: clip_identity(c) for c, _ in work}
        bad: dict[tuple[str, str], str] = {}
        before = encoder.timings["clips"]
        waited = embed_work(encoder, dataset, work, groups, idents, cache, batch_size=batch_size, workers=workers,
                            loader=loader, skip_bad=True, bad=bad, log=lambda _: None)
        bad_ids = {cid for _, cid in bad}
        return {"clips": encoder.timings["clips"] - before, "decode_wait_s": waited,
                "bad": [(c.clip_id, bad[(dataset.name, c.clip_id)].split(": ", 1)[1]) for c, _ in work
                        if c.clip_id in bad_ids],
                "timings": dict(encoder.timings), "notes": list(encoder.notes)}


def _ray():
    try:
        import ray
    except ImportError:
        raise ValueError("--executor ray needs Ray: pip install 'simgen[ray]'") from None
    return ray


def start_actors(spec: str, device: str, address: str | None, actors: int | None) -> list[Any]:
    """One actor per GPU of the cluster (or ``actors``), else CPU actors (one per 2 CPUs, at least 1)."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, include_dashboard=False)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus and device in ("auto", "cuda") or str(device).startswith("cuda"):
        if not gpus:
            raise EncoderError(f"--device {device} with --executor ray: the Ray cluster has no GPUs")
        cls = ray.remote(num_gpus=1, num_cpus=1)(EmbedActor)
        return [cls.remote(spec, "cuda") for _ in range(actors or gpus)]
    cpus = int(resources.get("CPU", 1))
    cls = ray.remote(num_cpus=1)(EmbedActor)
    return [cls.remote(spec, "cpu") for _ in range(actors or max(1, cpus // 2))]


def embed_with_ray(spec: str, datasets: list[EvalDataset], views: list[str], cache: EmbeddingCache, *,
                   device: str, address: str | None, actors: int | None, batch_size: int | None, workers: int,
                   loader: str, skip_bad: bool, bad: dict[tuple[str, str], str],
                   log: Log) -> tuple[dict[str, Any], dict[str, float], list[str]]:
    """Embed every dataset with ``spec`` on Ray actors into ``cache``. Returns (identity, timings,
    notes); raises EncoderError when the encoder cannot be built (the caller skips it)."""

    ray = _ray()
    pool = start_actors(spec, device, address, actors)
    infos = ray.get([a.info.remote() for a in pool])
    try:
        for info in infos:
            if "error" in info:
                raise EncoderError(info["error"][1])
        identity = infos[0]["identity"]
        if any(info["identity"] != identity for info in infos):
            raise EncoderError(f"{spec}: the Ray actors built different encoders (versions differ across nodes?)")
        kind = parse_spec(spec).kind
        reader = EmbeddingCache(cache.root)  # counts of its own: the driver only reads back
        timings = {"clips": 0, "decode_wait_s": 0.0, "actors": len(pool), "cache_hits": 0, "cache_misses": 0}
        per_actor: dict[int, dict] = {}
        notes: list[str] = []
        for dataset in datasets:
            groups = {v: cache.group_dir(kind, identity, v, dataset.fingerprint) for v in views}
            todo = [(clip.clip_id, missing) for clip, _, missing in
                    read_cached(reader, dataset, views, groups, bad)]
            timings["cache_hits"] += reader.hits
            timings["cache_misses"] += reader.misses
            reader.hits = reader.misses = 0
            log(f"{spec} · {dataset.name}: {len(dataset.clips)} clips × {len(views)} views, {len(todo)} clips to "
                f"embed on {len(pool)} Ray actor(s)")
            # Four batches a chunk, at the actors' own batch size (their device, not the driver's "auto").
            chunk_size = max((batch_size or default_batch_size(infos[0]["device"])) * 4, 16)
            chunks = [todo[i:i + chunk_size] for i in range(0, len(todo), chunk_size)]
            results = _dispatch(ray, pool, chunks, str(dataset.root), str(cache.root.resolve()),
                                dict(batch_size=batch_size, workers=workers, loader=loader))
            failed = []
            for actor_index, result in results:
                per_actor[actor_index] = result["timings"]
                timings["clips"] += result["clips"]
                timings["decode_wait_s"] += result["decode_wait_s"]
                notes += [n for n in result["notes"] if n not in notes]
                failed += result["bad"]
            by_id = {c.clip_id: c for c in dataset.clips}
            for clip_id, message in sorted(failed):
                clip = by_id[clip_id]
                if not skip_bad:
                    raise BadClipError(message, dataset.name, clip.split, clip_id)
                bad[(dataset.name, clip_id)] = f"{clip.split}/{clip_id}: {message}"
                log(f"[yellow]skipped[/yellow] {dataset.name} {clip.split}/{clip_id}: cannot be decoded")
            for clip_id, missing in todo:
                if (dataset.name, clip_id) in bad:
                    continue
                ident = clip_identity(by_id[clip_id])
                for v in missing:
                    if not reader.has(groups[v], ident):
                        raise EncoderError(f"{spec}: the Ray actors did not write {clip_id} ({v}) to the cache at "
                                           f"{cache.root}; is it on a filesystem every node shares?")
        for key in ("preprocess_s", "forward_s"):
            timings[key] = sum(t.get(key, 0.0) for t in per_actor.values())
        return identity, timings, notes
    finally:
        for actor in pool:
            ray.kill(actor)


def _dispatch(ray, pool: list[Any], chunks: list, root: str, cache_root: str, options: dict) -> list[tuple[int, dict]]:
    """Run every chunk on some actor, two in flight per actor; results in completion order."""
    queue, pending, results = iter(chunks), {}, []

    def submit(index: int) -> None:
        chunk = next(queue, None)
        if chunk is not None:
            pending[pool[index].embed.remote(root, chunk, cache_root, **options)] = index

    for index in range(len(pool)):
        submit(index)
        submit(index)
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        index = pending.pop(done[0])
        results.append((index, ray.get(done[0])))
        submit(index)
    return results
