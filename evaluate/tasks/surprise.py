"""``evaluate surprise``: surprise curves of every clip of violation datasets, for every model and
context length; then relative accuracy, pairwise accuracy and AUROC with group-bootstrap CIs, and the
certification of each violation kind by the controls.

Groups: a group is the clips sharing a ``group_id``: an IntPhys quadruplet (two possible, two impossible
clips; ``design: occluded``) or a twin pair (``design: twins``).

Windows. A window starting at frame s reads the context [s, s + c) and predicts [s + c, s + c + h). Let k
be the group's ``violation_frame`` (the first frame its clips' states differ) and o its ``onset_frame``
(the first frame an impossible clip's pixels differ, o >= k). Per clip:
- ``max`` and ``mean``: over the windows whose horizon reaches k or later (s + c + h > k). Earlier windows
  are the same in matched clips and would only add ties;
- ``onset``: the first window whose horizon holds o (s + c <= o < s + c + h): the first frame at which
  the model's input differs. For a model that reads the states (``oracle``) that is k, not o.
A context that reaches past the violation (no window has s + c <= k) cannot ask the question, so the group
is skipped at that context and counted (``skipped.groups``, and ``skipped_groups`` per score). Every
context given is reported: none is picked after seeing the results.

Scores per dataset × model × context × aggregate, pooled and per ``group_violation`` kind:
- relative accuracy (IntPhys): the share of groups whose impossible clips are more surprising in total than
  their possible ones (ties count one half); for a pair it is the pairwise accuracy. Chance 0.5;
- pairwise accuracy: per group, the share of (possible, impossible) combinations the possible clip wins;
- AUROC: impossible against possible clips, over all clips, by surprise alone ("absolute");
- 95% CIs resample groups with replacement.

Certification (:func:`certify`), per dataset × kind: the negative controls (``extrapolate,order=0``,
``extrapolate,order=1``, ``frame-classifier``) have a relative accuracy within 0.1 of 0.5 with a CI that
covers 0.5 in every context × aggregate; the positive control ``oracle`` reaches 0.95 in every context ×
aggregate; and the design is balanced.

Surprise needs no training (the frame classifier cross-fits over groups), so every split is used unless
``--split`` says otherwise. Labels missing from datasets rendered before the quadruplets are defaulted:
onset_frame = violation_frame, group_violation = the impossible clip's violation, design twins, balanced
false.

Comparisons (:mod:`evaluate.tasks.surprise_comparisons`): with two or more evaluated models (not controls),
every pair is compared paired on the same groups, per dataset × kind × context × aggregate: the difference of
relative accuracy, a paired group-bootstrap CI, a paired permutation p, Holm across the run, and a call.

Outputs under OUT: ``surprise.json`` (config, versions, certification, results, comparisons, timings),
``surprise_curves.jsonl`` (one line per clip × model × context: the curve and the clip's labels),
``surprise_report.md`` and a self-contained ``surprise_report.html`` with surprise-over-time plots aligned on
the onset frame.
"""

from __future__ import annotations

import gc
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.config import SurpriseConfig, check_device
from evaluate.data.dataset import open_dataset
from evaluate.data.decode import iter_frames
from evaluate.encoders import parse_spec
from evaluate.encoders.option_values import check_option_values
from evaluate.errors import BadClipError, EncoderError, EvaluateError
from evaluate.io import CURVES_FILE, SURPRISE_FILE, versions, write_json, write_text
from evaluate.metrics import group_scores
from evaluate.outputs import check_out, staged
from evaluate.results import DatasetRecord, SurpriseResults
from evaluate.surprise_models import (
    NEGATIVE_CONTROLS,
    POSITIVE_CONTROL,
    SURPRISE_MODELS,
    SurpriseModel,
    build_surprise_model,
    window_starts,
)
from evaluate.tasks.probe import check_datasets, skip_encoder
from evaluate.tasks.surprise_comparisons import GroupTable, compare_models

AGGREGATES = ("max", "mean", "onset")
REQUIRED_TARGETS = ("possible", "violation", "violation_frame")
CHANCE = 0.5
NEGATIVE_TOLERANCE = 0.1  # a negative control's relative accuracy must lie within this of chance
POSITIVE_MIN = 0.95  # the positive control's relative accuracy must reach this
CI_LEVEL_MISS = 0.05  # a 95% CI excludes the truth this often by chance alone

Log = Callable[[str], None]


def seedless(name: str) -> str:
    """The spec without its ``seed=`` option: random-init runs with several seeds share it."""
    return re.sub(r",seed=\d+", "", name)


# --------------------------------------------------------------------------- labels


def clip_labels(clips) -> dict[str, dict[str, Any]]:
    """clip_id -> the labels scoring needs, with the defaults of datasets rendered before quadruplets."""
    group_kind: dict[str, str] = {}
    for c in clips:
        if c.targets["possible"] == "false":
            group_kind.setdefault(c.group_id, c.targets["violation"])
    out = {}
    for c in clips:
        t = c.targets
        k = int(t["violation_frame"])
        out[c.clip_id] = {"possible": t["possible"], "violation": t["violation"], "violation_frame": k,
                          "onset_frame": int(t.get("onset_frame", k)),
                          "group_violation": t.get("group_violation", group_kind.get(c.group_id, "none")),
                          "design": t.get("design", "twins"), "balanced": t.get("balanced", "false")}
    return out


# --------------------------------------------------------------------------- run


def _inputs(model: SurpriseModel, dataset, clips, workers: int) -> Iterator[tuple[Any, Any]]:
    """(clip, frames or a BadClipError); frames are None for models that do not read pixels."""
    if not model.reads_pixels:
        yield from ((clip, None) for clip in clips)
        return
    for batch in iter_frames(dataset, clips, batch_size=4, workers=workers):
        yield from batch


def _clip_curves(model: SurpriseModel, config: SurpriseConfig, clip, frames, n_frames: int) -> list[tuple[int, list]]:
    """(context, [(first predicted frame, surprise)...]) for each context."""
    out = []
    for context in config.contexts:
        starts = window_starts(n_frames, context, config.horizon, config.stride)
        if not starts:
            raise ValueError(f"context {context} + horizon {config.horizon} frames do not fit in "
                             f"{clip.clip_id} ({n_frames} frames)")
        values = model.clip_surprise(clip, frames, context, config.horizon, starts)
        out.append((context, [s + context for s in starts], [float(v) for v in values]))
    return out


def _curves(model: SurpriseModel, config: SurpriseConfig, dataset, clips, log: Log) -> tuple[list[dict], list[str]]:
    lines, bad = [], []
    labels = clip_labels(clips)
    for clip, frames in _inputs(model, dataset, clips, config.workers):
        try:
            if isinstance(frames, BadClipError):
                raise frames
            curves = _clip_curves(model, config, clip, frames, len(frames) if frames is not None else dataset.frames)
        except BadClipError:
            if not config.skip_bad:
                raise
            bad.append(f"{clip.split}/{clip.clip_id}")
            log(f"[yellow]skipped[/yellow] {dataset.name} {clip.split}/{clip.clip_id}: cannot be read")
            continue
        seen = labels[clip.clip_id]
        if model.reads_states:  # its input differs from the violation frame on, hidden or not
            seen = {**seen, "onset_frame": seen["violation_frame"]}
        for context, first, values in curves:
            lines.append({"dataset": dataset.name, "clip_id": clip.clip_id, "group_id": clip.group_id,
                          "split": clip.split, "encoder": model.name, "context": context,
                          "horizon": config.horizon, **seen, "frame": first, "surprise": values})
    return lines, bad


# --------------------------------------------------------------------------- windows and scores


def violation_windows(first_predicted: list[int], horizon: int, k: int) -> list[int] | None:
    """Indices of the windows ``max`` and ``mean`` read: those whose horizon reaches frame k or later.
    None when the context reaches past k (no window predicts from frames before k only) or no window
    reaches k: the group cannot be scored at this context."""
    if not any(f <= k for f in first_predicted):
        return None
    chosen = [i for i, f in enumerate(first_predicted) if f + horizon > k]
    return chosen or None


def onset_window(first_predicted: list[int], horizon: int, onset: int) -> int | None:
    """Index of the first window whose horizon holds the onset frame, or None."""
    return next((i for i, f in enumerate(first_predicted) if f <= onset < f + horizon), None)


def clip_values(line: dict[str, Any]) -> dict[str, float] | None:
    """The clip's surprise per aggregate (onset left out when no window holds it); None: skipped."""
    chosen = violation_windows(line["frame"], line["horizon"], line["violation_frame"])
    if chosen is None:
        return None
    values = np.asarray(line["surprise"])
    out = {"max": float(values[chosen].max()), "mean": float(values[chosen].mean())}
    onset = onset_window(line["frame"], line["horizon"], line["onset_frame"])
    if onset is not None:
        out["onset"] = float(values[onset])
    return out


def group_values(group: list[dict[str, Any]]) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """aggregate -> (possible clips' surprises, impossible clips'); None when the group is skipped."""
    per_clip = [(line["possible"] == "true", clip_values(line)) for line in group]
    if any(v is None for _, v in per_clip):
        return None
    out = {}
    for agg in AGGREGATES:
        if all(agg in v for _, v in per_clip):
            out[agg] = (np.array([v[agg] for ok, v in per_clip if ok]), np.array([v[agg] for ok, v in per_clip if not ok]))
    return out


def scored_groups(lines: list[dict[str, Any]]) -> GroupTable:
    """(dataset, encoder, context, horizon) -> group_id -> (its violation kind, :func:`group_values`), for the
    groups with both a possible and an impossible clip."""
    keyed: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for line in lines:
        keyed[(line["dataset"], line["encoder"], line["context"], line["horizon"])][line["group_id"]].append(line)
    return {key: {g: (ls[0]["group_violation"], group_values(ls)) for g, ls in groups.items()
                  if {ln["possible"] for ln in ls} == {"true", "false"}}
            for key, groups in keyed.items()}


def summarise(lines: list[dict[str, Any]], n_bootstrap: int,
              controls: dict[str, str | None] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(scores, skipped groups): one score per dataset × encoder × context × aggregate with per-kind
    breakdowns, and per dataset × encoder × context how many groups could not be scored."""
    controls = controls or {}
    results, skipped = [], []
    for (dataset, encoder, context, horizon), groups in scored_groups(lines).items():
        values = {g: v for g, (_, v) in groups.items()}
        kinds = {g: kind for g, (kind, _) in groups.items()}
        scored = [g for g, v in values.items() if v is not None]
        skipped.append({"dataset": dataset, "encoder": encoder, "context": context, "groups": len(groups),
                        "past_violation": len(groups) - len(scored),
                        "no_onset_window": sum("onset" not in values[g] for g in scored)})
        for agg in AGGREGATES:
            have = [g for g in scored if agg in values[g]]
            if not have:
                continue
            # Kinds can pull opposite ways (a teleport is a transient, a vanished object is easy to
            # extrapolate), so each kind gets its own scores and CIs beside the pooled ones.
            by_kind = {kind: group_scores([values[g][agg] for g in have if kinds[g] == kind], n_bootstrap)
                       for kind in sorted({kinds[g] for g in have})}
            results.append({"dataset": dataset, "encoder": encoder, "family": seedless(encoder),
                            "control": controls.get(encoder), "context": context, "horizon": horizon,
                            "aggregate": agg, "chance": CHANCE, **group_scores([values[g][agg] for g in have], n_bootstrap),
                            "skipped_groups": len(groups) - len(have), "by_violation": by_kind})
    return results, skipped


# --------------------------------------------------------------------------- certification


def designs(lines: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[str, bool]]:
    """(dataset, kind) -> (design, balanced) of its groups; mixed designs are listed joined, and balanced
    only if every group is."""
    seen: dict[tuple[str, str], tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for line in lines:
        d, b = seen[(line["dataset"], line["group_violation"])]
        d.add(line["design"])
        b.add(str(line["balanced"]).lower())  # "true" in metadata; a bool if written by hand
    return {key: ("+".join(sorted(d)), b == {"true"}) for key, (d, b) in sorted(seen.items())}


def control_cells(rows: list[dict[str, Any]], kind: str, control: str,
                  aggregates: tuple[str, ...] = AGGREGATES) -> list[tuple[dict, dict]]:
    """(score, its ``kind`` breakdown) of every context × aggregate scored for one control."""
    return [(r, r["by_violation"][kind]) for r in rows if r.get("control") == control
            and r["aggregate"] in aggregates and kind in r["by_violation"]]


def _cell(r: dict[str, Any], s: dict[str, Any]) -> str:
    lo, hi = s["relative_ci95"]
    # three decimals: a CI of [0.455, 0.496] printed as [0.46, 0.50] would seem to cover 0.5
    return f"{s['relative_accuracy']:.3f} [{lo:.3f}, {hi:.3f}] at context {r['context']} {r['aggregate']}"


def _failures(control: str, cells: list[tuple[dict, dict]], fails: Callable[[dict], bool], run: bool) -> list[str]:
    """One reason for a control: not run, no score, or its first failing cell and how many more."""
    if not cells:
        return [f"control {control} not run" if not run else f"control {control}: no scored group"]
    bad = [_cell(r, s) for r, s in cells if fails(s)]
    if not bad:
        return []
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return [f"{control} relative accuracy {bad[0]}{more}"]


def _negative_fails(s: dict[str, Any]) -> bool:
    lo, hi = s["relative_ci95"]
    return abs(s["relative_accuracy"] - CHANCE) > NEGATIVE_TOLERANCE or not lo <= CHANCE <= hi


def certify(results: list[dict[str, Any]], kinds: dict[tuple[str, str], tuple[str, bool]]) -> list[dict[str, Any]]:
    """Per dataset × kind: certified when the design is balanced, every negative control's relative accuracy
    is within 0.1 of chance with a CI covering it in every context × aggregate, and the oracle reaches 0.95
    in every context × aggregate. ``kinds``: (dataset, kind) -> (design, balanced)."""
    out = []
    for (dataset, kind), (design, balanced) in kinds.items():
        if kind == "none":
            continue
        rows = [r for r in results if r["dataset"] == dataset]
        run = {r["control"] for r in rows if r.get("control")}
        reasons = [] if balanced else [f"design {design} is not balanced"]
        negative = [c for control in NEGATIVE_CONTROLS for c in control_cells(rows, kind, control)]
        for control in NEGATIVE_CONTROLS:
            reasons += _failures(control, control_cells(rows, kind, control), _negative_fails, control in run)
        reasons += _failures(POSITIVE_CONTROL, control_cells(rows, kind, POSITIVE_CONTROL, AGGREGATES),
                             lambda s: s["relative_accuracy"] < POSITIVE_MIN, POSITIVE_CONTROL in run)
        excluding = sum(not s["relative_ci95"][0] <= CHANCE <= s["relative_ci95"][1] for _, s in negative)
        out.append({"dataset": dataset, "kind": kind, "design": design, "balanced": balanced,
                    "certified": not reasons, "reasons": reasons, "negative_cells": len(negative),
                    "negative_cells_excluding_chance": excluding,
                    "expected_by_chance": CI_LEVEL_MISS * len(negative)})
    return out


def seed_summary(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and spread over seeds of the random-init controls (specs that differ only by seed=)."""
    by: dict[tuple, list[dict]] = defaultdict(list)
    for r in results:
        by[(r["dataset"], r["family"], r["context"], r["aggregate"])].append(r)
    out = []
    for (dataset, family, context, agg), rs in by.items():
        if len(rs) < 2:
            continue
        rel = np.array([r["relative_accuracy"] for r in rs])
        acc = np.array([r["pairwise_accuracy"] for r in rs])
        auc = np.array([r["auroc"] for r in rs])
        out.append({"dataset": dataset, "encoder": family, "context": context, "aggregate": agg, "seeds": len(rs),
                    "relative_accuracy_mean": float(rel.mean()), "relative_accuracy_sd": float(rel.std()),
                    "pairwise_accuracy_mean": float(acc.mean()), "pairwise_accuracy_sd": float(acc.std()),
                    "auroc_mean": float(np.nanmean(auc)), "auroc_sd": float(np.nanstd(auc))})
    return out


# Kinds that load an encoder's weights: only their spec is checked before the run; the others are built.
WEIGHTED_KINDS = ("vjepa2", "random-vjepa2", "trajectory")


def check_models(config: SurpriseConfig) -> None:
    """Refuse, before any work, a surprise model that is misspelt or has a bad option value or window: a
    run never silently scores fewer models than it was asked to."""
    for spec in config.encoders:
        kind = spec.split(",")[0].split(":")[0]
        SURPRISE_MODELS[kind]  # noqa: B018  (an unknown kind raises, with a did-you-mean)
        if kind in WEIGHTED_KINDS:
            parse_spec(spec.partition(":")[2] if kind == "trajectory" else spec)
            continue
        check_option_values(spec, dict(opt.partition("=")[::2] for opt in spec.split(",")[1:]))
        model = build_surprise_model(spec, "cpu")  # no weights: cheap
        for c in config.contexts:
            model.check_window(c, config.horizon)


def run_surprise(config: SurpriseConfig, log: Log = lambda _: None, *, replace: bool = False) -> SurpriseResults:
    """Score every model on every dataset; surprise.json, the curves and the reports are moved into
    config.out only when the run succeeds (evaluate.outputs.staged). A config.out that holds a finished
    run this one would lose is refused before any work unless ``replace``."""
    check_models(config)
    check_device(config.device)
    datasets = [open_dataset(d, skip_bad=config.skip_bad, verify_hashes=config.verify_hashes)
                for d in config.datasets]
    for d in datasets:
        missing = [t for t in REQUIRED_TARGETS if t not in {t.name for t in d.targets}]
        if missing:
            raise EvaluateError(f"dataset {d.name} has no {', '.join(missing)} targets: render it with a "
                                f"`violations:` section (see scenes/violations.yaml)")
        if not [c for c in d.clips if config.split in (None, c.split)]:
            which = f"{config.split} clips (--split {config.split})" if config.split else "clips"
            raise EvaluateError(f"dataset {d.name} has no {which} to score; nothing evaluated, nothing written")
    check_datasets(datasets, None)
    out_dir = Path(config.out)
    check_out(out_dir, SURPRISE_FILE, config.model_dump(), replace, "evaluate surprise",
              {d.name: d.content_hash for d in datasets})
    with staged(out_dir) as stage:
        return _score(config, datasets, stage, log, started=time.perf_counter())


def _score(config: SurpriseConfig, datasets: list, write_to: Path, log: Log, started: float) -> SurpriseResults:
    lines, skipped_encoders, encoders, controls = [], [], [], {}
    bad = [{"dataset": d.name, "clip": problem} for d in datasets for problem in d.skipped]  # what --skip-bad let past
    for problem in bad:
        log(f"[yellow]skipped[/yellow] {problem['dataset']}: {problem['clip']}")
    for spec in config.encoders:
        t0 = time.perf_counter()
        try:
            model = build_surprise_model(spec, config.device)
        except EncoderError as e:
            skipped_encoders.append(skip_encoder(spec, e, log))
            continue
        for c in config.contexts:
            model.check_window(c, config.horizon)
        load_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        for d in datasets:
            clips = [c for c in d.clips if config.split in (None, c.split)]
            log(f"{model.name} · {d.name}: {len(clips)} clips × contexts {config.contexts}")
            model.fit(d, clips, config.workers)
            new, bad_clips = _curves(model, config, d, clips, log)
            lines += new
            bad += [{"dataset": d.name, "clip": b} for b in bad_clips if {"dataset": d.name, "clip": b} not in bad]
        controls[model.name] = model.control
        wall = time.perf_counter() - t1
        clips_done = max(model.timings["clips"] // max(len(config.contexts), 1), 1)
        encoders.append({"encoder": model.name, "identity": model.identity(), "notes": model.notes,
                         "timings": {"load_s": load_s, "wall_s": wall, "forward_s": model.timings["forward_s"],
                                     "clips": clips_done, "ms_per_clip": 1000 * wall / clips_done}})
        del model
        gc.collect()
    if not encoders:  # before anything is written: the folder keeps what it held
        reasons = "; ".join(e.reason for e in skipped_encoders)  # each names its model
        raise EvaluateError(f"every surprise model was skipped ({reasons}); nothing was evaluated, nothing written")
    scores, skipped_groups = summarise(lines, config.n_bootstrap, controls)
    for s in skipped_groups:
        if s["past_violation"]:
            log(f"[yellow]skipped[/yellow] {s['dataset']} · {s['encoder']}: {s['past_violation']} of {s['groups']} "
                f"groups at context {s['context']} (it reaches past the violation frame)")
    certification = certify(scores, designs(lines))
    models = [e["encoder"] for e in encoders if controls[e["encoder"]] is None]  # the contenders, in -e order
    comparisons = compare_models(scored_groups(lines), models, {(c["dataset"], c["kind"]): c["certified"]
                                                                for c in certification}, AGGREGATES, config.n_bootstrap)
    results = SurpriseResults(
        format_version=1, created=datetime.now(timezone.utc).isoformat(timespec="seconds"), config=config,
        versions=versions(), datasets=[DatasetRecord(name=d.name, path=str(d.root), fingerprint=d.fingerprint,
                                                 content_sha256=d.content_hash, frames=d.frames) for d in datasets],
        encoders=encoders, certification=certification, results=scores, comparisons=comparisons,
        seed_summary=seed_summary(scores), skipped={"encoders": skipped_encoders, "clips": bad, "groups": skipped_groups},
        wall_s=time.perf_counter() - started)
    write_json(write_to / SURPRISE_FILE, results.row())
    write_text(write_to / CURVES_FILE, "".join(json.dumps(line) + "\n" for line in lines))
    from evaluate.report.surprise import write_surprise_reports

    write_surprise_reports(write_to)
    return results
