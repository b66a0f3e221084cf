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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.errors import EvaluateError
from evaluate.metrics import _ci


@dataclass
class SweepConfig:
    source: str  # a run folder (results.json + predictions.jsonl) or a dataset
    param: str
    out: str | None = None  # default: the run folder
    targets: list[str] | None = None  # default: every target with predictions
    view: str = "original"
    probe: str | None = None  # default: every probe
    bins: int = 5
    n_bootstrap: int = 300
    encoders: list[str] = field(default_factory=list)  # dataset mode only
    device: str = "auto"


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


def _curve(theta: np.ndarray, z: np.ndarray, floor: float) -> np.ndarray:
    from scipy.special import expit

    return floor + (1 - floor) * expit(theta[1] * (z - theta[0]))


def fit_psychometric(x: np.ndarray, score: np.ndarray, kind: str, floor: float) -> dict[str, float]:
    """Threshold α (in x's unit) and slope β of the psychometric curve; see the module doc."""
    from scipy.optimize import minimize

    mu, sd = float(x.mean()), float(x.std())
    if sd == 0:
        return {"threshold": float("nan"), "slope": float("nan")}
    z = (x - mu) / sd

    def loss(theta):
        p = _curve(theta, z, floor)
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
    rng = np.random.default_rng(seed)
    unique, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(unique))]
    samples = [np.concatenate([members[g] for g in rng.integers(len(unique), size=len(unique))])
               for _ in range(n_bootstrap)]
    binned = []
    for b in range(max(len(edges) - 1, 1)):
        m = which == b
        if not m.any():
            continue
        boot = [score[i][which[i] == b].mean() for i in samples if (which[i] == b).any()]
        binned.append({"lo": float(edges[b]), "hi": float(edges[min(b + 1, len(edges) - 1)]),
                       "center": float(np.median(x[m])), "n": int(m.sum()), "score": float(score[m].mean()),
                       "ci95": _ci(boot)})
    fit = fit_psychometric(x, score, kind, floor)
    lo, hi = float(x.min()), float(x.max())
    # Outside the tested range a threshold is only "below" or "above" it: clipped to the range, so
    # that a CI reaching an end of the range reads "as far as we tested".
    thresholds = np.clip([fit_psychometric(x[i], score[i], kind, floor)["threshold"] for i in samples], lo, hi)
    inside = lo <= fit["threshold"] <= hi
    halfway = (1 + floor) / 2
    at_ends = _curve(np.array([fit["threshold"], fit["slope"]]), np.array([lo, hi]), floor)
    side = "in range" if inside else ("above halfway over the whole range" if at_ends.min() >= halfway
                                      else "below halfway over the whole range")
    return {"bins": binned, **fit, "threshold_ci95": _ci(list(thresholds)), "threshold_in_range": bool(inside),
            "threshold_note": side, "range": [lo, hi], "floor": floor, "n_test": len(x)}


def _predictions(rundir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from evaluate.report import load_run

    return load_run(rundir)


def run_sweep(config: SweepConfig, log=lambda _: None) -> dict[str, Any]:
    source = Path(config.source)
    if (source / "dataset.json").is_file():
        if not config.encoders or not config.out:
            raise ValueError(f"{source} is a dataset: give --encoder and --out to run the evaluation first")
        from evaluate.runner import RunConfig, run

        log(f"running `evaluate run` on {source} ({config.view} view) into {config.out}")
        run(RunConfig(datasets=[str(source)], encoders=config.encoders, out=config.out, views=[config.view],
                      probes=[config.probe or "linear"], targets=config.targets, device=config.device,
                      n_bootstrap=min(config.n_bootstrap, 200)), log=log)
        source = Path(config.out)
    payload, preds = _predictions(source)
    out_dir = Path(config.out or source)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {d["name"]: Path(d["path"]) for d in payload["datasets"]}
    chance_by = {(r["dataset"], r["target"]): r["chance"] for r in payload["results"]}
    labels: dict[tuple[str, str], dict[str, Any]] = {}
    sel: dict[tuple, list[dict]] = defaultdict(list)
    for p in preds:
        if p["view"] != config.view or (config.probe and p["probe"] != config.probe):
            continue
        if config.targets and p["target"] not in config.targets:
            continue
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
           "config": asdict(config), "rundir": str(source), "results": results}
    stem = out_dir / f"sweep-{config.param}"
    from evaluate.runner import write_json

    write_json(stem.with_suffix(".json"), out)
    stem.with_suffix(".md").write_text(render_markdown(out))
    stem.with_suffix(".html").write_text(render_html(out))
    return out


def result_rows(out: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    from evaluate.report import _ci as fmt_ci
    from evaluate.report import _fmt

    header = ["dataset", "target", "encoder", "probe", "metric", "threshold [95% CI]", "where", "slope",
              "bins: center → score"]
    rows = []
    for r in out["results"]:
        bins = "; ".join(f"{b['center']:.3g} → {b['score']:.2f}" for b in r["bins"])
        rows.append([r["dataset"], r["target"], r["encoder"], r["probe"], r["metric"],
                     f"{_fmt(r['threshold'])} {fmt_ci(r['threshold_ci95'])}" if r["threshold_in_range"]
                     else f"– {fmt_ci(r['threshold_ci95'])}", r["threshold_note"],
                     _fmt(r["slope"]), bins])
    return header, rows


def render_markdown(out: dict[str, Any]) -> str:
    from evaluate.report import _md_table

    c = out["config"]
    return "\n".join([f"# sweep over `{c['param']}`", "",
                      f"Run {out['rundir']}, view {c['view']}, {c['bins']} quantile bins of the test set. Threshold: "
                      "where the fitted curve is halfway from chance (R² 0 for regression) to 1; CI from refits on "
                      "resampled test groups.", "", _md_table(*result_rows(out)), ""])


def sweep_plot(results: list[dict[str, Any]], title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from evaluate.report import _png

    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 2.9), squeeze=False, sharey=True)
    for ax, r in zip(axes[0], results, strict=True):
        c = np.array([b["center"] for b in r["bins"]])
        s = np.array([b["score"] for b in r["bins"]])
        err = np.abs(np.array([[b["score"] - b["ci95"][0], b["ci95"][1] - b["score"]] for b in r["bins"]]).T)
        ax.errorbar(c, s, yerr=np.nan_to_num(err), fmt="o", capsize=2)
        if np.isfinite(r["threshold"]):
            grid = np.linspace(*r["range"], 100)
            ax.plot(grid, _curve(np.array([r["threshold"], r["slope"]]), grid, r["floor"]), "k-", lw=1)
            if r["threshold_in_range"]:
                ax.axvline(r["threshold"], color="tab:red", ls="--", lw=1)
        ax.axhline(r["floor"], color="grey", ls=":", lw=1)
        ax.set_title(r["encoder"], fontsize=8)
        ax.set_xlabel(r["param"], fontsize=8)
        ax.set_ylim(min(-0.05, ax.get_ylim()[0]), 1.05)
    axes[0][0].set_ylabel(results[0]["metric"], fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def render_html(out: dict[str, Any]) -> str:
    import html

    from evaluate.report import _html_table

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>sweep</title><style>body{font-family:"
             "sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:3px 8px;font-size:13px}img{max-width:100%}</style></head><body>",
             f"<h1>sweep over {html.escape(out['config']['param'])}</h1>", _html_table(*result_rows(out))]
    panels: dict[tuple, list[dict]] = defaultdict(list)
    for r in out["results"]:
        panels[(r["dataset"], r["target"], r["probe"])].append(r)
    for (dataset, target, probe), rs in panels.items():
        parts.append(sweep_plot(rs, f"{dataset} · {target} · probe {probe}"))
    parts.append("</body></html>")
    return "\n".join(parts)
