"""Reports from results.json (and predictions.jsonl): a rich terminal table, report.md, and a
self-contained report.html with embedded matplotlib plots. ``evaluate report RUNDIR`` rebuilds
both files from the run folder alone."""

from __future__ import annotations

import html
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from evaluate.io import load_run
from evaluate.report.page import ci_text, fmt, html_table, md_table, png, table, write_pair

REPORT_MD = "report.md"
REPORT_HTML = "report.html"


def _views(payload: dict[str, Any]) -> list[str]:
    return list(payload["config"]["views"])


def _by_target(payload: dict[str, Any]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in payload["results"]:
        out[(r["dataset"], r["target"], r["probe"])].append(r)
    return out


def score_rows(payload: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One row per encoder, one column per view: 'value [lo, hi]'."""
    views = _views(payload)
    cells: dict[str, dict[str, str]] = defaultdict(dict)
    for r in rows:
        cells[r["encoder"]][r["view"]] = f"{fmt(r['value'])} {ci_text(r['ci95'], r.get('test_groups'))}"
    return ["encoder", *views], [[enc, *(cells[enc].get(v, "–") for v in views)] for enc in cells]


def margin_rows(payload: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["dataset", "target", "encoder", "probe", "original", "best static", "temporal margin", "95% CI"]
    original = {(r["dataset"], r["target"], r["encoder"], r["probe"]): r for r in payload["results"]
                if r["view"] == "original"}
    rows = []
    for m in payload.get("temporal_margins", []):
        o = original.get((m["dataset"], m["target"], m["encoder"], m["probe"]))
        rows.append([m["dataset"], m["target"], m["encoder"], m["probe"], fmt(o["value"] if o else None),
                     m["best_static_view"], f"{m['value']:+.3f}", ci_text(m["ci95"], m.get("test_groups"))])
    return header, rows


def timing_rows(payload: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["encoder", "clip-views encoded", "forward ms/clip", "preprocess ms/clip", "decode wait s", "probe s",
              "cache hits", "overhead / forward"]
    rows = []
    for e in payload.get("encoders", []):
        t = e["timings"]
        n = max(t.get("clips", 0), 1)
        fwd, pre = t.get("forward_s", 0.0), t.get("preprocess_s", 0.0)
        overhead = pre + t.get("decode_wait_s", 0.0) + t.get("probe_s", 0.0)
        ratio = f"{overhead / fwd:.2f}" if fwd > 0.01 else "– (no model)"
        rows.append([e["encoder"], str(t.get("clips", 0)), f"{1000 * fwd / n:.1f}", f"{1000 * pre / n:.1f}",
                     f"{t.get('decode_wait_s', 0.0):.2f}", f"{t.get('probe_s', 0.0):.2f}",
                     str(t.get("cache_hits", 0)), ratio])
    return header, rows


def _skipped_lines(payload: dict[str, Any]) -> list[str]:
    s = payload.get("skipped", {})
    lines = [f"- encoder `{e['encoder']}` skipped: {e['reason']}" for e in s.get("encoders", [])]
    lines += [f"- clip `{c['dataset']}` {c['clip']}" for c in s.get("clips", [])]
    lines += [f"- target `{t['dataset']}/{t['target']}` skipped: {t['reason']}" for t in s.get("targets", [])]
    return lines


def render_markdown(payload: dict[str, Any]) -> str:
    out = ["# evaluate report", "",
           f"Created {payload['created']}; datasets: "
           + ", ".join(f"`{d['name']}` ({d['clips']} clips, sha {d['content_sha256']})" for d in payload["datasets"])
           + "; encoders: " + ", ".join(f"`{e['encoder']}`" for e in payload["encoders"]) + ".", ""]
    if payload.get("warnings"):
        out += ["## Warnings", "", *(f"- {w}" for w in payload["warnings"]), ""]
    out += ["## Temporal margin", "",
           "Score on the original clips minus the best static view (`single_frame`, `frame_mean`) for the same "
           "encoder and target: how much of what the encoder knows comes from time. CIs: paired bootstrap "
           "over test groups.", "", md_table(*margin_rows(payload)), ""]
    for (dataset, target, probe), rows in _by_target(payload).items():
        r0 = rows[0]
        unit = f", MAE in {r0['unit']}" if r0.get("unit") else ""
        out += [f"## {dataset} · {target} ({r0['metric']}, probe {probe})", "",
                f"Chance: {fmt(r0['chance'])}; n_train {r0['n_train']}, n_test {r0['n_test']}{unit}. "
                "Cells: value [95% CI].", "", md_table(*score_rows(payload, rows)), ""]
    out += ["## Timing", "", md_table(*timing_rows(payload)), ""]
    notes = [f"- `{e['encoder']}`: {n}" for e in payload["encoders"] for n in e.get("notes", [])]
    if notes:
        out += ["## Notes", "", *notes, ""]
    skipped = _skipped_lines(payload)
    out += ["## Skipped", "", *(skipped or ["nothing was skipped"]), ""]
    v = payload["versions"]
    out += ["## Versions", "", ", ".join(f"{k} {val}" for k, val in v.items()), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- html


def _bar_plot(payload: dict[str, Any], rows: list[dict[str, Any]], title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    views = _views(payload)
    encoders = list(dict.fromkeys(r["encoder"] for r in rows))
    width = 0.8 / max(len(views), 1)
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(encoders), 3.2))
    for i, view in enumerate(views):
        vals, lo, hi = [], [], []
        for enc in encoders:
            r = next((r for r in rows if r["encoder"] == enc and r["view"] == view), None)
            v = r["value"] if r else np.nan
            vals.append(v)
            lo.append(v - r["ci95"][0] if r else 0)
            hi.append(r["ci95"][1] - v if r else 0)
        x = np.arange(len(encoders)) + (i - (len(views) - 1) / 2) * width
        err = np.nan_to_num(np.abs([lo, hi]))
        ax.bar(x, vals, width, yerr=err, capsize=2, label=view)
    ax.axhline(rows[0]["chance"], color="k", ls="--", lw=1, label="chance")
    ax.set_xticks(np.arange(len(encoders)), encoders, rotation=15, fontsize=8)
    ax.set_ylabel(rows[0]["metric"])
    if rows[0]["metric"] == "r2":
        ax.set_ylim(max(-0.5, ax.get_ylim()[0]), 1.05)
    else:
        ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    return png(fig)


def _scatter_plot(preds: list[dict[str, Any]], title: str, unit: str | None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    encoders = list(dict.fromkeys(p["encoder"] for p in preds))
    fig, axes = plt.subplots(1, len(encoders), figsize=(2.8 * len(encoders), 2.8), squeeze=False)
    for ax, enc in zip(axes[0], encoders, strict=True):
        pts = [(p["y_true"], p["y_pred"]) for p in preds if p["encoder"] == enc]
        yt, yp = zip(*pts, strict=True)
        ax.scatter(yt, yp, s=10)
        lo, hi = min(yt), max(yt)
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_title(enc, fontsize=8)
        ax.set_xlabel(f"true{f' ({unit})' if unit else ''}", fontsize=8)
        ax.set_ylabel("predicted", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return png(fig)


def render_html(payload: dict[str, Any], predictions: list[dict[str, Any]]) -> str:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>evaluate report</title><style>",
             "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}",
             "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
             "font-size:13px}th{background:#f3f3f3}img{max-width:100%}</style></head><body>",
             "<h1>evaluate report</h1>",
             f"<p>Created {html.escape(payload['created'])}. Datasets: "
             + ", ".join(html.escape(f"{d['name']} ({d['clips']} clips)") for d in payload["datasets"]) + ".</p>",
             *(["<h2>Warnings</h2><ul>", *(f"<li>{html.escape(w)}</li>" for w in payload["warnings"]), "</ul>"]
               if payload.get("warnings") else []),
             "<h2>Temporal margin</h2><p>Original minus the best static view (single_frame, frame_mean), same "
             "encoder and target; 95% CI from a paired bootstrap over test groups.</p>",
             html_table(*margin_rows(payload))]
    for (dataset, target, probe), rows in _by_target(payload).items():
        r0 = rows[0]
        parts.append(f"<h2>{html.escape(f'{dataset} · {target}')} <small>({html.escape(r0['metric'])}, "
                     f"probe {html.escape(probe)}, chance {fmt(r0['chance'])})</small></h2>")
        parts.append(_bar_plot(payload, rows, f"{dataset} · {target}"))
        parts.append(html_table(*score_rows(payload, rows)))
        if r0["kind"] == "regression":
            preds = [p for p in predictions if p["dataset"] == dataset and p["target"] == target
                     and p["probe"] == probe and p["view"] == "original"]
            if preds:
                parts.append(_scatter_plot(preds, f"{target}: predicted vs true (original view)", r0.get("unit")))
    parts += ["<h2>Timing</h2>", html_table(*timing_rows(payload))]
    notes = [f"{e['encoder']}: {n}" for e in payload["encoders"] for n in e.get("notes", [])]
    if notes:
        parts += ["<h2>Notes</h2><ul>", *(f"<li>{html.escape(n)}</li>" for n in notes), "</ul>"]
    skipped = [s.removeprefix("- ") for s in _skipped_lines(payload)] or ["nothing was skipped"]
    parts += ["<h2>Skipped</h2><ul>", *(f"<li>{html.escape(s)}</li>" for s in skipped), "</ul>"]
    parts += ["<h2>Versions</h2><p>", html.escape(", ".join(f"{k} {v}" for k, v in payload["versions"].items())),
              "</p><h2>Config</h2><pre>", html.escape(json.dumps(payload["config"], indent=1)), "</pre></body></html>"]
    return "\n".join(parts)


def write_reports(rundir: str | Path) -> tuple[Path, Path]:
    """(Re)write report.md and report.html from the run folder's results.json and predictions.jsonl."""
    rundir = Path(rundir)
    payload, predictions = load_run(rundir)
    return write_pair(rundir, REPORT_MD, render_markdown(payload), REPORT_HTML, render_html(payload, predictions))


def rich_tables(payload: dict[str, Any]) -> list[Any]:
    """Terminal summary: the temporal margin table, then one table per target."""
    tables = [table("temporal margin (original − best static view)", *margin_rows(payload))]
    for (dataset, target, probe), rs in _by_target(payload).items():
        title = f"{dataset} · {target} · {rs[0]['metric']} (chance {fmt(rs[0]['chance'])}, probe {probe})"
        tables.append(table(title, *score_rows(payload, rs)))
    return tables
