"""Reports from results.json (and predictions.jsonl): rich terminal tables, report.md, and a
self-contained report.html with embedded matplotlib plots. Both lead with the temporal margins at
a glance (an encoder × target heatmap per dataset and one line per dataset); the full tables
follow. ``evaluate report RUNDIR`` rebuilds both files from the run folder alone."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.io import load_run
from evaluate.metrics import MIN_TEST_GROUPS
from evaluate.report import page
from evaluate.report.page import Figure, Section, Table, ci_text, fmt, md_table, png

__all__ = ["load_run", "render_html", "render_markdown", "rich_tables", "write_reports"]

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
# Bars of an R² below this are drawn down to it, their true value written at the axis' bottom.
R2_FLOOR = -2.0


def _views(payload: dict[str, Any]) -> list[str]:
    return list(payload["config"]["views"])


def _by_target(payload: dict[str, Any]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in payload["results"]:
        out[(r["dataset"], r["target"], r["probe"])].append(r)
    return out


def score_rows(payload: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One row per encoder, one column per view: 'value [lo, hi]'; regression adds the original
    view's mean absolute error, in the target's unit."""
    views = _views(payload)
    cells: dict[str, dict[str, str]] = defaultdict(dict)
    mae: dict[str, str] = {}
    for r in rows:
        cells[r["encoder"]][r["view"]] = f"{fmt(r['value'])} {ci_text(r['ci95'], r.get('test_groups'))}"
        if r["view"] == "original" and r.get("mae") is not None:
            mae[r["encoder"]] = fmt(r["mae"])
    header = ["encoder", *views]
    if mae:
        unit = rows[0].get("unit")
        header.append(f"MAE, original ({unit})" if unit else "MAE, original")
    return header, [[enc, *(cells[enc].get(v, "–") for v in views), *([mae.get(enc, "–")] if mae else [])]
                    for enc in cells]


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


# --------------------------------------------------------------------------- at a glance


@dataclass
class MarginGrid:
    """One dataset's temporal margins: rows (encoder, or 'encoder · probe' when a run has several
    probes) × target columns; NaN where there is none."""

    dataset: str
    rows: list[str]
    targets: list[str]
    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    marked: np.ndarray  # the 95% CI excludes 0
    few: np.ndarray  # too few test groups to trust the CI

    def cell_text(self, i: int, j: int) -> str:
        v = self.value[i, j]
        if v != v:
            return "–"
        tiny = self.marked[i, j] and abs(v) < 0.005  # a CI off 0 on a margin that rounds to 0.00
        return f"{v:+.{3 if tiny else 2}f}" + ("★" if self.marked[i, j] else "") + ("†" if self.few[i, j] else "")


def margin_grids(payload: dict[str, Any]) -> list[MarginGrid]:
    margins = payload.get("temporal_margins", [])
    several = len({m["probe"] for m in margins}) > 1
    order = {e["encoder"]: i for i, e in enumerate(payload.get("encoders", []))}
    grids = []
    for dataset in dict.fromkeys(m["dataset"] for m in margins):
        ms = [m for m in margins if m["dataset"] == dataset]
        label = {(m["encoder"], m["probe"]): f"{m['encoder']} · {m['probe']}" if several else m["encoder"]
                 for m in ms}
        keys = sorted(label, key=lambda k: (order.get(k[0], len(order)), k))
        targets = list(dict.fromkeys(m["target"] for m in ms))
        shape = (len(keys), len(targets))
        value, lo, hi = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
        marked, few = np.zeros(shape, bool), np.zeros(shape, bool)
        for m in ms:
            i, j = keys.index((m["encoder"], m["probe"])), targets.index(m["target"])
            value[i, j], (lo[i, j], hi[i, j]) = m["value"], m["ci95"]
            marked[i, j] = page.excludes(m["ci95"], 0.0)
            few[i, j] = m.get("test_groups") is not None and m["test_groups"] < MIN_TEST_GROUPS
        grids.append(MarginGrid(dataset, [label[k] for k in keys], targets, value, lo, hi, marked, few))
    return grids


def summary_line(g: MarginGrid) -> str:
    """'falling_rising: best margin +0.42 [0.30, 0.51] (pixels, direction); 3 of 6 targets have a
    margin whose 95% CI excludes 0 (2 above, 1 below)'."""
    if np.isnan(g.value).all():
        return f"{g.dataset}: no temporal margin"
    i, j = np.unravel_index(np.nanargmax(g.value), g.value.shape)
    above = int((g.marked & (g.lo > 0)).any(axis=0).sum())
    below = int((g.marked & (g.hi < 0)).any(axis=0).sum())
    n = int(g.marked.any(axis=0).sum())
    split = f" ({above} above, {below} below)" if above and below else (" (below 0)" if below else "")
    return (f"{g.dataset}: best margin {g.value[i, j]:+.2f} [{fmt(g.lo[i, j], 2)}, {fmt(g.hi[i, j], 2)}]"
            f"{'†' if g.few[i, j] else ''} ({g.rows[i]}, {g.targets[j]}); {n} of {len(g.targets)} targets "
            f"have a margin whose 95% CI excludes 0{split}")


def margin_heatmap(grids: list[MarginGrid]) -> Any:
    """Encoder × target heatmap of temporal margins, one panel per dataset, colours diverging at 0
    (shared scale, clipped at ±1: the number in the cell is the true value); ★ and a black border
    where the CI excludes 0."""
    plt = page.pyplot()
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    ncols = max(len(g.targets) for g in grids)
    finite = np.concatenate([g.value[np.isfinite(g.value)] for g in grids])
    vmax = float(np.clip(np.abs(finite).max() if finite.size else 1.0, 0.1, 1.0))
    norm, cmap = Normalize(-vmax, vmax), plt.get_cmap("RdBu")
    fig = plt.figure(figsize=(2.4 + 1.05 * ncols, 0.55 + sum(0.5 + 0.42 * len(g.rows) for g in grids)),
                     layout="constrained")
    gs = fig.add_gridspec(len(grids), ncols, height_ratios=[0.9 + len(g.rows) for g in grids])
    axes = []
    for k, g in enumerate(grids):
        ax = fig.add_subplot(gs[k, : len(g.targets)])
        axes.append(ax)
        im = ax.imshow(np.ma.masked_invalid(g.value), cmap=cmap, norm=norm, aspect="auto")
        ax.set_facecolor("#e6e6e6")
        ax.set_xticks(range(len(g.targets)), g.targets, rotation=20, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(len(g.rows)), g.rows)
        ax.set_title(g.dataset, loc="left", fontweight="bold")
        ax.tick_params(length=0)
        for i in range(len(g.rows)):
            for j in range(len(g.targets)):
                v = g.value[i, j]
                dark = v == v and abs(v) > 0.55 * vmax
                ax.text(j, i, g.cell_text(i, j), ha="center", va="center", fontsize=10,
                        color="white" if dark else "black", fontweight="bold" if g.marked[i, j] else "normal")
                if g.marked[i, j]:
                    ax.add_patch(Rectangle((j - 0.47, i - 0.45), 0.94, 0.9, fill=False, ec="black", lw=2))
    bar = fig.colorbar(im, ax=axes, shrink=min(1.0, 3.0 / len(grids) + 0.2), aspect=25, pad=0.02)
    bar.set_label("temporal margin (original − best static)")
    return fig


# --------------------------------------------------------------------------- timing


def _has_model(e: dict[str, Any]) -> bool:
    """Weight-free encoders (pixels, motion) have no checkpoint and no forward pass to speak of."""
    return "checkpoint" in e.get("identity", {"checkpoint": None})


def timing_rows(payload: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Embedding wall time and clips/s for every encoder; forward ms/clip and overhead / forward
    only for encoders with a model ('–' for the weight-free ones, whose 'forward' is numpy)."""
    header = ["encoder", "clip-views encoded", "cache hits", "embed wall s", "clips/s", "load s",
              "forward ms/clip", "preprocess ms/clip", "decode wait s", "probe s", "overhead / forward"]
    rows = []
    for e in payload.get("encoders", []):
        t = e["timings"]
        n, wall = t.get("clips", 0), t.get("embed_wall_s")
        fwd, pre = t.get("forward_s", 0.0), t.get("preprocess_s", 0.0)
        overhead = pre + t.get("decode_wait_s", 0.0) + t.get("probe_s", 0.0)
        model = _has_model(e) and fwd > 0
        rows.append([e["encoder"], str(n), str(t.get("cache_hits", 0)), fmt(wall, 1),
                     f"{n / wall:.1f}" if n and wall else "–", fmt(t.get("load_s"), 1),
                     f"{1000 * fwd / n:.1f}" if model and n else "–", f"{1000 * pre / n:.1f}" if n else "–",
                     f"{t.get('decode_wait_s', 0.0):.2f}", f"{t.get('probe_s', 0.0):.2f}",
                     f"{overhead / fwd:.2f}" if model else "–"])
    return header, rows


# --------------------------------------------------------------------------- markdown


def _unit(r: dict[str, Any]) -> str:
    return f"; unit: {r['unit']}" if r.get("unit") else ""


def render_markdown(payload: dict[str, Any]) -> str:
    grids = margin_grids(payload)
    out = ["# evaluate report", "",
           f"Created {payload['created']}; datasets: "
           + ", ".join(f"`{d['name']}` ({d['clips']} clips, sha {d['content_sha256']})" for d in payload["datasets"])
           + "; encoders: " + ", ".join(f"`{e['encoder']}`" for e in payload["encoders"]) + ".", "",
           "## At a glance", "", *(f"- {summary_line(g)}" for g in grids), ""]
    for g in grids:
        rows = [[name, *(g.cell_text(i, j) for j in range(len(g.targets)))] for i, name in enumerate(g.rows)]
        out += [md_table([f"{g.dataset}: margin", *g.targets], rows), ""]
    if grids:
        out += ["★: the 95% CI excludes 0. †: fewer than "
                f"{MIN_TEST_GROUPS} test groups, the CI is not to be trusted.", ""]
    if payload.get("warnings"):
        out += ["## Warnings", "", *(f"- {w}" for w in payload["warnings"]), ""]
    out += ["## Temporal margin", "",
            "Score on the original clips minus the best static view (`single_frame`, `frame_mean`) for the same "
            "encoder and target: how much of what the encoder knows comes from time. CIs: paired bootstrap "
            "over test groups.", "", md_table(*margin_rows(payload)), ""]
    for (dataset, target, probe), rows in _by_target(payload).items():
        r0 = rows[0]
        out += [f"## {dataset} · {target} ({r0['metric']}, probe {probe})", "",
                f"Chance: {fmt(r0['chance'])}; n_train {r0['n_train']}, n_test {r0['n_test']}{_unit(r0)}. "
                f"Cells: {r0['metric']} [95% CI].", "", md_table(*score_rows(payload, rows)), ""]
    out += ["## Timing", "", md_table(*timing_rows(payload)), "", *page.md_footer(payload)]
    return "\n".join(out)


# --------------------------------------------------------------------------- html


def bar_plot(payload: dict[str, Any], rows: list[dict[str, Any]], title: str) -> Any:
    """Bars per encoder and view with 95% CIs. The y-axis reaches every bar and whisker; an R² bar
    below R2_FLOOR is drawn to the floor, hatched, its true value written under it, and a whisker
    that runs past the floor ends in a ▼ at the axis."""
    plt = page.pyplot()
    views = _views(payload)
    encoders = list(dict.fromkeys(r["encoder"] for r in rows))
    r2 = rows[0]["metric"] == "r2"
    width = 0.8 / max(len(views), 1)
    fig, ax = plt.subplots(figsize=(2.2 + 1.5 * len(encoders), 3.6), layout="constrained")
    lowest, beyond = 0.0, []  # beyond: x of whiskers that run below the axis
    for i, view in enumerate(views):
        x = np.arange(len(encoders)) + (i - (len(views) - 1) / 2) * width
        for k, enc in enumerate(encoders):
            r = next((r for r in rows if r["encoder"] == enc and r["view"] == view), None)
            if r is None or r["value"] != r["value"]:
                continue
            v, (lo, hi) = r["value"], r["ci95"]
            shown = max(v, R2_FLOOR) if r2 else v
            lowest = min(lowest, max(min(shown, lo), R2_FLOOR) if r2 else min(shown, lo))
            err = np.nan_to_num(np.abs([[v - lo], [hi - v]])) if v == shown else None
            if err is not None and lo < R2_FLOOR and r2:
                beyond.append(x[k])
            ax.bar(x[k], shown, width, yerr=err, capsize=2, color=f"C{i}", label=view if k == 0 else None,
                   hatch="//" if v != shown else None, edgecolor="white" if v == shown else "black")
            if v != shown:
                ax.annotate(f"{v:.2f}", (x[k], shown), xytext=(0, -3), textcoords="offset points", ha="center",
                            va="top", fontsize=8, color="C3")
    ax.axhline(rows[0]["chance"], color="k", ls="--", lw=1, label="chance")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xticks(np.arange(len(encoders)), encoders, rotation=15, ha="right", rotation_mode="anchor")
    ax.set_ylabel(rows[0]["metric"])
    clipped = any(t.get_text() for t in ax.texts)
    bottom = lowest - (0.08 + 0.1 * clipped) * (1.05 - lowest) if lowest < 0 else 0
    ax.set_ylim(bottom, 1.05)
    if beyond:
        ax.plot(beyond, [bottom] * len(beyond), "kv", ms=6, clip_on=False, label="CI runs below the axis")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def scatter_plot(preds: list[dict[str, Any]], rows: list[dict[str, Any]], title: str) -> Any:
    """Predicted vs true on the original view, one panel per encoder, its R² [95% CI] and MAE in
    the panel, the unit on both axes."""
    plt = page.pyplot()
    unit = rows[0].get("unit")
    u = f" ({unit})" if unit else ""
    score = {r["encoder"]: r for r in rows if r["view"] == "original"}
    encoders = list(dict.fromkeys(p["encoder"] for p in preds))
    fig, axes = plt.subplots(1, len(encoders), figsize=(0.4 + 3.3 * len(encoders), 3.6), squeeze=False,
                             layout="constrained")
    for ax, enc in zip(axes[0], encoders, strict=True):
        yt = np.array([p["y_true"] for p in preds if p["encoder"] == enc], float)
        yp = np.array([p["y_pred"] for p in preds if p["encoder"] == enc], float)
        ax.scatter(yt, yp, s=12, alpha=0.7)
        lo, hi = min(yt.min(), yp.min()), max(yt.max(), yp.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        r = score.get(enc)
        if r:
            text = f"R² {fmt(r['value'], 2)} {ci_text(r['ci95'], r.get('test_groups'))}"
            if r.get("mae") is not None:
                text += f"\nMAE {fmt(r['mae'])}{f' {unit}' if unit else ''}"
            ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=page.SMALL,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "#bbb", "alpha": 0.9})
        ax.set_title(enc)
        ax.set_xlabel(f"true{u}")
        ax.set_ylabel(f"predicted{u}")
    fig.suptitle(title)
    return fig



def render_html(payload: dict[str, Any], predictions: list[dict[str, Any]]) -> str:
    grids = margin_grids(payload)
    heatmap = [Figure(png(margin_heatmap(grids)), "temporal margins: encoder × target per dataset")] if grids else []
    sections = [Section("Temporal margin, all", "margins",
                        ["Original minus the best static view (single_frame, frame_mean), same encoder and target; "
                         "95% CI from a paired bootstrap over test groups."], [Table(*margin_rows(payload))])]
    for (dataset, target, probe), rows in _by_target(payload).items():
        r0 = rows[0]
        s = Section(f"{dataset} · {target}", f"{dataset}-{target}-{probe}".replace(" ", "_"),
                    [f"{r0['metric']}, probe {probe}, chance {fmt(r0['chance'])}; n_train {r0['n_train']}, "
                     f"n_test {r0['n_test']}{_unit(r0)}. Cells: {r0['metric']} [95% CI]."], level=3)
        s.parts += [Figure(png(bar_plot(payload, rows, f"{dataset} · {target}")), f"{target} scores by view"),
                    Table(*score_rows(payload, rows))]
        if r0["kind"] == "regression":
            preds = [p for p in predictions if p["dataset"] == dataset and p["target"] == target
                     and p["probe"] == probe and p["view"] == "original"]
            if preds:
                fig = scatter_plot(preds, rows, f"{dataset} · {target}: predicted vs true (original view)")
                s.parts.append(Figure(png(fig), f"{target} predicted vs true"))
        sections.append(s)
    sections.append(Section("Timing", "timing", ["Forward ms/clip and overhead / forward only for encoders "
                                                  "with a model: pixels and motion have no forward pass."],
                            [Table(*timing_rows(payload))]))
    return page.render_page("probe.html", "evaluate report", payload, sections, heatmap=heatmap,
                       summary=[summary_line(g) for g in grids], warnings=payload.get("warnings", []),
                       encoders=[e["encoder"] for e in payload["encoders"]],
                       few_groups=MIN_TEST_GROUPS if any(g.few.any() for g in grids) else 0)


def write_reports(rundir: str | Path) -> tuple[Path, Path]:
    """(Re)write report.md and report.html from the run folder's results.json and predictions.jsonl."""
    rundir = Path(rundir)
    payload, predictions = load_run(rundir)
    return page.write_pair(rundir, REPORT_MD, render_markdown(payload), REPORT_HTML, render_html(payload, predictions))


def rich_tables(payload: dict[str, Any]) -> list[Any]:
    """Terminal summary: the temporal margin table, then one table per target (print them with
    page.print_tables, which keeps them whole when stdout is not a terminal)."""
    tables = [page.table("temporal margin (original − best static view)", *margin_rows(payload))]
    for (dataset, target, probe), rs in _by_target(payload).items():
        title = f"{dataset} · {target} · {rs[0]['metric']} (chance {fmt(rs[0]['chance'])}, probe {probe})"
        tables.append(page.table(title, *score_rows(payload, rs)))
    return tables
