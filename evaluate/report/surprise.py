"""surprise_report.md and a self-contained surprise_report.html from surprise.json and
surprise_curves.jsonl: score tables, per-violation accuracies, seed spreads, timings, and
surprise-over-time plots aligned on the violation frame."""

from __future__ import annotations

import html
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.io import load_surprise
from evaluate.report.page import ci_text, fmt, html_table, md_table, png, table, write_pair

REPORT_MD = "surprise_report.md"
REPORT_HTML = "surprise_report.html"


def score_table(payload: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["dataset", "encoder", "context", "aggregate", "pairwise acc [95% CI]", "AUROC [95% CI]", "groups"]
    rows = [[r["dataset"], r["encoder"], str(r["context"]), r["aggregate"],
             f"{fmt(r['pairwise_accuracy'])} {ci_text(r['pairwise_ci95'])}", f"{fmt(r['auroc'])} {ci_text(r['auroc_ci95'])}",
             str(r["n_groups"])] for r in payload["results"]]
    return header, rows


def kind_table(payload: dict[str, Any], aggregate: str = "max") -> tuple[list[str], list[list[str]]]:
    kinds = sorted({k for r in payload["results"] for k in r["by_violation"]})
    header = ["dataset", "encoder", "context", *kinds]
    rows = []
    for r in payload["results"]:
        if r["aggregate"] != aggregate:
            continue
        cells = [f"{fmt(r['by_violation'][k]['pairwise_accuracy'], 2)} (n={r['by_violation'][k]['n_groups']})"
                 if k in r["by_violation"] else "–" for k in kinds]
        rows.append([r["dataset"], r["encoder"], str(r["context"]), *cells])
    return header, rows


def seed_table(payload: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["dataset", "encoder (all seeds)", "context", "aggregate", "seeds", "pairwise acc mean ± sd",
              "AUROC mean ± sd"]
    rows = [[s["dataset"], s["encoder"], str(s["context"]), s["aggregate"], str(s["seeds"]),
             f"{s['pairwise_accuracy_mean']:.3f} ± {s['pairwise_accuracy_sd']:.3f}",
             f"{s['auroc_mean']:.3f} ± {s['auroc_sd']:.3f}"] for s in payload.get("seed_summary", [])]
    return header, rows


def timing_table(payload: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["encoder", "clips", "load s", "ms per clip (all contexts)", "forward s"]
    rows = [[e["encoder"], str(e["timings"]["clips"]), f"{e['timings']['load_s']:.1f}",
             f"{e['timings']['ms_per_clip']:.1f}", f"{e['timings']['forward_s']:.2f}"] for e in payload["encoders"]]
    return header, rows


def aligned_curves(curves: list[dict[str, Any]]) -> dict[str, tuple[np.ndarray, ...]]:
    """Per role (possible/impossible) and for the paired difference: offsets from the violation
    frame, mean and standard error over clips (groups for the difference)."""
    by_role: dict[str, dict[int, list[float]]] = {"possible": defaultdict(list), "impossible": defaultdict(list),
                                                  "difference": defaultdict(list)}
    pairs: dict[str, dict[str, dict]] = defaultdict(dict)
    for c in curves:
        role = "possible" if c["possible"] == "true" else "impossible"
        pairs[c["group_id"]][role] = c
        for f, s in zip(c["frame"], c["surprise"], strict=True):
            by_role[role][f - c["violation_frame"]].append(s)
    for g in pairs.values():
        if len(g) == 2:
            p, i = g["possible"], g["impossible"]
            for f, sp, si in zip(p["frame"], p["surprise"], i["surprise"], strict=True):
                by_role["difference"][f - p["violation_frame"]].append(si - sp)
    out = {}
    for role, d in by_role.items():
        offsets = np.array(sorted(d))
        mean = np.array([np.mean(d[o]) for o in offsets])
        sem = np.array([np.std(d[o]) / np.sqrt(len(d[o])) for o in offsets])
        out[role] = (offsets, mean, sem)
    return out


def surprise_plot(curves: list[dict[str, Any]], title: str) -> str:
    """One column per context length: mean surprise of possible and impossible clips, and their
    paired difference, against frames since the violation (0: the first frame that differs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    contexts = sorted({c["context"] for c in curves})
    fig, axes = plt.subplots(2, len(contexts), figsize=(3.3 * len(contexts), 4.6), squeeze=False, sharex=True)
    for j, context in enumerate(contexts):
        a = aligned_curves([c for c in curves if c["context"] == context])
        top, bottom = axes[0][j], axes[1][j]
        for role, color in (("possible", "tab:blue"), ("impossible", "tab:red")):
            x, m, e = a[role]
            top.plot(x, m, color=color, label=role)
            top.fill_between(x, m - e, m + e, color=color, alpha=0.2)
        x, m, e = a["difference"]
        bottom.plot(x, m, color="k")
        bottom.fill_between(x, m - e, m + e, color="k", alpha=0.2)
        bottom.axhline(0, color="grey", lw=0.8)
        for ax in (top, bottom):
            ax.axvline(0, color="tab:red", ls="--", lw=1)
        top.set_title(f"context {context} frames", fontsize=9)
        bottom.set_xlabel("predicted frame − violation frame", fontsize=8)
    axes[0][0].set_ylabel("surprise (mean ± se)", fontsize=8)
    axes[1][0].set_ylabel("impossible − possible", fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return png(fig)


def render_markdown(payload: dict[str, Any]) -> str:
    c = payload["config"]
    out = ["# surprise report", "",
           f"Created {payload['created']}; datasets: " + ", ".join(f"`{d['name']}`" for d in payload["datasets"])
           + f"; contexts {c['contexts']} frames, horizon {c['horizon']}, stride {c['stride']}, split "
           f"{c['split'] or 'all'}.", "",
           "Pairwise accuracy: fraction of twin pairs whose possible clip is the less surprising (chance 0.5). "
           "AUROC: impossible vs possible clips by surprise alone. A clip's surprise is the max or mean of its "
           "curve. CIs: bootstrap over twin pairs.", "", md_table(*score_table(payload)), "",
           "## Pairwise accuracy by violation (aggregate max)", "", md_table(*kind_table(payload)), ""]
    seeds = seed_table(payload)
    if seeds[1]:
        out += ["## Random-init controls over seeds", "", md_table(*seeds), ""]
    out += ["## Timing", "", md_table(*timing_table(payload)), ""]
    notes = [f"- `{e['encoder']}`: {n}" for e in payload["encoders"] for n in e.get("notes", [])]
    skipped = [f"- encoder `{e['encoder']}`: {e['reason']}" for e in payload["skipped"]["encoders"]]
    skipped += [f"- clip `{b['dataset']}` {b['clip']}" for b in payload["skipped"]["clips"]]
    if notes:
        out += ["## Notes", "", *notes, ""]
    out += ["## Skipped", "", *(skipped or ["nothing was skipped"]), ""]
    return "\n".join(out)


def render_html(payload: dict[str, Any], curves: list[dict[str, Any]]) -> str:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>surprise report</title><style>",
             "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}",
             "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
             "font-size:13px}th{background:#f3f3f3}img{max-width:100%}</style></head><body>",
             "<h1>surprise report</h1>",
             "<p>Pairwise accuracy: twin pairs whose possible clip is the less surprising (chance 0.5). AUROC: "
             "impossible vs possible by surprise alone. CIs: bootstrap over twin pairs.</p>",
             html_table(*score_table(payload)), "<h2>Pairwise accuracy by violation (max)</h2>",
             html_table(*kind_table(payload))]
    seeds = seed_table(payload)
    if seeds[1]:
        parts += ["<h2>Random-init controls over seeds</h2>", html_table(*seeds)]
    parts.append("<h2>Surprise over time</h2><p>Aligned on the violation frame (dashed line): the twins share "
                 "every frame before it, so the curves agree until a window predicts a frame at or after it.</p>")
    for d in payload["datasets"]:
        for e in payload["encoders"]:
            sel = [c for c in curves if c["dataset"] == d["name"] and c["encoder"] == e["encoder"]]
            if sel:
                parts.append(surprise_plot(sel, f"{d['name']} · {e['encoder']}"))
    parts += ["<h2>Timing</h2>", html_table(*timing_table(payload)), "<h2>Config</h2><pre>",
              html.escape(json.dumps(payload["config"], indent=1)), "</pre></body></html>"]
    return "\n".join(parts)


def write_surprise_reports(out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    payload, curves = load_surprise(out_dir)
    return write_pair(out_dir, REPORT_MD, render_markdown(payload), REPORT_HTML, render_html(payload, curves))


def rich_table(payload: dict[str, Any]) -> Any:
    return table("surprise: possible vs impossible twins (chance 0.5)", *score_table(payload))
