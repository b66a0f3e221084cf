"""``evaluate surprise``: surprise curves of every clip of violation datasets, for every model and
context length, then pairwise accuracy and AUROC with group-bootstrap CIs.

- A clip's surprise is the max (headline) or the mean of its curve; both are reported.
- Pairwise accuracy: the fraction of possible/impossible groups whose possible twin is the less
  surprising one (ties count one half); chance 0.5. This is IntPhys's "relative" score.
- AUROC: impossible clips against possible ones, over all clips, by surprise alone ("absolute").
- 95% CIs resample groups (twin pairs) with replacement.
- Surprise needs no training, so every split is used unless ``--split`` says otherwise.

Outputs under OUT: ``surprise.json`` (config, versions, results, timings), ``surprise_curves.jsonl``
(one line per clip × model × context: the curve and the clip's labels), ``surprise_report.md`` and
a self-contained ``surprise_report.html`` with surprise-over-time plots aligned on the violation frame.
"""

from __future__ import annotations

import gc
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.config import SurpriseConfig
from evaluate.data.dataset import open_dataset
from evaluate.data.decode import iter_frames
from evaluate.errors import BadClipError, EncoderError, EvaluateError
from evaluate.io import CURVES_FILE, SURPRISE_FILE, versions, write_json, write_text
from evaluate.metrics import pair_scores
from evaluate.predictors import SurpriseModel, build_surprise_model, window_starts
from evaluate.results import DatasetRecord, SurpriseResults
from evaluate.tasks.probe import skip_encoder

AGGREGATES = ("max", "mean")
REQUIRED_TARGETS = ("possible", "violation", "violation_frame")

Log = Callable[[str], None]


def seedless(name: str) -> str:
    """The spec without its ``seed=`` option: random-init runs with several seeds share it."""
    return re.sub(r",seed=\d+", "", name)


# --------------------------------------------------------------------------- run


def _curves(model: SurpriseModel, config: SurpriseConfig, dataset, clips, log: Log) -> tuple[list[dict], list[str]]:
    lines, bad = [], []
    for batch in iter_frames(dataset, clips, batch_size=4, workers=config.workers):
        for clip, frames in batch:
            if isinstance(frames, BadClipError):
                if not config.skip_bad:
                    raise frames
                bad.append(f"{clip.split}/{clip.clip_id}")
                log(f"[yellow]skipped[/yellow] {dataset.name} {clip.split}/{clip.clip_id}: cannot be decoded")
                continue
            for context in config.contexts:
                starts = window_starts(len(frames), context, config.horizon, config.stride)
                if not starts:
                    raise ValueError(f"context {context} + horizon {config.horizon} frames do not fit in "
                                     f"{clip.clip_id} ({len(frames)} frames)")
                values = model.surprise(frames, context, config.horizon, starts)
                lines.append({"dataset": dataset.name, "clip_id": clip.clip_id, "group_id": clip.group_id,
                              "split": clip.split, "encoder": model.name, "context": context,
                              "horizon": config.horizon, "possible": clip.targets["possible"],
                              "violation": clip.targets["violation"],
                              "violation_frame": int(clip.targets["violation_frame"]),
                              "frame": [s + context for s in starts], "surprise": [float(v) for v in values]})
    return lines, bad


def summarise(lines: list[dict[str, Any]], n_bootstrap: int) -> list[dict[str, Any]]:
    """One result per dataset × encoder × context × aggregate, with per-violation-kind accuracies."""
    keyed: dict[tuple, dict[str, dict[str, dict]]] = defaultdict(lambda: defaultdict(dict))
    for line in lines:
        role = "possible" if line["possible"] == "true" else "impossible"
        keyed[(line["dataset"], line["encoder"], line["context"], line["horizon"])][line["group_id"]][role] = line
    results = []
    for (dataset, encoder, context, horizon), groups in keyed.items():
        pairs = [g for g in groups.values() if len(g) == 2]
        if not pairs:
            continue
        kinds = np.array([g["impossible"]["violation"] for g in pairs])
        for agg in AGGREGATES:
            fn = np.max if agg == "max" else np.mean
            pos = np.array([fn(g["possible"]["surprise"]) for g in pairs])
            imp = np.array([fn(g["impossible"]["surprise"]) for g in pairs])
            # Kinds can pull opposite ways (a teleport is a transient, a vanished object is easy to
            # extrapolate), so each kind gets its own scores and CIs beside the pooled ones.
            by_kind = {kind: pair_scores(pos[kinds == kind], imp[kinds == kind], n_bootstrap)
                       for kind in sorted(set(kinds))}
            results.append({"dataset": dataset, "encoder": encoder, "family": seedless(encoder), "context": context,
                            "horizon": horizon, "aggregate": agg, "chance": 0.5,
                            **pair_scores(pos, imp, n_bootstrap), "by_violation": by_kind})
    return results


def seed_summary(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and spread over seeds of the random-init controls (specs that differ only by seed=)."""
    by: dict[tuple, list[dict]] = defaultdict(list)
    for r in results:
        by[(r["dataset"], r["family"], r["context"], r["aggregate"])].append(r)
    out = []
    for (dataset, family, context, agg), rs in by.items():
        if len(rs) < 2:
            continue
        acc = np.array([r["pairwise_accuracy"] for r in rs])
        auc = np.array([r["auroc"] for r in rs])
        out.append({"dataset": dataset, "encoder": family, "context": context, "aggregate": agg, "seeds": len(rs),
                    "pairwise_accuracy_mean": float(acc.mean()), "pairwise_accuracy_sd": float(acc.std()),
                    "auroc_mean": float(np.nanmean(auc)), "auroc_sd": float(np.nanstd(auc))})
    return out


def run_surprise(config: SurpriseConfig, log: Log = lambda _: None) -> SurpriseResults:
    started = time.perf_counter()
    if not config.contexts:
        raise ValueError("give at least one --context")
    datasets = [open_dataset(d, skip_bad=config.skip_bad) for d in config.datasets]
    for d in datasets:
        missing = [t for t in REQUIRED_TARGETS if t not in {t.name for t in d.targets}]
        if missing:
            raise EvaluateError(f"dataset {d.name} has no {', '.join(missing)} targets: render it with a "
                                f"`violations:` section (see scenes/violations.yaml)")
    out_dir = Path(config.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines, skipped_encoders, encoders = [], [], []
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
            new, bad_clips = _curves(model, config, d, clips, log)
            lines += new
            bad += [{"dataset": d.name, "clip": b} for b in bad_clips if {"dataset": d.name, "clip": b} not in bad]
        wall = time.perf_counter() - t1
        clips_done = max(model.timings["clips"] // max(len(config.contexts), 1), 1)
        encoders.append({"encoder": model.name, "identity": model.identity(), "notes": model.notes,
                         "timings": {"load_s": load_s, "wall_s": wall, "forward_s": model.timings["forward_s"],
                                     "clips": clips_done, "ms_per_clip": 1000 * wall / clips_done}})
        del model
        gc.collect()
    scores = summarise(lines, config.n_bootstrap)
    results = SurpriseResults(
        format_version=1, created=datetime.now(timezone.utc).isoformat(timespec="seconds"), config=config,
        versions=versions(), datasets=[DatasetRecord(name=d.name, path=str(d.root), fingerprint=d.fingerprint,
                                                 content_sha256=d.content_hash, frames=d.frames) for d in datasets],
        encoders=encoders, results=scores, seed_summary=seed_summary(scores),
        skipped={"encoders": skipped_encoders, "clips": bad}, wall_s=time.perf_counter() - started)
    write_json(out_dir / SURPRISE_FILE, results.row())
    write_text(out_dir / CURVES_FILE, "".join(json.dumps(line) + "\n" for line in lines))
    from evaluate.report.surprise import write_surprise_reports

    write_surprise_reports(out_dir)
    if not encoders:
        raise EvaluateError("every surprise model was skipped; nothing was evaluated")
    return results
