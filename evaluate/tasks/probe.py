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
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

import numpy as np

from evaluate.comparisons import FAMILY_TEXT, compare_predictions, encoder_role, keep_line, parse_pairs
from evaluate.config import RunConfig, check_device
from evaluate.data.dataset import TEST_SPLIT, TRAIN_SPLITS, EvalDataset, clip_identity, open_dataset
from evaluate.data.targets import TargetData, prepare_target
from evaluate.data.views import CONTROL_VIEWS, check_views
from evaluate.embed.base import EXECUTORS, Bad, Embedded
from evaluate.embed.cache import EmbeddingCache
from evaluate.encoders import parse_spec
from evaluate.encoders.vlm.zero_shot import ZERO_SHOT, answer_readout
from evaluate.errors import EvaluateError
from evaluate.io import PREDICTIONS_FILE, RESULTS_FILE, versions, write_json
from evaluate.layers import choose_layers
from evaluate.metrics import MIN_TEST_GROUPS, Metric, floored_margin, score
from evaluate.outputs import check_out, staged
from evaluate.predictions import RowKey, read_predictions, write_predictions
from evaluate.probes import Probe, ProbeFit, ProbeSkipped, get_probe
from evaluate.probes.rows import CachedRows
from evaluate.progress import Advance, Log, Progress
from evaluate.results import (
    Comparison,
    DatasetRecord,
    EncoderRecord,
    Identifiability,
    IdentifiabilityScore,
    Margin,
    ReversalScore,
    RunResults,
    RunSkipped,
    Score,
    SkippedClip,
    SkippedEncoder,
    SkippedTarget,
    VerdictRow,
)
from evaluate.tasks.probe_pool import ProbeTask, probe_workers, run_tasks
from simgen.dataset.io import atomic_path
from simgen.spec.registry import did_you_mean

FORMAT_VERSION = 1


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
        self.is_val = np.array([c.split == "val" for c in self.train])  # for probes that select on val

    def targets(self, wanted: list[str] | None) -> tuple[list[TargetData], list[SkippedTarget]]:
        """The targets to probe (all, or ``wanted``), and those that cannot be, with the reason."""
        out, skipped = [], []
        for target in self.dataset.targets:
            if wanted and target.name not in wanted:
                continue
            prepared = prepare_target(target, self.train, self.test)
            if isinstance(prepared, str):
                skipped.append(SkippedTarget(dataset=self.dataset.name, target=target.name, reason=prepared))
            else:
                out.append(prepared)
        return out, skipped


@dataclass
class Probed:
    """What probing one encoder's embeddings of one dataset gives."""

    scores: list[Score] = field(default_factory=list)
    margins: list[Margin] = field(default_factory=list)
    reversal: list[ReversalScore] = field(default_factory=list)
    skipped: list[SkippedTarget] = field(default_factory=list)
    seconds: float = 0.0  # the probes' fits
    steps: dict[str, float] = field(default_factory=lambda: {"score_s": 0.0, "margins_s": 0.0, "reversal_s": 0.0})


def fit_target(probe: Probe, target: TargetData, x_train: CachedRows, groups: np.ndarray, x_test: CachedRows,
               **extra) -> ProbeFit:
    """Fit ``probe`` on one target and predict; a circular target is fitted as its (cos, sin) and
    predicted as the angle of the two predictions."""
    period = target.info.period
    if not period:
        return probe.fit_predict(target.kind, x_train, target.y_train, groups, x_test, **extra)
    angle = 2 * np.pi * target.y_train / period
    fits = {part: probe.fit_predict("regression", x_train, fn(angle), groups, x_test, **extra)
            for part, fn in (("cos", np.cos), ("sin", np.sin))}
    predicted = np.mod(np.arctan2(fits["sin"].y_pred, fits["cos"].y_pred) * period / (2 * np.pi), period)
    return ProbeFit(predicted, {part: fit.params for part, fit in fits.items()})


def probe_encoder(split: Split, record: Embedded, views: list[str], targets: list[TargetData],
                  probes: dict[str, Probe], cache: EmbeddingCache, n_bootstrap: int, predictions: IO[str],
                  advance: Advance) -> Probed:
    """Fit every probe on every target under every view, one view's matrix at a time, and score it
    on that view's test clips (within-view). The probe fitted on ``original`` also predicts every
    other view's test clips without refitting (cross-view), which gives reversal sensitivity.
    Every row's test predictions go to ``predictions`` (evaluate.predictions)."""
    dataset, n_train, out = split.dataset, len(split.train), Probed()
    probes = answer_readout(record, dataset.root) or probes  # a zero-shot VLM's answers are read, not fitted
    rows = {v: CachedRows.from_cache(cache, record.groups[(dataset.name, v)], split.idents) for v in views}
    degenerate = {v for v in CONTROL_VIEWS.values() if v in rows and rows[v].is_constant()}
    within: dict[tuple[str, str], dict[str, ProbeFit]] = {}  # (target, probe) -> view -> fit
    cross: dict[tuple[str, str], dict[str, np.ndarray]] = {}  # (target, probe) -> test view -> y_pred
    given_up: set[tuple[str, str]] = set()
    for view in views:
        for target in targets:
            x_train = rows[view].take(target.train_rows)
            test_views = views if view == "original" else [view]  # the original fit predicts every view
            x_test = CachedRows.concat([rows[v].take(n_train + target.test_rows) for v in test_views])
            for probe_name, probe in probes.items():
                advance(1)
                key = (target.name, probe_name)
                if key in given_up:
                    continue
                t0 = time.perf_counter()
                extra = {"is_val": split.is_val[target.train_rows]} if getattr(probe, "uses_val_split", False) else {}
                if getattr(probe, "reads_target", False):
                    extra["target_name"] = target.name
                try:
                    fit = fit_target(probe, target, x_train, split.g_train[target.train_rows], x_test, **extra)
                except ProbeSkipped as e:
                    given_up.add(key)
                    out.skipped.append(SkippedTarget(dataset=dataset.name, target=target.name, reason=str(e)))
                    continue
                parts = np.split(fit.y_pred, len(test_views))
                if view == "original":
                    cross[key] = dict(zip(test_views, parts, strict=True))
                within.setdefault(key, {})[view] = ProbeFit(parts[test_views.index(view)], fit.params)
                test_clips = [split.test[i] for i in target.test_rows]
                for test_view, y_pred in zip(test_views, parts, strict=True):  # within-view, then cross-view rows
                    row_key = RowKey(dataset.name, target.name, record.encoder, view, test_view, probe_name,
                                     record.layer)
                    write_predictions(predictions, row_key, target.kind, test_clips, target.y_test, y_pred)
                out.seconds += time.perf_counter() - t0
    for target in targets:
        g_test = split.g_test[target.test_rows]
        common = dict(dataset=dataset.name, target=target.name, kind=target.kind, encoder=record.encoder,
                      layer=record.layer)
        sizes = dict(n_train=len(target.train_rows), n_test=len(target.test_rows), test_groups=len(set(g_test)),
                     unit=target.info.unit, subset=target.subset)
        for probe_name in probes:
            fits, cross_preds = within.get((target.name, probe_name), {}), cross.get((target.name, probe_name), {})
            t0 = time.perf_counter()
            for view, fit in fits.items():
                out.scores.append(Score(**common, view=view, fit_view=view, probe=probe_name, **sizes,
                                        **score(target.metric, target.y_test, fit.y_pred, g_test, n_bootstrap),
                                        probe_params=fit.params))
            for view, y_pred in cross_preds.items():
                if view != "original":
                    out.scores.append(Score(**common, view=view, fit_view="original", probe=probe_name, **sizes,
                                            **score(target.metric, target.y_test, y_pred, g_test, n_bootstrap),
                                            probe_params=fits["original"].params))
            t1 = time.perf_counter()
            for margin_type, control in CONTROL_VIEWS.items():
                if "original" in fits and control in fits:
                    out.margins.append(Margin(
                        **common, probe=probe_name, margin_type=margin_type, control_view=control,
                        **floored_margin(target.metric, target.y_test, g_test, fits["original"].y_pred,
                                         fits[control].y_pred, n_bootstrap),
                        degenerate_control=control in degenerate, test_groups=len(set(g_test)), subset=target.subset))
            t2 = time.perf_counter()
            if "reversed" in cross_preds and target.reversed_test is not None:
                defined = np.array([v is not None for v in target.reversed_test])
                if defined.any():
                    cast = float if target.kind == "regression" else str
                    out.reversal.append(ReversalScore(
                        **common, probe=probe_name, rule=target.info.reversal["rule"],
                        **score(target.metric, target.reversed_test[defined].astype(cast),
                                cross_preds["reversed"][defined], g_test[defined], n_bootstrap),
                        n_test=int(defined.sum()), test_groups=len(set(g_test[defined]))))
            for step, seconds in (("score_s", t1 - t0), ("margins_s", t2 - t1), ("reversal_s", time.perf_counter() - t2)):
                out.steps[step] += seconds
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
    pairs: list[tuple[str, str]] | None  # the encoders to compare; None: every pair of contenders


def plan(config: RunConfig, log: Log) -> Plan:
    """Open and check everything a typo or an empty split would break, before any embedding."""
    views = check_views(config.views)
    probes = {name: get_probe(name) for name in config.probes}
    names = [parse_spec(spec).text for spec in config.encoders]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"--encoder: {', '.join(s for s, n in zip(config.encoders, names, strict=True) if n == name)}"
                             f" name one encoder ({name}); give it once")
    check_device(config.device)
    spelled = {**{spec.strip(): name for spec, name in zip(config.encoders, names, strict=True)},
               **{name: name for name in names}}  # a pair may name an encoder as typed or as the results spell it
    pairs = None
    if config.compare is not None:
        pairs = [(spelled.get(a, a), spelled.get(b, b)) for a, b in
                 parse_pairs(config.compare, list(spelled))]
    datasets = [open_dataset(d, skip_bad=config.skip_bad, verify_hashes=config.verify_hashes)
                for d in config.datasets]
    offered = {t.name for d in datasets for t in d.targets}
    for name in config.targets or []:
        if name not in offered:
            raise ValueError(f"unknown target {name!r}{did_you_mean(name, offered)}; targets: {', '.join(sorted(offered))}")
    check_datasets(datasets, config.targets)
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
    return Plan(datasets, views, probes, bad, pairs)


def check_datasets(datasets: list[EvalDataset], targets: list[str] | None) -> None:
    """Refuse a dataset given twice (or a copy of one) and one that holds none of the asked targets: it
    would be embedded for nothing."""
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"datasets share a folder name ({', '.join(names)}); results are keyed by it")
    seen: dict[str, str] = {}
    for d in datasets:
        if d.content_hash in seen:
            raise ValueError(f"datasets {seen[d.content_hash]} and {d.name} hold the same clips (content_sha256 "
                             f"{d.content_hash[:12]}); give one of them")
        seen[d.content_hash] = d.name
    for d in datasets:
        have = {t.name for t in d.targets}
        if targets and not have & set(targets):
            raise ValueError(f"dataset {d.name} has none of --target {', '.join(targets)} (its targets: "
                             f"{', '.join(sorted(have))}); leave it out or ask for one of its targets")


def run(config: RunConfig, log: Log = lambda _: None, progress: Progress | None = None, *, replace: bool = False,
        write_to: Path | None = None) -> RunResults:
    """Run the evaluation; returns what results.json holds, written with predictions.jsonl under
    config.out when the run succeeds (evaluate.outputs.staged), or into ``write_to`` (a staging folder
    the caller moves into place). A config.out that holds a finished run this one would lose is refused
    before any work unless ``replace`` (evaluate.outputs.check_out). The probes of a run of 100 clips or
    more run in spawned processes (evaluate.tasks.probe_pool): a script that calls this at import time
    needs Python's ``if __name__ == "__main__":`` guard, as with any multiprocessing, or
    ``probe_workers=1``."""
    if write_to is not None:
        return _run(config, log, progress, replace, Path(write_to))
    with staged(Path(config.out)) as stage:
        return _run(config, log, progress, replace, stage)


def _run(config: RunConfig, log: Log, progress: Progress | None, replace: bool, write_to: Path) -> RunResults:
    started, progress = time.perf_counter(), progress or Progress()
    inputs = plan(config, log)
    steps = {"plan_s": time.perf_counter() - started}  # results.json's step_s: every step of wall_s
    datasets, views, bad = inputs.datasets, inputs.views, inputs.bad
    out_dir = Path(config.out)
    check_out(out_dir, RESULTS_FILE, config.model_dump(), replace, "evaluate run",
              {d.name: d.content_hash for d in datasets})
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(config.cache or out_dir / "embeddings")

    executor = EXECUTORS[config.executor](config, cache, log, progress)
    skipped_encoders: list[SkippedEncoder] = []
    # Every encoder at once, fed from one decode of each clip (evaluate.embed.shared).
    embed_started = time.perf_counter()
    embedded, failed = executor.embed_all(list(config.encoders), datasets, views, bad)
    steps["embed_s"] = time.perf_counter() - embed_started
    skipped_encoders += [skip_encoder(spec, e, log) for spec, e in failed]
    gc.collect()  # the encoders are gone: give their memory back before the probes
    note_shared_weights(embedded, log)
    if not embedded:
        reasons = "; ".join(e.reason for e in skipped_encoders)  # each names its encoder
        raise EvaluateError(f"every encoder was skipped ({reasons}); nothing was evaluated, no report written")

    probed: list[Probed] = []
    skipped_targets: list[SkippedTarget] = []
    with atomic_path(write_to / PREDICTIONS_FILE) as predictions_path, open(predictions_path, "w") as predictions:
        splits = [Split.of(d, bad) for d in datasets]
        work = [(split, *split.targets(config.targets)) for split in splits]
        per_layer = [r for e in embedded for r in e.by_layer()]  # a layer sweep is probed one layer at a time
        total = sum(len(targets) for _, targets, _ in work) * len(per_layer) * len(views) * len(inputs.probes)
        advance = progress.task("probing", total)
        tasks = []
        for split, targets, skipped in work:
            skipped_targets += skipped
            if targets:  # a line per dataset, for logs where the progress bar is not drawn
                log(f"probing {split.dataset.name}: {len(embedded)} encoder(s) × {len(views)} view(s) × "
                    f"{len(targets)} target(s) × {len(inputs.probes)} probe(s)")
            tasks += [ProbeTask(split, record, views, targets, inputs.probes, cache, config.n_bootstrap)
                      for record in (per_layer if targets else [])]
        workers = probe_workers(config.probe_workers, sum(len(s.train) + len(s.test) for s in splits))
        results = run_tasks(probe_encoder, tasks, workers, predictions, advance, write_to)
        for task, result in zip(tasks, results, strict=True):
            task.record.timings["probe_s"] = task.record.timings.get("probe_s", 0.0) + result.seconds
            skipped_targets += [s for s in result.skipped if s not in skipped_targets]
            probed.append(result)
        progress.done(advance)
        steps["probe_s"] = time.perf_counter() - embed_started - steps["embed_s"]
        steps["probe_fit_s"] = sum(p.seconds for p in probed)
        for step in ("score_s", "margins_s", "reversal_s"):
            steps[step] = sum(p.steps[step] for p in probed)
        for t in skipped_targets:
            log(f"[yellow]skipped target[/yellow] {t.dataset}/{t.target}: {t.reason}")
        scores = [s for p in probed for s in p.scores]
        if not scores and config.probes:  # (no probes: an embedding-only run, which is fine)
            raise EvaluateError(f"no target could be scored: {_reasons(skipped_targets)}; no report written")
        warnings = few_groups_warnings(datasets, bad)
        for w in warnings:
            log(f"[yellow]warning[/yellow] {w}")
        order = _report_order(datasets, embedded, views, [*inputs.probes, ZERO_SHOT])
        predictions.flush()  # the comparisons read every encoder's predictions back from the file
        identified_at = time.perf_counter()
        identified, layer_choices = identifiability(scores, datasets), choose_layers(scores)
        steps["identifiability_s"] = time.perf_counter() - identified_at
        compared_at = time.perf_counter()
        comparisons, verdict = compare_run(Path(predictions_path), datasets, embedded, inputs.pairs,
                                           [c.row() for c in layer_choices], identified, config.n_bootstrap, log)
        comparisons_s = time.perf_counter() - compared_at
        results = RunResults(
            format_version=FORMAT_VERSION, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            config=config.model_copy(update={"cache": str(cache.root)}), versions=versions(),
            datasets=[dataset_record(d) for d in datasets],
            encoders=[EncoderRecord(encoder=r.encoder, role=encoder_role(r.encoder), identity=r.identity,
                                    notes=r.notes, timings=r.timings) for r in embedded],
            results=sorted(scores, key=order),
            temporal_margins=sorted((m for p in probed for m in p.margins), key=order),
            reversal_sensitivity=sorted((r for p in probed for r in p.reversal), key=order),
            identifiability=identified, comparisons=comparisons, comparison_family=FAMILY_TEXT, verdict=verdict,
            comparisons_s=comparisons_s, step_s={**steps, "comparisons_s": comparisons_s},
            layer_choices=layer_choices,
            warnings=warnings,
            skipped=RunSkipped(encoders=skipped_encoders, targets=skipped_targets,
                               clips=[SkippedClip(dataset=d, clip=why) for (d, _), why in bad.items()]),
            wall_s=time.perf_counter() - started)
        write_json(write_to / RESULTS_FILE, results.row())
    return results


def compare_run(predictions: Path, datasets: list[EvalDataset], embedded: list[Embedded],
                pairs: list[tuple[str, str]] | None, layer_choices: list[dict], identified: list[Identifiability],
                n_bootstrap: int, log: Log) -> tuple[list[Comparison], list[VerdictRow]]:
    """Paired comparisons of the run's encoders (evaluate.comparisons), read from its predictions. A named
    pair whose encoder was skipped is dropped, and said."""
    started = time.perf_counter()
    names = [r.encoder for r in embedded]
    if pairs is not None:
        for a, b in [p for p in pairs if not set(p) <= set(names)]:
            log(f"[yellow]not compared[/yellow] {a} vs {b}: an encoder was skipped")
        pairs = [p for p in pairs if set(p) <= set(names)]
    targets = {(d.name, t.name): Metric(t.kind, t.period) for d in datasets for t in d.targets}
    comparisons, verdict = compare_predictions(read_predictions(predictions, keep_line), targets, names, pairs,
                                               layer_choices, identified, n_bootstrap,
                                               {(d.name, t.name): t.in_one_frame for d in datasets for t in d.targets})
    if comparisons:
        log(f"compared encoders: {len(comparisons)} paired comparisons (Holm over all) in "
            f"{time.perf_counter() - started:.1f} s")
    return comparisons, verdict


def note_shared_weights(embedded: list[Embedded], log: Log) -> None:
    """Encoders with the same weights (a fine-tuned checkpoint whose backbone was frozen, the same
    random seed) are one model read out twice, not two models: say so in the later one's notes."""
    first: dict[str, str] = {}
    for record in embedded:
        digest = record.identity.get("encoder_sha256")
        if digest and digest in first:
            note = (f"same encoder weights as {first[digest]} (encoder_sha256 {digest}): one model, read out "
                    f"differently, not a second model")
            record.notes.append(note)
            log(f"[yellow]note[/yellow] {record.encoder}: {note}")
        elif digest:
            first[digest] = record.encoder


def dataset_record(d: EvalDataset) -> DatasetRecord:
    return DatasetRecord(
        name=d.name, path=str(d.root), fingerprint=d.fingerprint, content_sha256=d.content_hash, clips=len(d.clips),
        frames=d.frames, resolution=[d.width, d.height],
        targets={t.name: {"kind": t.kind, "classes": list(t.classes), "unit": t.unit, "description": t.description,
                          "reversal": t.reversal, "defined_when": t.defined_when, "period": t.period,
                          "residual_on": list(t.residual_on) or None, "in_one_frame": t.in_one_frame}
                 for t in d.targets})


def _report_order(datasets: list[EvalDataset], embedded: list[Embedded], views: list[str], probes: list[str]):
    """Sort key: (dataset, target, encoder, probe, margin type, within before cross-view, view), each
    in the order the run was given, which is the order the reports read."""
    rank = {**{("d", d.name): i for i, d in enumerate(datasets)},
            **{("t", d.name, t.name): i for d in datasets for i, t in enumerate(d.targets)},
            **{("e", r.encoder): i for i, r in enumerate(embedded)},
            **{("p", p): i for i, p in enumerate(probes)}, **{("v", v): i for i, v in enumerate(views)},
            **{("m", m): i for i, m in enumerate(CONTROL_VIEWS)}}

    def key(row: Score | Margin | ReversalScore) -> tuple[int, ...]:
        view = getattr(row, "view", None)
        return (rank["d", row.dataset], rank["t", row.dataset, row.target], rank["e", row.encoder], row.layer or 0,
                rank["p", row.probe], rank.get(("m", getattr(row, "margin_type", None)), 0),
                int(view is not None and row.fit_view != view), rank.get(("v", view), 0))

    return key


# The weight-free encoders that answer "is the target in one frame, in the states, in the pixels".
ORACLE_STATIC, ORACLE_FULL, TRACK = "oracle-static", "oracle-full", "track"


def identifiability(scores: list[Score], datasets: list[EvalDataset]) -> list[Identifiability]:
    """Per target (and probe), what the ground-truth oracles and the pixel tracker score: whether one
    frame's complete state gives the target (static), only the states over time do (temporal), or
    neither (not identified from states). Within-view scores on the original view, plus ``track``
    under ``single_frame``; empty unless the run has an oracle."""
    by = {(s.dataset, s.target, s.probe, s.encoder.split(",")[0], s.view): s for s in scores if s.fit_view == s.view}
    out = []
    for d in datasets:
        for t in d.targets:
            for probe in dict.fromkeys(s.probe for s in scores):
                static, full = by.get((d.name, t.name, probe, ORACLE_STATIC, "original")), \
                    by.get((d.name, t.name, probe, ORACLE_FULL, "original"))
                if static is None and full is None:
                    continue
                track, track_static = by.get((d.name, t.name, probe, TRACK, "original")), \
                    by.get((d.name, t.name, probe, TRACK, "single_frame"))

                def above(s: Score | None) -> bool:
                    return s is not None and s.ci95[0] > s.chance

                verdict = ("static" if above(static) else "temporal" if above(full)
                           else "unknown" if static is None or full is None else "not identified")
                out.append(Identifiability(
                    dataset=d.name, target=t.name, probe=probe, verdict=verdict,
                    **{name: IdentifiabilityScore(value=s.value, ci95=s.ci95, chance=s.chance, metric=s.metric)
                       for name, s in (("oracle_static", static), ("oracle_full", full), ("track", track),
                                       ("track_single_frame", track_static)) if s is not None}))
    return out


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

