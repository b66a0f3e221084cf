"""Embedding on Ray actors: one per GPU of the cluster (``num_gpus=1``), or CPU actors where it has
none. Each actor builds every encoder of the run once, and decodes each clip of a chunk once for
all of them (evaluate.embed.shared); chunks of clips go to whichever actor is free
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
from evaluate.embed.local import default_batch_size, read_cached, resolve_loader
from evaluate.embed.shared import EncoderJob, embed_jobs
from evaluate.encoders.base import parse_spec
from evaluate.errors import BadClipError, EncoderError


class EmbedActor:
    """Every encoder of the run on one device (a GPU when Ray gives it one), embedding chunks of clips:
    each clip of a chunk is decoded once for all of them (evaluate.embed.shared)."""

    def __init__(self, specs: list[str], device: str, index: int):
        from evaluate.encoders import build_encoder

        self.index = index  # which actor: per-actor timings are summed by the driver
        self.encoders: list[Any] = []
        self.errors: list[tuple[str, str] | None] = []
        for spec in specs:
            try:
                self.encoders.append(build_encoder(spec, device))
                self.errors.append(None)
            except EncoderError as e:  # reported by info(): the driver skips the encoder like a local run
                self.encoders.append(None)
                self.errors.append((type(e).__name__, str(e)))
        self.datasets: dict[str, EvalDataset] = {}

    def info(self) -> list[dict[str, Any]]:
        return [{"error": error} if encoder is None else
                {"identity": encoder.identity(), "name": encoder.name, "device": encoder.device,
                 "layers": encoder_layer_identities(encoder)}
                for encoder, error in zip(self.encoders, self.errors, strict=True)]

    def embed(self, root: str, chunk: list[tuple[str, dict[int, list[str]]]], cache_root: str, *,
              batch_size: int | None, workers: int, loader: str) -> dict[str, Any]:
        """Embed ``chunk`` = [(clip_id, {encoder index: views})] of the dataset at ``root`` into the cache
        at ``cache_root``."""
        # The driver verified the dataset (hashes, --skip-bad); here clips are only looked up by id.
        dataset = self.datasets.get(root) or self.datasets.setdefault(
            root, open_dataset(root, skip_bad=True, verify_hashes=False))
        by_id = {c.clip_id: c for c in dataset.clips}
        cache = EmbeddingCache(cache_root)
        jobs, before = [], {}
        for index in sorted({i for _, wanted in chunk for i in wanted}):
            encoder = self.encoders[index]
            needs = {cid: tuple(wanted[index]) for cid, wanted in chunk if index in wanted}
            layers = encoder_layer_identities(encoder)
            views = sorted({v for vs in needs.values() for v in vs})
            groups = {v: view_dirs(cache, encoder.kind, encoder.identity(), layers, v, dataset.fingerprint)
                      for v in views}
            jobs.append(EncoderJob(encoder, needs, groups, {cid: clip_identity(by_id[cid]) for cid in needs}))
            before[index] = encoder.timings["clips"]
        device = jobs[0].encoder.device if jobs else "cpu"
        loader, pin = resolve_loader(loader, device)
        bad: dict[tuple[str, str], str] = {}
        shared = embed_jobs(jobs, dataset, cache, batch_size=batch_size or default_batch_size(device),
                            workers=workers, loader=loader, pin_memory=pin, skip_bad=True, bad=bad,
                            log=lambda _: None)
        per_encoder = {index: {"clips": self.encoders[index].timings["clips"] - before[index],
                               "timings": dict(self.encoders[index].timings),
                               "cache_write_s": job.timings["cache_write_s"],
                               "notes": list(self.encoders[index].notes)}
                       for index, job in zip(sorted(before), jobs, strict=True)}
        return {"actor": self.index, "clips": len(chunk), "decode_wait_s": shared["decode_wait_s"],
                "encoders": per_encoder,
                "bad": [(cid, bad[(dataset.name, cid)].split(": ", 1)[1]) for cid, _ in chunk
                        if (dataset.name, cid) in bad]}


def _ray():
    try:
        import ray
    except ImportError:
        raise ValueError("--executor ray needs Ray: pip install 'simgen[ray]'") from None
    return ray


def start_actors(specs: list[str], device: str, address: str | None, actors: int | None) -> list[Any]:
    """One actor per GPU of the cluster (or ``actors``), else CPU actors (one per 2 CPUs, at least 1);
    each builds every encoder of ``specs``."""
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
    return [cls.remote(specs, device, index) for index in range(count)]


@EXECUTORS.add("ray")
class RayExecutor(Executor):
    """Chunks of clips on Ray actors; each writes its embeddings into the shared cache."""

    name = "ray"

    def embed_all(self, specs: list[str], datasets: list[EvalDataset], views: list[str],
                  bad: Bad) -> tuple[list[Embedded], list[tuple[str, EncoderError]]]:
        from ray.util import ActorPool

        ray, config, cache, t0 = _ray(), self.config, self.cache, time.perf_counter()
        actors = start_actors(specs, config.device, config.address, config.actors)
        try:
            infos = ray.get([a.info.remote() for a in actors])  # per actor, per spec
            records: dict[int, Embedded] = {}
            failed: list[tuple[str, EncoderError]] = []
            for index, spec in enumerate(specs):
                mine = [info[index] for info in infos]
                error = next((i["error"][1] for i in mine if "error" in i), None)
                if error is None and any(i["identity"] != mine[0]["identity"] for i in mine):
                    error = f"{spec}: the Ray actors built different encoders (versions differ across nodes?)"
                if error is not None:
                    failed.append((spec, EncoderError(error)))
                    continue
                groups = cache_groups(cache, parse_spec(spec).kind, mine[0]["identity"], datasets, views,
                                      mine[0]["layers"])
                records[index] = Embedded(mine[0]["name"], mine[0]["identity"], [], groups,
                                          {"clips": 0, "decode_wait_s": 0.0, "cache_write_s": 0.0,
                                           "actors": len(actors), "cache_hits": 0, "cache_misses": 0})
            # Each actor twice in the pool: two chunks in flight per actor, so none waits for work.
            pool = ActorPool(actors * 2)
            per_actor: dict[tuple[int, int], dict] = {}
            device = next((infos[0][i]["device"] for i in records), "cpu")
            for dataset in datasets if records else []:
                for result in self._embed_dataset(pool, dataset, views, records, device, bad):
                    for index, done in result["encoders"].items():
                        per_actor[(result["actor"], index)] = done["timings"]
            for index, record in records.items():
                for key in ("preprocess_s", "forward_s"):
                    record.timings[key] = sum(t.get(key, 0.0) for (_, i), t in per_actor.items() if i == index)
                record.timings["embed_wall_s"] = time.perf_counter() - t0
            return list(records.values()), failed
        finally:
            for actor in actors:
                ray.kill(actor)

    def _embed_dataset(self, pool: Any, dataset: EvalDataset, views: list[str], records: dict[int, Embedded],
                       device: str, bad: Bad) -> list[dict[str, Any]]:
        config, cache = self.config, self.cache
        wanted: dict[str, dict[int, list[str]]] = {}  # clip id -> encoder index -> views it still needs
        groups_of = {index: {v: r.groups[(dataset.name, v)] for v in views} for index, r in records.items()}
        for index, record in records.items():
            reader = EmbeddingCache(cache.root)  # counts of its own: the driver only reads back
            for clip, _, missing in read_cached(reader, dataset, views, groups_of[index], bad):
                wanted.setdefault(clip.clip_id, {})[index] = missing
            record.timings["cache_hits"] += reader.hits
            record.timings["cache_misses"] += reader.misses
        todo = [(c.clip_id, wanted[c.clip_id]) for c in dataset.clips if c.clip_id in wanted]
        self.log(f"{dataset.name}: {len(dataset.clips)} clips × {len(views)} views, {len(todo)} clips to embed "
                 f"with {len(records)} encoder(s) on Ray")
        # Four batches a chunk, at the actors' own batch size (their device, not the driver's "auto").
        chunk_size = max((config.batch_size or default_batch_size(device)) * 4, 16)
        chunks = [todo[i:i + chunk_size] for i in range(0, len(todo), chunk_size)]
        root, cache_root = str(dataset.root), str(cache.root.resolve())
        options = dict(batch_size=config.batch_size, workers=config.workers, loader=config.loader)
        advance = self.progress.task(f"embedding {dataset.name} on Ray", len(todo))
        results = []
        try:
            for result in pool.map_unordered(lambda a, chunk: a.embed.remote(root, chunk, cache_root, **options), chunks):
                results.append(result)
                advance(result["clips"])
        finally:
            self.progress.done(advance)
        failed = []
        for result in results:
            failed += result["bad"]
            for index, done in result["encoders"].items():
                record = records[index]
                record.timings["clips"] += done["clips"]
                record.timings["cache_write_s"] += done["cache_write_s"]
                record.timings["decode_wait_s"] += result["decode_wait_s"]
                record.notes += [n for n in done["notes"] if n not in record.notes]
        by_id = {c.clip_id: c for c in dataset.clips}
        for clip_id, message in sorted(set(failed)):
            clip = by_id[clip_id]
            if not config.skip_bad:
                raise BadClipError(message, dataset.name, clip.split, clip_id)
            bad[(dataset.name, clip_id)] = f"{clip.split}/{clip_id}: {message}"
            self.log(f"[yellow]skipped[/yellow] {dataset.name} {clip.split}/{clip_id}: cannot be decoded")
        reader = EmbeddingCache(cache.root)
        for clip_id, needs in todo:
            if (dataset.name, clip_id) in bad:
                continue
            ident = clip_identity(by_id[clip_id])
            for index, missing in needs.items():
                for v in missing:
                    if not all(reader.has(d, ident) for d in layer_dirs(groups_of[index][v])):
                        raise EncoderError(f"{records[index].encoder}: the Ray actors did not write {clip_id} ({v}) "
                                           f"to the cache at {cache.root}; is it on a filesystem every node shares?")
        return results
