"""Embedding on Ray actors: one per GPU of the cluster (``num_gpus=1``), or CPU actors where it has
none. Each actor builds the encoder once; chunks of clips go to whichever actor is free
(``ray.util.ActorPool``, two chunks in flight per actor, so none waits for work). Actors write
embeddings straight into the cache, which must be on a filesystem the driver and the actors share;
the driver then checks they are there. The cache key is the same as a local run's, so the two
share results, and a run stopped part-way resumes with either executor.
"""

from __future__ import annotations

import time
from typing import Any

from evaluate.data.dataset import EvalDataset, clip_identity, open_dataset
from evaluate.embed.base import (
    EXECUTORS,
    Bad,
    Embedded,
    Executor,
    cache_groups,
    encoder_layer_identities,
    layer_dirs,
    view_dirs,
)
from evaluate.embed.cache import EmbeddingCache
from evaluate.embed.local import default_batch_size, embed_work, read_cached
from evaluate.encoders.base import parse_spec
from evaluate.errors import BadClipError, EncoderError


class EmbedActor:
    """One encoder on one device (a GPU when Ray gives it one), embedding chunks of clips."""

    def __init__(self, spec: str, device: str, index: int):
        from evaluate.encoders import build_encoder

        self.index = index  # which actor: per-actor timings are summed by the driver
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
        return {"identity": self.encoder.identity(), "name": self.encoder.name, "device": self.encoder.device,
                "layers": encoder_layer_identities(self.encoder)}

    def embed(self, root: str, chunk: list[tuple[str, list[str]]], cache_root: str, *, batch_size: int | None,
              workers: int, loader: str) -> dict[str, Any]:
        """Embed ``chunk`` = [(clip_id, views)] of the dataset at ``root`` into the cache at ``cache_root``."""
        # The driver verified the dataset (hashes, --skip-bad); here clips are only looked up by id.
        dataset = self.datasets.get(root) or self.datasets.setdefault(
            root, open_dataset(root, skip_bad=True, verify_hashes=False))
        by_id = {c.clip_id: c for c in dataset.clips}
        cache = EmbeddingCache(cache_root)
        encoder = self.encoder
        views = sorted({v for _, vs in chunk for v in vs})
        layers = encoder_layer_identities(encoder)
        groups = {v: view_dirs(cache, encoder.kind, encoder.identity(), layers, v, dataset.fingerprint) for v in views}
        work = [(by_id[cid], vs) for cid, vs in chunk]
        idents = {c.clip_id: clip_identity(c) for c, _ in work}
        bad: dict[tuple[str, str], str] = {}
        before = encoder.timings["clips"]
        waited = embed_work(encoder, dataset, work, groups, idents, cache, batch_size=batch_size, workers=workers,
                            loader=loader, skip_bad=True, bad=bad, log=lambda _: None)
        bad_ids = {cid for _, cid in bad}
        return {"actor": self.index, "clips": encoder.timings["clips"] - before, "decode_wait_s": waited,
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
        cls, device, count = ray.remote(num_gpus=1, num_cpus=1)(EmbedActor), "cuda", actors or gpus
    else:
        cls, device = ray.remote(num_cpus=1)(EmbedActor), "cpu"
        count = actors or max(1, int(resources.get("CPU", 1)) // 2)
    return [cls.remote(spec, device, index) for index in range(count)]


@EXECUTORS.add("ray")
class RayExecutor(Executor):
    """Chunks of clips on Ray actors; each writes its embeddings into the shared cache."""

    name = "ray"

    def embed(self, spec: str, datasets: list[EvalDataset], views: list[str], bad: Bad) -> Embedded:
        from ray.util import ActorPool

        ray, config, cache, t0 = _ray(), self.config, self.cache, time.perf_counter()
        actors = start_actors(spec, config.device, config.address, config.actors)
        try:
            infos = ray.get([a.info.remote() for a in actors])
            for info in infos:
                if "error" in info:
                    raise EncoderError(info["error"][1])
            identity = infos[0]["identity"]
            if any(info["identity"] != identity for info in infos):
                raise EncoderError(f"{spec}: the Ray actors built different encoders (versions differ across nodes?)")
            groups = cache_groups(cache, parse_spec(spec).kind, identity, datasets, views, infos[0]["layers"])
            record = Embedded(infos[0]["name"], identity, [], groups,
                              {"clips": 0, "decode_wait_s": 0.0, "actors": len(actors), "cache_hits": 0,
                               "cache_misses": 0})
            # Each actor twice in the pool: two chunks in flight per actor, so none waits for work.
            pool = ActorPool(actors * 2)
            per_actor: dict[int, dict] = {}
            for dataset in datasets:
                for result in self._embed_dataset(pool, dataset, views, record, infos[0]["device"], bad):
                    per_actor[result["actor"]] = result["timings"]
            for key in ("preprocess_s", "forward_s"):
                record.timings[key] = sum(t.get(key, 0.0) for t in per_actor.values())
            record.timings["embed_wall_s"] = time.perf_counter() - t0
            return record
        finally:
            for actor in actors:
                ray.kill(actor)

    def _embed_dataset(self, pool: Any, dataset: EvalDataset, views: list[str], record: Embedded, device: str,
                       bad: Bad) -> list[dict[str, Any]]:
        config, cache = self.config, self.cache
        reader = EmbeddingCache(cache.root)  # counts of its own: the driver only reads back
        groups = {v: record.groups[(dataset.name, v)] for v in views}
        todo = [(clip.clip_id, missing) for clip, _, missing in read_cached(reader, dataset, views, groups, bad)]
        record.timings["cache_hits"] += reader.hits
        record.timings["cache_misses"] += reader.misses
        self.log(f"{record.encoder} · {dataset.name}: {len(dataset.clips)} clips × {len(views)} views, {len(todo)} "
                 f"clips to embed on {record.timings['actors']} Ray actor(s)")
        # Four batches a chunk, at the actors' own batch size (their device, not the driver's "auto").
        chunk_size = max((config.batch_size or default_batch_size(device)) * 4, 16)
        chunks = [todo[i:i + chunk_size] for i in range(0, len(todo), chunk_size)]
        root, cache_root = str(dataset.root), str(cache.root.resolve())
        options = dict(batch_size=config.batch_size, workers=config.workers, loader=config.loader)
        advance = self.progress.task(f"embedding {dataset.name} with {record.encoder} on Ray", len(todo))
        results = []
        try:
            for result in pool.map_unordered(lambda a, chunk: a.embed.remote(root, chunk, cache_root, **options), chunks):
                results.append(result)
                advance(result["clips"] + len(result["bad"]))
        finally:
            self.progress.done(advance)
        failed = []
        for result in results:
            record.timings["clips"] += result["clips"]
            record.timings["decode_wait_s"] += result["decode_wait_s"]
            record.notes += [n for n in result["notes"] if n not in record.notes]
            failed += result["bad"]
        by_id = {c.clip_id: c for c in dataset.clips}
        for clip_id, message in sorted(failed):
            clip = by_id[clip_id]
            if not config.skip_bad:
                raise BadClipError(message, dataset.name, clip.split, clip_id)
            bad[(dataset.name, clip_id)] = f"{clip.split}/{clip_id}: {message}"
            self.log(f"[yellow]skipped[/yellow] {dataset.name} {clip.split}/{clip_id}: cannot be decoded")
        for clip_id, missing in todo:
            if (dataset.name, clip_id) in bad:
                continue
            ident = clip_identity(by_id[clip_id])
            for v in missing:
                if not all(reader.has(d, ident) for d in layer_dirs(groups[v])):
                    raise EncoderError(f"{record.encoder}: the Ray actors did not write {clip_id} ({v}) to the cache "
                                       f"at {cache.root}; is it on a filesystem every node shares?")
        return results
