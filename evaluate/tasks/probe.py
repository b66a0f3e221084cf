"""``evaluate run``: embed every dataset with every encoder under every view (cached), then fit
and score every probe on every target, and write results.json and predictions.jsonl.

Two phases, so that all encoders are scored on the same clips: a clip that cannot be decoded
(with ``skip_bad``) is dropped from every encoder's probes, not only from the one that met it.
"""

from __future__ import annotations

import gc
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.config import RunConfig
from evaluate.data.dataset import TEST_SPLIT, TRAIN_SPLITS, EvalDataset, clip_identity, open_dataset
from evaluate.data.loader import LOADERS
from evaluate.data.views import STATIC_VIEWS, check_views
from evaluate.embed.cache import EmbeddingCache
from evaluate.embed.local import EXECUTORS, embed_work, read_cached
from evaluate.embed.ray import embed_with_ray
from evaluate.encoders import Encoder, build_encoder, parse_spec
from evaluate.errors import EncoderError, EvaluateError
from evaluate.io import PREDICTIONS_FILE, RESULTS_FILE, plain, versions, write_json
from evaluate.metrics import MIN_TEST_GROUPS, score, temporal_margin
from evaluate.probes import ProbeSkipped, get_probe
from evaluate.probes.rows import CachedRows
from simgen.registry import did_you_mean

FORMAT_VERSION = 1


Log = Callable[[str], None]


@dataclass
class _Embedded:
    encoder: str
    identity: dict[str, Any]
    notes: list[str]
    groups: dict[tuple[str, str], Path]  # (dataset, view) -> cache folder holding its embeddings
    timings: dict[str, float]


def skip_encoder(skipped: list[dict[str, str]], spec: str, error: Exception, log: Log) -> None:
    """Record an encoder that cannot be built (results.json ``skipped.encoders``) and say so."""
    skipped.append({"encoder": spec, "reason": str(error)})
    log(f"[red]skipped encoder[/red]: {error}")


def _groups(cache: EmbeddingCache, kind: str, identity: dict[str, Any], datasets: list[EvalDataset],
            views: list[str]) -> dict[tuple[str, str], Path]:
    return {(d.name, v): cache.group_dir(kind, identity, v, d.fingerprint) for d in datasets for v in views}


def _embed(encoder: Encoder, dataset: EvalDataset, views: list[str], cache: EmbeddingCache,
           config: RunConfig, bad: dict[tuple[str, str], str], out: _Embedded, log: Log) -> None:
    groups = {v: out.groups[(dataset.name, v)] for v in views}
    todo = read_cached(cache, dataset, views, groups, bad)
    log(f"{encoder.name} · {dataset.name}: {len(dataset.clips)} clips × {len(views)} views, "
        f"{len(todo)} clips to embed")
    # Decoding and views run in the loader (DataLoader workers on CUDA), overlapping the forward pass.
    out.timings["decode_wait_s"] += embed_work(
        encoder, dataset, [(c, m) for c, _, m in todo], groups, {c.clip_id: i for c, i, _ in todo}, cache,
        batch_size=config.batch_size, workers=config.workers, loader=config.loader, skip_bad=config.skip_bad,
        bad=bad, log=log)


@dataclass
class _Target:
    name: str
    kind: str
    unit: str | None
    y_train: np.ndarray
    y_test: np.ndarray


def _targets(dataset: EvalDataset, train: list, test: list, wanted: list[str] | None,
             skipped: list[dict[str, str]]) -> list[_Target]:
    out = []
    for target in dataset.targets:
        if wanted and target.name not in wanted:
            continue
        y_train = np.array([c.targets.get(target.name) for c in train], dtype=object)
        y_test = np.array([c.targets.get(target.name) for c in test], dtype=object)
        reason = ("the test split is empty (render more clips: a larger -n)" if not len(test) else
                  "the train and val splits are empty (render more clips: a larger -n)" if not len(train) else
                  "some clips have no value for it" if any(v is None for v in (*y_train, *y_test)) else None)
        if reason:
            skipped.append({"dataset": dataset.name, "target": target.name, "reason": reason})
            continue
        cast = float if target.kind == "regression" else str
        out.append(_Target(target.name, target.kind, target.unit, y_train.astype(cast), y_test.astype(cast)))
    return out


class _Split:
    """One dataset's probing inputs: train+val and test clips (bad clips left out), their groups."""

    def __init__(self, dataset: EvalDataset, train: list, test: list):
        self.dataset, self.train, self.test = dataset, train, test
        self.idents = [clip_identity(c) for c in (*train, *test)]
        self.g_train = np.array([c.group_id for c in train])
        self.g_test = np.array([c.group_id for c in test])
        self.test_groups = len(set(self.g_test))
        self.is_val = np.array([c.split == "val" for c in train])  # for probes that select on val (attentive)


def _probe_encoder(split: _Split, record: _Embedded, views: list[str], targets: list[_Target], probes: dict,
                   cache: EmbeddingCache, n_bootstrap: int, order: tuple[int, int], results: list, margins: list,
                   skipped_targets: list, predictions: Any) -> None:
    """Fit every probe on every target under every view of one encoder's embeddings of one dataset,
    one view's matrix at a time; append (sort key, record) to ``results`` and ``margins``, and the
    test predictions to the ``predictions`` file."""
    d_index, e_index = order
    dataset, test = split.dataset, split.test
    preds: dict[tuple[int, int], dict[str, np.ndarray]] = {}  # (target, probe) -> view -> y_pred
    given_up: set[tuple[int, int]] = set()
    for v_index, view in enumerate(views):
        rows = CachedRows.from_cache(cache, record.groups[(dataset.name, view)], split.idents)
        x_train, x_test = rows.split(len(split.train))
        for (t_index, target), (p_index, (probe_name, probe)) in itertools.product(
                enumerate(targets), enumerate(probes.items())):
            if (t_index, p_index) in given_up:
                continue
            t0 = time.perf_counter()
            try:
                extra = {"is_val": split.is_val} if getattr(probe, "uses_val_split", False) else {}
                fit = probe.fit_predict(target.kind, x_train, target.y_train, split.g_train, x_test, **extra)
            except ProbeSkipped as e:
                given_up.add((t_index, p_index))
                skipped = {"dataset": dataset.name, "target": target.name, "reason": str(e)}
                if skipped not in skipped_targets:
                    skipped_targets.append(skipped)
                continue
            preds.setdefault((t_index, p_index), {})[view] = fit.y_pred
            results.append(((d_index, t_index, e_index, p_index, v_index), {
                "dataset": dataset.name, "target": target.name, "kind": target.kind,
                "encoder": record.encoder, "view": view, "probe": probe_name,
                **score(target.kind, target.y_test, fit.y_pred, split.g_test, n_bootstrap),
                "n_train": len(split.train), "n_test": len(test), "test_groups": split.test_groups,
                "unit": target.unit, "probe_params": fit.params}))
            predictions.writelines(
                json.dumps({"dataset": dataset.name, "clip_id": c.clip_id, "group_id": c.group_id,
                            "target": target.name, "kind": target.kind, "encoder": record.encoder, "view": view,
                            "probe": probe_name, "y_true": plain(yt), "y_pred": plain(yp)}) + "\n"
                for c, yt, yp in zip(test, target.y_test, fit.y_pred, strict=True))
            record.timings["probe_s"] = record.timings.get("probe_s", 0.0) + time.perf_counter() - t0
    for (t_index, p_index), by_view in preds.items():
        target, probe_name = targets[t_index], list(probes)[p_index]
        static = {v: by_view[v] for v in STATIC_VIEWS if v in by_view}
        if "original" in by_view and static:
            margins.append(((d_index, t_index, e_index, p_index), {
                "dataset": dataset.name, "target": target.name, "kind": target.kind,
                "encoder": record.encoder, "probe": probe_name,
                **temporal_margin(target.kind, target.y_test, split.g_test, by_view["original"], static,
                                  n_bootstrap), "test_groups": split.test_groups}))


def run(config: RunConfig, log: Log = lambda _: None) -> dict[str, Any]:
    """Run the evaluation; returns the results.json payload (also written under config.out)."""
    started = time.perf_counter()
    out_dir = Path(config.out)
    views = check_views(config.views)
    probes = {name: get_probe(name) for name in config.probes}
    for spec in config.encoders:
        parse_spec(spec)  # a typo fails the run before anything is computed
    datasets = [open_dataset(d, skip_bad=config.skip_bad) for d in config.datasets]
    offered = {t.name for d in datasets for t in d.targets}
    for name in config.targets or []:
        if name not in offered:
            raise ValueError(f"unknown target {name!r}{did_you_mean(name, offered)}; targets: {', '.join(sorted(offered))}")
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"datasets share a folder name ({', '.join(names)}); results are keyed by it")
    bad: dict[tuple[str, str], str] = {}
    for dataset in datasets:  # what --skip-bad let past when the datasets were read: listed like bad clips
        for problem in dataset.skipped:
            bad[(dataset.name, problem)] = problem
            log(f"[yellow]skipped[/yellow] {dataset.name}: {problem}")
    if config.probes:  # a dataset with an empty split cannot score anything: say so before embedding
        empty = {d.name: [s for s, clips in (("test", d.split(TEST_SPLIT)), ("train+val", d.split(*TRAIN_SPLITS)))
                          if not clips] for d in datasets}
        empty = {name: splits for name, splits in empty.items() if splits}
        if len(empty) == len(datasets):
            raise EvaluateError("no target could be scored: " + "; ".join(
                f"{name} has no {' and no '.join(splits)} clips" for name, splits in empty.items())
                + " (render more clips: a larger -n); nothing embedded, no report written")
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(config.cache or out_dir / "embeddings")
    skipped_encoders: list[dict[str, str]] = []
    embedded: list[_Embedded] = []

    if config.executor not in EXECUTORS:
        raise ValueError(f"--executor {config.executor!r}: allowed: {', '.join(EXECUTORS)}")
    if config.loader not in LOADERS:
        raise ValueError(f"--loader {config.loader!r}: allowed: {', '.join(LOADERS)}")
    for spec in config.encoders:
        t0 = time.perf_counter()
        if config.executor == "ray":
            try:
                identity, timings, notes = embed_with_ray(
                    spec, datasets, views, cache, device=config.device, address=config.address, actors=config.actors,
                    batch_size=config.batch_size, workers=config.workers, loader=config.loader,
                    skip_bad=config.skip_bad, bad=bad, log=log)
            except EncoderError as e:
                skip_encoder(skipped_encoders, spec, e, log)
                continue
            embedded.append(_Embedded(parse_spec(spec).text, identity, notes,
                                      _groups(cache, parse_spec(spec).kind, identity, datasets, views),
                                      {**timings, "embed_wall_s": time.perf_counter() - t0}))
            continue
        try:
            encoder = build_encoder(spec, config.device)
        except EncoderError as e:
            skip_encoder(skipped_encoders, spec, e, log)
            continue
        record = _Embedded(encoder.name, encoder.identity(), encoder.notes,
                           _groups(cache, encoder.kind, encoder.identity(), datasets, views),
                           {"load_s": time.perf_counter() - t0, "decode_wait_s": 0.0})
        hits, misses = cache.hits, cache.misses
        t1 = time.perf_counter()
        for dataset in datasets:
            _embed(encoder, dataset, views, cache, config, bad, record, log)
        record.timings.update(encoder.timings, embed_wall_s=time.perf_counter() - t1,
                              cache_hits=cache.hits - hits, cache_misses=cache.misses - misses)
        embedded.append(record)
        del encoder
        gc.collect()

    # Probing takes one (encoder, dataset, view) matrix at a time and fits every target on it. The
    # probes read its rows from the cache a block at a time (evaluate.probes.rows), so memory does not grow
    # with the number of clips, encoders or views. Results are then sorted into the (dataset,
    # target, encoder, probe, view) order the reports read.
    results, margins, skipped_targets = [], [], []
    predictions_tmp = out_dir / f".{PREDICTIONS_FILE}.tmp"
    try:
        with open(predictions_tmp, "w") as predictions:
            for d_index, dataset in enumerate(datasets):
                train = [c for c in dataset.split(*TRAIN_SPLITS) if (dataset.name, c.clip_id) not in bad]
                test = [c for c in dataset.split(TEST_SPLIT) if (dataset.name, c.clip_id) not in bad]
                targets = _targets(dataset, train, test, config.targets, skipped_targets)
                if not targets:
                    continue
                split = _Split(dataset, train, test)
                for e_index, record in enumerate(embedded):
                    _probe_encoder(split, record, views, targets, probes, cache, config.n_bootstrap,
                                   (d_index, e_index), results, margins, skipped_targets, predictions)
    except BaseException:
        predictions_tmp.unlink(missing_ok=True)
        raise
    results = [r for _, r in sorted(results, key=lambda item: item[0])]
    margins = [m for _, m in sorted(margins, key=lambda item: item[0])]
    for t in skipped_targets:
        log(f"[yellow]skipped target[/yellow] {t['dataset']}/{t['target']}: {t['reason']}")
    if not embedded:
        predictions_tmp.unlink(missing_ok=True)
        reasons = "; ".join(e["reason"] for e in skipped_encoders)  # each names its encoder
        raise EvaluateError(f"every encoder was skipped ({reasons}); nothing was evaluated, no report written")
    if not results and config.probes:  # (no probes: an embedding-only run, which is fine)
        predictions_tmp.unlink(missing_ok=True)
        by_reason: dict[tuple[str, str], list[str]] = {}
        for t in skipped_targets:
            by_reason.setdefault((t["dataset"], t["reason"]), []).append(t["target"])
        reasons = "; ".join(f"{d} ({', '.join(names)}): {why}" for (d, why), names in by_reason.items())
        raise EvaluateError(f"no target could be scored: {reasons or 'no targets'}; no report written")
    warnings = few_groups_warnings(datasets, bad)
    for w in warnings:
        log(f"[yellow]warning[/yellow] {w}")

    payload = {
        "format_version": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": {**config.model_dump(), "cache": str(cache.root)},
        "versions": versions(),
        "datasets": [{"name": d.name, "path": str(d.root), "fingerprint": d.fingerprint,
                      "content_sha256": d.content_hash, "clips": len(d.clips), "frames": d.frames,
                      "resolution": [d.width, d.height],
                      "targets": {t.name: {"kind": t.kind, "classes": list(t.classes), "unit": t.unit,
                                           "description": t.description} for t in d.targets}}
                     for d in datasets],
        "encoders": [{"encoder": r.encoder, "identity": r.identity, "notes": r.notes, "timings": r.timings}
                     for r in embedded],
        "results": results,
        "temporal_margins": margins,
        "warnings": warnings,
        "skipped": {"encoders": skipped_encoders, "clips": [{"dataset": d, "clip": why} for (d, _), why in bad.items()],
                    "targets": skipped_targets},
        "wall_s": time.perf_counter() - started,
    }
    write_json(out_dir / RESULTS_FILE, payload)
    predictions_tmp.replace(out_dir / PREDICTIONS_FILE)
    return payload


def few_groups_warnings(datasets: list[EvalDataset], bad: dict[tuple[str, str], str]) -> list[str]:
    """One line per dataset whose test split has fewer than MIN_TEST_GROUPS groups."""
    out = []
    for d in datasets:
        groups = {c.group_id for c in d.split(TEST_SPLIT) if (d.name, c.clip_id) not in bad}
        if 0 < len(groups) < MIN_TEST_GROUPS:
            out.append(f"dataset {d.name}: the test split has {len(groups)} group(s); the 95% CIs resample test "
                       f"groups and are unreliable below {MIN_TEST_GROUPS} (marked †): render more clips with a "
                       f"larger -n")
    return out
