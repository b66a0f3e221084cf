"""``evaluate sweep``: a score as a function of one scene parameter, on the test set, with a
psychometric fit and a threshold with a bootstrap CI, per encoder.

The parameter is read from each test clip's json: ``params`` (dotted paths reach nested values,
e.g. ``violation.distance``), else ``targets`` (e.g. ``impact_speed``), else the top level.
Predictions come from a run folder's predictions.jsonl; given a dataset instead, ``evaluate run``
is run first (``--encoder``, original view) into ``--out``.

Per clip score: 1 if a class was predicted right, else 0; for regression targets
1 − (error² / variance of the target over the whole test set), whose mean over a bin is that
bin's R² measured against the whole test set's spread (a bin's own R² would collapse in a
narrow bin of the parameter).

Fit: classes, p(x) = chance + (1 − chance) · σ(β(x − α)) by maximum likelihood (chance = 1/K);
regression, σ(β(x − α)) by least squares. The threshold α is where the curve is halfway from its
floor to 1 (0.75 for two classes); β's sign says whether the task gets easier with x. 95% CI:
refits on test groups resampled with replacement. A threshold outside the tested range is
reported as such (the score never crossed halfway, or always had).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.config import SweepConfig
from evaluate.errors import EvaluateError
from evaluate.io import load_run, write_json
from evaluate.metrics import ci95, group_resamples, psychometric
from evaluate.outputs import check_out, staged
from evaluate.report.sweep import write_sweep_reports


def lookup(labels: dict[str, Any], param: str) -> float:
    """A scalar from a clip json: ``params`` (dotted paths), then ``targets``, then the top level."""
    for root in (labels.get("params", {}), labels.get("targets", {}), labels):
        value: Any = root
        for part in param.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, bool | int | float) and value is not None:
            return float(value)
    raise EvaluateError(f"clip {labels.get('clip_id')}: no numeric {param!r} in its params or targets; params: "
                        f"{', '.join(sorted(labels.get('params', {})))}; targets: "
                        f"{', '.join(sorted(labels.get('targets', {})))}")


def fit_psychometric(x: np.ndarray, score: np.ndarray, kind: str, floor: float) -> dict[str, float]:
    """Threshold α (in x's unit) and slope β of the psychometric curve; see the module doc."""
    from scipy.optimize import minimize

    mu, sd = float(x.mean()), float(x.std())
    if sd == 0:
        return {"threshold": float("nan"), "slope": float("nan")}
    z = (x - mu) / sd

    def loss(theta):
        p = psychometric(theta, z, floor)
        if kind == "class":
            p = np.clip(p, 1e-6, 1 - 1e-6)
            return -np.sum(score * np.log(p) + (1 - score) * np.log(1 - p))
        return np.sum((score - p) ** 2)

    best = min((minimize(loss, np.array([a, b]), method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6})
                for a in (-1.0, 0.0, 1.0) for b in (-3.0, 3.0)), key=lambda r: r.fun)
    a, b = best.x
    a = float(np.clip(a, -20, 20))  # a curve flat over the data puts α anywhere: keep it finite
    return {"threshold": a * sd + mu, "slope": float(b) / sd}


def _clip_scores(kind: str, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    if kind == "class":
        return (y_true == y_pred).astype(float)
    y_true, y_pred = y_true.astype(float), y_pred.astype(float)
    var = float(np.var(y_true)) or 1.0
    return 1 - (y_true - y_pred) ** 2 / var


def sweep_one(kind: str, x: np.ndarray, score: np.ndarray, groups: np.ndarray, floor: float, bins: int,
              n_bootstrap: int, seed: int = 0) -> dict[str, Any]:
    """Binned scores (quantile bins) with group-bootstrap CIs, and the fitted threshold with its CI."""
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2) if len(edges) > 1 else 0 * x
    samples = group_resamples(groups, n_bootstrap, seed)
    binned = []
    for b in range(max(len(edges) - 1, 1)):
        m = which == b
        if not m.any():
            continue
        boot = [score[i][which[i] == b].mean() for i in samples if (which[i] == b).any()]
        binned.append({"lo": float(edges[b]), "hi": float(edges[min(b + 1, len(edges) - 1)]),
                       "center": float(np.median(x[m])), "n": int(m.sum()), "score": float(score[m].mean()),
                       "ci95": ci95(boot)})
    fit = fit_psychometric(x, score, kind, floor)
    lo, hi = float(x.min()), float(x.max())
    # Outside the tested range a threshold is only "below" or "above" it: clipped to the range, so
    # that a CI reaching an end of the range reads "as far as we tested".
    thresholds = np.clip([fit_psychometric(x[i], score[i], kind, floor)["threshold"] for i in samples], lo, hi)
    inside = lo <= fit["threshold"] <= hi
    halfway = (1 + floor) / 2
    at_ends = psychometric(np.array([fit["threshold"], fit["slope"]]), np.array([lo, hi]), floor)
    side = "in range" if inside else ("above halfway over the whole range" if at_ends.min() >= halfway
                                      else "below halfway over the whole range")
    threshold_ci, why = ci95(list(thresholds)), None
    if not inside:  # "below" or "above" the tested range is all the data say: no interval
        threshold_ci, why = [float("nan")] * 2, "no CI: the threshold lies outside the tested range"
    elif not threshold_ci[0] <= fit["threshold"] <= threshold_ci[1]:  # the refits disagree with the fit
        threshold_ci, why = [float("nan")] * 2, ("no CI: the bootstrap refits do not bracket the fitted threshold "
                                                 "(the fit is unstable on these data)")
    return {"bins": binned, **fit, "threshold_ci95": threshold_ci, "threshold_ci_note": why,
            "threshold_in_range": bool(inside),
            "threshold_note": side, "range": [lo, hi], "floor": floor, "n_test": len(x)}


def run_sweep(config: SweepConfig, log=lambda _: None, *, replace: bool = False) -> dict[str, Any]:
    """Sweep a run folder's predictions (or, with a dataset, run first); the sweep's files are moved into
    place only when it succeeds, and a finished sweep of another config is refused unless ``replace``."""
    if config.frame_steps:
        return run_frame_step_sweep(config, log, replace=replace)
    source = Path(config.source)
    is_dataset = (source / "dataset.json").is_file()
    if not is_dataset and config.encoders:
        raise ValueError(f"--encoder {', '.join(config.encoders)}: applies only when SOURCE is a dataset; {source} "
                         f"is a run folder, whose own encoders are swept")
    check_out(Path(config.out or source), f"sweep-{config.param}.json", config.model_dump(), replace,
              "evaluate sweep")
    if is_dataset:
        if not config.encoders or not config.out:
            raise ValueError(f"{source} is a dataset: give --encoder and --out to run the evaluation first")
        from evaluate.config import RunConfig
        from evaluate.tasks.probe import run

        log(f"running `evaluate run` on {source} ({config.view} view) into {config.out}")
        run(RunConfig(datasets=[str(source)], encoders=config.encoders, out=config.out, views=[config.view],
                      probes=[config.probe or "linear"], targets=config.targets, device=config.device,
                      n_bootstrap=min(config.n_bootstrap, 200)), log=log, replace=replace)
        source = Path(config.out)

    def wanted(p: dict[str, Any]) -> bool:
        return (p["fit_view"] == p["test_view"] == config.view and (not config.probe or p["probe"] == config.probe)
                and (not config.targets or p["target"] in config.targets))

    payload, preds = load_run(source, wanted)
    out_dir = Path(config.out or source)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {d["name"]: Path(d["path"]) for d in payload["datasets"]}
    chance_by = {(r["dataset"], r["target"]): r["chance"] for r in payload["results"]}
    labels: dict[tuple[str, str], dict[str, Any]] = {}
    sel: dict[tuple, list[dict]] = defaultdict(list)
    for p in preds:
        sel[(p["dataset"], p["target"], p["kind"], p["probe"], p["encoder"])].append(p)
    if not sel:
        raise EvaluateError(f"{source}: no predictions for view {config.view!r}"
                            f"{' and probe ' + repr(config.probe) if config.probe else ''}"
                            f"{' and targets ' + ', '.join(config.targets) if config.targets else ''}")
    results = []
    for (dataset, target, kind, probe, encoder), rows in sel.items():
        x = []
        for p in rows:
            key = (dataset, p["clip_id"])
            if key not in labels:
                path = paths[dataset] / "test" / f"{p['clip_id']}.json"
                if not path.is_file():
                    raise FileNotFoundError(f"{path}: the dataset the run read is gone or moved")
                labels[key] = json.loads(path.read_text())
            x.append(lookup(labels[key], config.param))
        x = np.asarray(x)
        y_true = np.array([p["y_true"] for p in rows], dtype=object)
        y_pred = np.array([p["y_pred"] for p in rows], dtype=object)
        score = _clip_scores(kind, y_true, y_pred)
        floor = chance_by.get((dataset, target), 0.5) if kind == "class" else 0.0
        groups = np.array([p.get("group_id", p["clip_id"]) for p in rows])
        res = sweep_one(kind, x, score, groups, floor, config.bins, config.n_bootstrap)
        results.append({"dataset": dataset, "target": target, "kind": kind, "probe": probe, "encoder": encoder,
                        "view": config.view, "param": config.param,
                        "metric": "accuracy" if kind == "class" else "r2_vs_test_variance", **res})
        log(f"{dataset} · {target} · {encoder}: threshold {res['threshold']:.3g} "
            f"{'(in range)' if res['threshold_in_range'] else '(outside the tested range)'}")
    out = {"format_version": 1, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "config": config.model_dump(), "rundir": str(source), "results": results}
    with staged(out_dir) as stage:
        stem = stage / f"sweep-{config.param}"
        write_json(stem.with_suffix(".json"), out)
        write_sweep_reports(stem, out)
    return out


# ---------------------------------------------------------------- the timescale: a frame-step sweep


def step_encoders(encoders: list[str], frames: int, steps: list[int]) -> dict[str, tuple[str, int]]:
    """``{encoder name run: (encoder as given, step)}``: each encoder reading ``frames`` frames at
    every ``step``. Only encoders that sample frames themselves (``frames``/``step`` options) qualify."""
    from evaluate.encoders.base import ENCODERS, parse_spec

    out = {}
    for text in encoders:
        spec = parse_spec(text)
        if "step" not in ENCODERS[spec.kind].option_help:
            takes = ", ".join(k for k, cls in ENCODERS.items() if "step" in cls.option_help)
            raise EvaluateError(f"--encoder {text!r}: {spec.kind} reads every frame of a clip, so a frame-step "
                                f"sweep cannot change its timescale; encoders with frames/step: {takes}")
        if {"frames", "step"} & set(spec.options):
            raise EvaluateError(f"--encoder {text!r}: the sweep sets frames and step itself; leave them out")
        for step in steps:
            out[f"{text},frames={frames},step={step}"] = (text, step)
    return out


def run_frame_step_sweep(config: SweepConfig, log=lambda _: None, *, replace: bool = False) -> dict[str, Any]:
    """Score and temporal margins against the frame step: each encoder reads ``config.frames`` frames
    taken every S-th frame, for each S, so the clip span it sees grows with S (V-JEPA 2 is pretrained
    on 16 frames at about 4 fps: step 6 of a 24 fps clip). One ``evaluate run`` with every
    (encoder, step) as its own encoder, under the original view and both controls."""
    from evaluate.config import RunConfig
    from evaluate.tasks.probe import run
    from simgen.dataset.format import read_info

    source = Path(config.source)
    if not (source / "dataset.json").is_file():
        raise EvaluateError(f"{source}: --frame-steps needs a dataset (the clips are re-encoded at each step)")
    if not config.encoders or not config.out:
        raise EvaluateError("--frame-steps: give --encoder and --out")
    named = step_encoders(config.encoders, config.frames, config.frame_steps)
    check_out(Path(config.out), "sweep-frame_step.json", config.model_dump(), replace, "evaluate sweep")
    render = read_info(source).spec["render"]
    fps, clip_frames = int(render["fps"]), int(render["frames"])
    log(f"running `evaluate run` on {source} with {len(named)} (encoder, step) pairs into {config.out}")
    results = run(RunConfig(datasets=[str(source)], encoders=list(named), out=config.out,
                            views=["original", "single_frame", "shuffled"], probes=[config.probe or "linear"],
                            targets=config.targets, device=config.device, n_bootstrap=min(config.n_bootstrap, 200)),
                  log=log, replace=replace)
    margins = {(m.encoder, m.target, m.probe, m.margin_type): m for m in results.temporal_margins}
    rows = []
    for score in results.results:
        if score.encoder not in named or score.view != "original" or score.fit_view != "original" or score.subset:
            continue
        encoder, step = named[score.encoder]
        shown = min(config.frames, -(-clip_frames // step))  # frames at step S that the clip holds
        row = {"dataset": score.dataset, "target": score.target, "kind": score.kind, "encoder": encoder,
               "probe": score.probe, "step": step, "frames": shown, "span_s": (shown - 1) * step / fps,
               "metric": score.metric, "value": score.value, "ci95": score.ci95, "chance": score.chance}
        for kind in ("static", "order"):
            m = margins.get((score.encoder, score.target, score.probe, kind))
            if m is not None:
                row[f"{kind}_margin"], row[f"{kind}_margin_ci95"] = m.value, m.ci95
        rows.append(row)
    rows.sort(key=lambda r: (r["dataset"], r["target"], r["encoder"], r["probe"], r["step"]))
    out = {"format_version": 1, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "config": config.model_dump(), "rundir": config.out, "fps": fps, "clip_frames": clip_frames,
           "results": rows}
    from evaluate.report.sweep import write_frame_step_reports

    with staged(Path(config.out)) as stage:
        stem = stage / "sweep-frame_step"
        write_json(stem.with_suffix(".json"), out)
        write_frame_step_reports(stem, out)
    return out
