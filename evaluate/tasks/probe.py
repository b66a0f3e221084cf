"""``evaluate run``: embed every dataset with every encoder under every view (cached), then fit
and score every probe on every target, and write results.json and predictions.jsonl.

Two phases, so that all encoders are scored on the same clips: a clip that cannot be decoded
(with ``skip_bad``) is dropped from every encoder's probes, not only from the one that met it.

Probing takes one (encoder, dataset, view) matrix at a time and fits every target on it. The
probes read its rows from the cache a block at a time (evaluate.probes.rows), so memory does not
grow with the number of clips, encoders or views.
"""

from __future__ import annotations

import gc
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

import numpy as np

from evaluate.config import RunConfig
from evaluate.data.dataset import TEST_SPLIT, TRAIN_SPLITS, EvalDataset, clip_identity, open_dataset
from evaluate.data.views import STATIC_VIEWS, check_views
from evaluate.embed.base import EXECUTORS, Bad, Embedded
from evaluate.embed.cache import EmbeddingCache
from evaluate.encoders import parse_spec
from evaluate.errors import EncoderError, EvaluateError
from evaluate.io import PREDICTIONS_FILE, RESULTS_FILE, plain, versions, write_json
from evaluate.metrics import MIN_TEST_GROUPS, score, temporal_margin
from evaluate.probes import Probe, ProbeSkipped, get_probe
from evaluate.probes.rows import CachedRows
from evaluate.progress import Advance, Log, Progress
from evaluate.results import (
    DatasetRecord,
    EncoderRecord,
    Margin,
    RunResults,
    RunSkipped,
    Score,
    SkippedClip,
    SkippedEncoder,
    SkippedTarget,
)
from simgen.io import atomic_path
from simgen.registry import did_you_mean

FORMAT_VERSION = 1


@dataclass
class TargetData:
    name: str
    kind: str
    unit: str | None
    y_train: np.ndarray
    y_test: np.ndarray


@dataclass
class Split:
    """One dataset's probing inputs: train+val and test clips (bad clips left out), their groups."""

    dataset: EvalDataset
    train: list
    test: list

    @classmethod
    def of(cls, dataset: EvalDataset, bad: Bad) -> Split:
        def keep(clips: list) -> list:
            return [c for c in clips if (dataset.name, c.clip_id) not in bad]

        return cls(dataset, keep(dataset.split(*TRAIN_SPLITS)), keep(dataset.split(TEST_SPLIT)))

    def __post_init__(self) -> None:
        self.idents = [clip_identity(c) for c in (*self.train, *self.test)]
        self.g_train = np.array([c.group_id for c in self.train])
        self.g_test = np.array([c.group_id for c in self.test])
        self.test_groups = len(set(self.g_test))
        self.is_val = np.array([c.split == "val" for c in self.train])  # for probes that select on val

    def targets(self, wanted: list[str] | None) -> tuple[list[TargetData], list[SkippedTarget]]:
        """The targets to probe (all, or ``wanted``), and those that cannot be, with the reason."""
        out, skipped = [], []
        for target in self.dataset.targets:
            if wanted and target.name not in wanted:
                continue
            y_train = np.array([c.targets.get(target.name) for c in self.train], dtype=object)
            y_test = np.array([c.targets.get(target.name) for c in self.test], dtype=object)
            reason = ("the test split is empty (render more clips: a larger -n)" if not len(self.test) else
                      "the train and val splits are empty (render more clips: a larger -n)" if not len(self.train)
                      else "some clips have no value for it" if any(v is None for v in (*y_train, *y_test)) else None)
            if reason:
                skipped.append(SkippedTarget(dataset=self.dataset.name, target=target.name, reason=reason))
                continue
            cast = float if target.kind == "regression" else str
            out.append(TargetData(target.name, target.kind, target.unit, y_train.astype(cast), y_test.astype(cast)))
        return out, skipped


@dataclass
class Probed:
    """What probing one encoder's embeddings of one dataset gives."""

    scores: list[Score] = field(default_factory=list)
    margins: list[Margin] = field(default_factory=list)
    skipped: list[SkippedTarget] = field(default_factory=list)
    seconds: float = 0.0


def probe_encoder(split: Split, record: Embedded, views: list[str], targets: list[TargetData],
                  probes: dict[str, Probe], cache: EmbeddingCache, n_bootstrap: int, predictions: IO[str],
                  advance: Advance) -> Probed:
    """Fit every probe on every target under every view, one view's matrix at a time; the test
    predictions go to ``predictions`` as json lines."""
    dataset, test, out = split.dataset, split.test, Probed()
    preds: dict[tuple[str, str], dict[str, np.ndarray]] = {}  # (target, probe) -> view -> y_pred
    given_up: set[tuple[str, str]] = set()
    for view in views:
        x_train, x_test = CachedRows.from_cache(cache, record.groups[(dataset.name, view)], split.idents).split(
            len(split.train))
        for target in targets:
            for probe_name, probe in probes.items():
                advance(1)
                if (target.name, probe_name) in given_up:
                    continue
                t0 = time.perf_counter()
                try:
                    extra = {"is_val": split.is_val} if getattr(probe, "uses_val_split", False) else {}
                    fit = probe.fit_predict(target.kind, x_train, target.y_train, split.g_train, x_test, **extra)
                except ProbeSkipped as e:
                    given_up.add((target.name, probe_name))
                    out.skipped.append(SkippedTarget(dataset=dataset.name, target=target.name, reason=str(e)))
                    continue
                preds.setdefault((target.name, probe_name), {})[view] = fit.y_pred
                out.scores.append(Score(
                    dataset=dataset.name, target=target.name, kind=target.kind, encoder=record.encoder, view=view,
                    probe=probe_name, **score(target.kind, target.y_test, fit.y_pred, split.g_test, n_bootstrap),
                    n_train=len(split.train), n_test=len(test), test_groups=split.test_groups, unit=target.unit,
                    probe_params=fit.params))
                predictions.writelines(
                    json.dumps({"dataset": dataset.name, "clip_id": c.clip_id, "group_id": c.group_id,
                                "target": target.name, "kind": target.kind, "encoder": record.encoder, "view": view,
                                "probe": probe_name, "y_true": plain(yt), "y_pred": plain(yp)}) + "\n"
                    for c, yt, yp in zip(test, target.y_test, fit.y_pred, strict=True))
                out.seconds += time.perf_counter() - t0
    for (target_name, probe_name), by_view in preds.items():
        target = next(t for t in targets if t.name == target_name)
        static = {v: by_view[v] for v in STATIC_VIEWS if v in by_view}
        if "original" in by_view and static:
            out.margins.append(Margin(
                dataset=dataset.name, target=target.name, kind=target.kind, encoder=record.encoder, probe=probe_name,
                **temporal_margin(target.kind, target.y_test, split.g_test, by_view["original"], static, n_bootstrap),
                test_groups=split.test_groups))
    return out


def skip_encoder(spec: str, error: Exception, log: Log) -> SkippedEncoder:
    """An encoder that cannot be built, for ``skipped.encoders``; says so."""
    log(f"[red]skipped encoder[/red]: {error}")
    return SkippedEncoder(encoder=spec, reason=str(error))


@dataclass
class Plan:
    """A run's inputs, checked before anything is computed."""

    datasets: list[EvalDataset]
    views: list[str]
    probes: dict[str, Probe]
    bad: Bad  # clips left out, from every encoder's probes


def plan(config: RunConfig, log: Log) -> Plan:
    """Open and check everything a typo or an empty split would break, before any embedding."""
    views = check_views(config.views)
    probes = {name: get_probe(name) for name in config.probes}
    for spec in config.encoders:
        parse_spec(spec)
    datasets = [open_dataset(d, skip_bad=config.skip_bad) for d in config.datasets]
    offered = {t.name for d in datasets for t in d.targets}
    for name in config.targets or []:
        if name not in offered:
            raise ValueError(f"unknown target {name!r}{did_you_mean(name, offered)}; targets: {', '.join(sorted(offered))}")
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"datasets share a folder name ({', '.join(names)}); results are keyed by it")
    bad: Bad = {}
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
    return Plan(datasets, views, probes, bad)


def run(config: RunConfig, log: Log = lambda _: None, progress: Progress | None = None) -> RunResults:
    """Run the evaluation; returns what results.json holds (also written under config.out)."""
    started, progress = time.perf_counter(), progress or Progress()
    inputs = plan(config, log)
    datasets, views, bad = inputs.datasets, inputs.views, inputs.bad
    out_dir = Path(config.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(config.cache or out_dir / "embeddings")

    executor = EXECUTORS[config.executor](config, cache, log, progress)
    embedded: list[Embedded] = []
    skipped_encoders: list[SkippedEncoder] = []
    for spec in config.encoders:
        try:
            embedded.append(executor.embed(spec, datasets, views, bad))
        except EncoderError as e:
            skipped_encoders.append(skip_encoder(spec, e, log))
        gc.collect()  # the encoder is gone: give its memory back before the next one loads
    if not embedded:
        reasons = "; ".join(e.reason for e in skipped_encoders)  # each names its encoder
        raise EvaluateError(f"every encoder was skipped ({reasons}); nothing was evaluated, no report written")

    probed: list[Probed] = []
    skipped_targets: list[SkippedTarget] = []
    with atomic_path(out_dir / PREDICTIONS_FILE) as predictions_path, open(predictions_path, "w") as predictions:
        splits = [Split.of(d, bad) for d in datasets]
        work = [(split, *split.targets(config.targets)) for split in splits]
        total = sum(len(targets) for _, targets, _ in work) * len(embedded) * len(views) * len(inputs.probes)
        advance = progress.task("probing", total)
        for split, targets, skipped in work:
            skipped_targets += skipped
            if targets:  # a line per dataset, for logs where the progress bar is not drawn
                log(f"probing {split.dataset.name}: {len(embedded)} encoder(s) × {len(views)} view(s) × "
                    f"{len(targets)} target(s) × {len(inputs.probes)} probe(s)")
            for record in embedded if targets else []:
                result = probe_encoder(split, record, views, targets, inputs.probes, cache, config.n_bootstrap,
                                       predictions, advance)
                record.timings["probe_s"] = record.timings.get("probe_s", 0.0) + result.seconds
                skipped_targets += [s for s in result.skipped if s not in skipped_targets]
                probed.append(result)
        progress.done(advance)
        for t in skipped_targets:
            log(f"[yellow]skipped target[/yellow] {t.dataset}/{t.target}: {t.reason}")
        scores = [s for p in probed for s in p.scores]
        if not scores and config.probes:  # (no probes: an embedding-only run, which is fine)
            raise EvaluateError(f"no target could be scored: {_reasons(skipped_targets)}; no report written")
        warnings = few_groups_warnings(datasets, bad)
        for w in warnings:
            log(f"[yellow]warning[/yellow] {w}")
        results = RunResults(
            format_version=FORMAT_VERSION, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            config=config.model_copy(update={"cache": str(cache.root)}), versions=versions(),
            datasets=[dataset_record(d) for d in datasets],
            encoders=[EncoderRecord(encoder=r.encoder, identity=r.identity, notes=r.notes, timings=r.timings)
                      for r in embedded],
            results=sorted(scores, key=_report_order(datasets, embedded, views, list(inputs.probes))),
            temporal_margins=sorted((m for p in probed for m in p.margins),
                                    key=_report_order(datasets, embedded, views, list(inputs.probes))),
            warnings=warnings,
            skipped=RunSkipped(encoders=skipped_encoders, targets=skipped_targets,
                               clips=[SkippedClip(dataset=d, clip=why) for (d, _), why in bad.items()]),
            wall_s=time.perf_counter() - started)
        write_json(out_dir / RESULTS_FILE, results.row())
    return results


def dataset_record(d: EvalDataset) -> DatasetRecord:
    return DatasetRecord(
        name=d.name, path=str(d.root), fingerprint=d.fingerprint, content_sha256=d.content_hash, clips=len(d.clips),
        frames=d.frames, resolution=[d.width, d.height],
        targets={t.name: {"kind": t.kind, "classes": list(t.classes), "unit": t.unit, "description": t.description}
                 for t in d.targets})


def _report_order(datasets: list[EvalDataset], embedded: list[Embedded], views: list[str], probes: list[str]):
    """Sort key: (dataset, target, encoder, probe, view), each in the order the run was given, which
    is the order the reports read."""
    rank = {**{("d", d.name): i for i, d in enumerate(datasets)},
            **{("t", d.name, t.name): i for d in datasets for i, t in enumerate(d.targets)},
            **{("e", r.encoder): i for i, r in enumerate(embedded)},
            **{("p", p): i for i, p in enumerate(probes)}, **{("v", v): i for i, v in enumerate(views)}}

    def key(row: Score | Margin) -> tuple[int, ...]:
        return (rank["d", row.dataset], rank["t", row.dataset, row.target], rank["e", row.encoder],
                rank["p", row.probe], rank["v", row.view] if isinstance(row, Score) else 0)

    return key


def _reasons(skipped: list[SkippedTarget]) -> str:
    by_reason: dict[tuple[str, str], list[str]] = {}
    for t in skipped:
        by_reason.setdefault((t.dataset, t.reason), []).append(t.target)
    return "; ".join(f"{d} ({', '.join(names)}): {why}" for (d, why), names in by_reason.items()) or "no targets"


def few_groups_warnings(datasets: list[EvalDataset], bad: Bad) -> list[str]:
    """One line per dataset whose test split has fewer than MIN_TEST_GROUPS groups."""
    out = []
    for d in datasets:
        groups = {c.group_id for c in d.split(TEST_SPLIT) if (d.name, c.clip_id) not in bad}
        if 0 < len(groups) < MIN_TEST_GROUPS:
            out.append(f"dataset {d.name}: the test split has {len(groups)} group(s); the 95% CIs resample test "
                       f"groups and are unreliable below {MIN_TEST_GROUPS} (marked †): render more clips with a "
                       f"larger -n")
    return out

