"""Reports from results.json (and predictions.jsonl): rich terminal tables, report.md, and a
self-contained report.html with embedded matplotlib plots.

Both open with the identifiability table (what one frame's ground truth, all frames' ground truth
and a pixel tracker give of each target), then the static margins at a glance (an encoder × target
heatmap per dataset and one line per dataset). The full tables follow: both margins (static and
order) with their CIs, reversal sensitivity, the cross-view scores (fitted on ``original``, tested
on every view) and the within-view scores per target. A target whose identifiability verdict is
``static`` carries a "static" badge wherever it appears. ``evaluate report RUNDIR`` rebuilds both
files from the run folder alone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.io import load_run
from evaluate.metrics import MIN_TEST_GROUPS
from evaluate.report import page
from evaluate.report.layers import layer_markdown, layer_section, standing_payload, standing_rows
from evaluate.report.page import Cell, Figure, Section, Table, ci_text, fmt, md_table, png, with_badge
from evaluate.report.verdict import (
    comparisons_markdown,
    comparisons_section,
    rich_verdict,
    verdict_markdown,
    verdict_section,
)

__all__ = ["identifiability_markdown", "load_run", "render_html", "render_markdown", "rich_tables",
           "write_reports"]

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
# Bars of an R² below this are drawn down to it, their true value written at the axis' bottom.
R2_FLOOR = -2.0
# The margins plot's x-axis stops here; a margin or whisker beyond it ends in a ◀ at the axis.
MARGIN_FLOOR = -1.5

STATIC = "static"
STATIC_NOTE = "oracle-static's 95% CI lies above chance: one frame's ground truth gives this target"
DEGENERATE = "‡"
DEGENERATE_NOTE = ("degenerate control: the encoder's features under the control view are the same for every clip, "
                   "so the margin means nothing; judge by the oracles and track")
MARGIN_TYPES = {"static": "single_frame", "order": "shuffled"}  # margin type -> its usual control view
IDENTIFIABILITY = (("oracle_static", "oracle-static"), ("oracle_full", "oracle-full"), ("track", "track (original)"),
                   ("track_single_frame", "track (single_frame)"))
VERDICTS = {"static": STATIC_NOTE,
            "temporal": "not static, and oracle-full's 95% CI lies above chance: the target needs time",
            "not identified": "neither oracle's 95% CI lies above chance",
            "unknown": "an oracle is missing from the run"}
IDENTIFIABILITY_TEXT = (
    "What the ground truth gives of each target, before any encoder: oracle-static reads the true state of one "
    "seeded frame (the frame single_frame shows), oracle-full the true states of all frames in order; track "
    "reads blobs from the pixels (the positive control: if it solves a target under original, the answer is in the "
    "pixels at this resolution). Verdict static: oracle-static's 95% CI lies above chance (one frame gives it); "
    "temporal: not static, and oracle-full's does; not identified: neither. Static targets carry a [static] badge "
    "everywhere below.")
MARGIN_TEXT = (
    "Static margin: original − max(chance, single_frame), what needs more than one frame. Order margin: "
    "original − max(chance, shuffled), what needs the frames' order. Same encoder, target and probe; CIs: paired "
    "bootstrap over test groups. Struck-through cells marked ‡ have a degenerate control (the encoder's features "
    "under it are identical for every clip, e.g. frame differences of a repeated frame): their margin means "
    "nothing; judge the target by the oracles and track.")
REVERSAL_TEXT = (
    "The probe fitted on original predicts the reversed test clips, scored against the labels the reversal should "
    "have (direction swaps, vz_start becomes −vz_end, direction_deg turns by 180°...). High: the probe reads time, "
    "its prediction flips with the clip. Chance: it reads static cues that reversal keeps.")
CROSS_TEXT = (
    "The probe fitted on original's train clips predicts each view's test clips without refitting, scored "
    "against the clips' own labels (which no view changes). original is the within-view score, for reference; "
    "reversal-aware labels are in Reversal sensitivity.")


# --------------------------------------------------------------------------- rows and labels


METRIC_SHORT = {"balanced_accuracy": "bal. acc.", "r2": "R²", "circular_r2": "circular R²"}


def metric_text(r: dict[str, Any]) -> str:
    """'bal. acc. (0.50)': a score's metric, short, and its chance level."""
    return f"{METRIC_SHORT.get(r['metric'], r['metric'])} ({fmt(r['chance'], 2)})"


def _views(payload: dict[str, Any]) -> list[str]:
    return list(payload["config"]["views"])


def is_within(r: dict[str, Any]) -> bool:
    """A within-view score: fitted and tested on the same view (rows without fit_view predate cross-view)."""
    return r.get("fit_view", r["view"]) == r["view"]


def is_cross(r: dict[str, Any]) -> bool:
    """A cross-view score: fitted on original, tested on another view without refitting."""
    return r.get("fit_view") == "original" and r["view"] != "original"


def target_name(r: dict[str, Any]) -> str:
    """'speed', or 'speed | moves=linear' for a target scored only on the clips where it is defined."""
    return f"{r['target']} | {r['subset']}" if r.get("subset") else r["target"]


def static_targets(payload: dict[str, Any]) -> set[tuple[str, str]]:
    """(dataset, target) of every target whose identifiability verdict is static."""
    return {(i["dataset"], i["target"]) for i in payload.get("identifiability", []) if i["verdict"] == STATIC}


def _badge(static: set[tuple[str, str]], r: dict[str, Any]) -> str:
    return STATIC if (r["dataset"], r["target"]) in static else ""


def target_cell(static: set[tuple[str, str]], r: dict[str, Any]) -> Cell:
    badge = _badge(static, r)
    return Cell(target_name(r), title=STATIC_NOTE if badge else "", badge=badge)


def _probe_label(rows: list[dict[str, Any]]) -> Any:
    """'encoder', or 'encoder · probe' when the rows hold several probes."""
    several = len({r["probe"] for r in rows}) > 1
    return lambda r: f"{r['encoder']} · {r['probe']}" if several else r["encoder"]


def _encoder_order(payload: dict[str, Any]) -> dict[str, int]:
    return {e["encoder"]: i for i, e in enumerate(payload.get("encoders", []))}


def _datasets(payload: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    """The datasets the records name, in the payload's order."""
    named = [d["name"] for d in payload.get("datasets", [])]
    seen = dict.fromkeys(r["dataset"] for r in records)
    return [d for d in named if d in seen] + [d for d in seen if d not in named]


def _by_target(payload: dict[str, Any]) -> dict[tuple[str, str, str | None, str], list[dict[str, Any]]]:
    """Within-view rows by (dataset, target, subset, probe)."""
    out: dict[tuple[str, str, str | None, str], list[dict[str, Any]]] = defaultdict(list)
    for r in payload["results"]:
        if is_within(r):
            out[(r["dataset"], r["target"], r.get("subset"), r["probe"])].append(r)
    return out


def _error_column(rows: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(field, header) of the regression error shown next to the score: MAE, or mean angular error."""
    for key, name in (("angular_error", "angular error"), ("mae", "MAE")):
        if any(r.get(key) is not None for r in rows):
            unit = rows[0].get("unit")
            return key, f"{name}, original ({unit})" if unit else f"{name}, original"
    return None


def score_rows(payload: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One row per encoder, one column per view: 'value [lo, hi]' of the within-view scores;
    regression adds the original view's mean absolute (or angular) error, in the target's unit."""
    rows = [r for r in rows if is_within(r)]
    views = _views(payload)
    cells: dict[str, dict[str, str]] = defaultdict(dict)
    error: dict[str, str] = {}
    column = _error_column(rows)
    for r in rows:
        cells[r["encoder"]][r["view"]] = f"{fmt(r['value'])} {ci_text(r['ci95'], r.get('test_groups'))}"
        if column and r["view"] == "original" and r.get(column[0]) is not None:
            error[r["encoder"]] = fmt(r[column[0]])
    header = ["encoder", *views, *([column[1]] if column else [])]
    return header, [[enc, *(cells[enc].get(v, "–") for v in views), *([error.get(enc, "–")] if column else [])]
                    for enc in cells]


# --------------------------------------------------------------------------- identifiability


def identifiability_rows(payload: dict[str, Any], dataset: str) -> tuple[list[str], list[list[str | Cell]]]:
    """One row per target: oracle-static, oracle-full, track (original), track (single_frame), each
    'value [lo, hi]' coloured where the CI excludes chance, and the verdict."""
    records = [i for i in payload.get("identifiability", []) if i["dataset"] == dataset]
    several = len({i["probe"] for i in records}) > 1
    header = ["target", *(["probe"] if several else []), "metric (chance)", *(name for _, name in IDENTIFIABILITY),
              "verdict"]
    rows: list[list[str | Cell]] = []
    for i in records:
        scores = [i.get(key) for key, _ in IDENTIFIABILITY]
        first = next((s for s in scores if s), None)
        cells = [page.scored(s["value"], s["ci95"], s["chance"]) if s else Cell("–", "na") for s in scores]
        verdict = Cell(i["verdict"], "verdict-" + i["verdict"].replace(" ", "-"), VERDICTS.get(i["verdict"], ""))
        rows.append([i["target"], *([i["probe"]] if several else []),
                     metric_text(first) if first else "–", *cells, verdict])
    return header, rows


def identifiability_markdown(payload: dict[str, Any]) -> str:
    """The identifiability table as markdown, one table per dataset under a '### dataset' heading
    ('' when the run has none): what the README's table is generated from."""
    out = []
    for dataset in _datasets(payload, payload.get("identifiability", [])):
        out += [f"### {dataset}", "", md_table(*identifiability_rows(payload, dataset)), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- margins


MarginKey = tuple[str, str, str | None, str, str]  # dataset, target, subset, encoder, probe


def paired_margins(payload: dict[str, Any]) -> dict[MarginKey, dict[str, dict[str, Any]]]:
    """Margin records by (dataset, target, subset, encoder, probe), then by margin_type."""
    out: dict[MarginKey, dict[str, dict[str, Any]]] = defaultdict(dict)
    for m in payload.get("temporal_margins", []):
        out[(m["dataset"], m["target"], m.get("subset"), m["encoder"], m["probe"])][m["margin_type"]] = m
    return out


def _control_views(payload: dict[str, Any], margin_type: str) -> str:
    views = {m["control_view"] for m in payload.get("temporal_margins", []) if m["margin_type"] == margin_type}
    return ", ".join(sorted(views)) or MARGIN_TYPES.get(margin_type, "?")


def _margin_cell(m: dict[str, Any] | None) -> Cell:
    if m is None:
        return Cell("–", "na")
    text = f"{m['value']:+.3f} {ci_text(m['ci95'], m.get('test_groups'))}"
    if m.get("degenerate_control"):
        return Cell(f"{DEGENERATE} {text}", "degenerate", DEGENERATE_NOTE)
    side = "" if not page.excludes(m["ci95"], 0.0) else "above" if m["ci95"][0] > 0 else "below"
    floored = m["control"] < m["floor"]
    note = f"the control ({fmt(m['control'])}) is below chance: floored at {fmt(m['floor'], 2)}" if floored else ""
    return Cell(text, side, note or ("95% CI excludes 0" if side else ""))


def _control_cell(m: dict[str, Any] | None) -> Cell:
    if m is None:
        return Cell("–", "na")
    if m.get("degenerate_control"):
        return Cell(f"{DEGENERATE} {fmt(m['control'])}", "degenerate", DEGENERATE_NOTE)
    return Cell(fmt(m["control"]))


def margin_rows(payload: dict[str, Any], dataset: str | None = None) -> tuple[list[str], list[list[str | Cell]]]:
    """Both margins side by side per (dataset, target, encoder, probe): the original score, the static
    control's score and margin [95% CI], the order control's score and margin [95% CI]. Given a
    dataset, only its rows, without the dataset column."""
    static = static_targets(payload)
    header = ["dataset", "target", "encoder", "probe", "original", f"static control ({_control_views(payload, 'static')})",
              "static margin [95% CI]", f"order control ({_control_views(payload, 'order')})",
              "order margin [95% CI]"]
    rows: list[list[str | Cell]] = []
    for (name, _, _, encoder, probe), ms in paired_margins(payload).items():
        if dataset is not None and name != dataset:
            continue
        m0 = next(iter(ms.values()))
        s, o = ms.get("static"), ms.get("order")
        rows.append([name, target_cell(static, m0), encoder, probe, fmt(m0["original"]),
                     _control_cell(s), _margin_cell(s), _control_cell(o), _margin_cell(o)])
    if dataset is not None:
        return header[1:], [row[1:] for row in rows]
    return header, rows


# --------------------------------------------------------------------------- at a glance


@dataclass
class MarginGrid:
    """One dataset's margins of one type: rows (encoder, or 'encoder · probe' when a run has several
    probes) × target columns; NaN where there is none."""

    dataset: str
    rows: list[str]
    targets: list[str]  # 'speed', or 'speed | moves=linear'
    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    marked: np.ndarray  # the 95% CI excludes 0, and the control is not degenerate
    few: np.ndarray  # too few test groups to trust the CI
    degenerate: np.ndarray  # the control is degenerate: the margin means nothing
    static: list[bool]  # per target: its identifiability verdict is static
    margin_type: str = "static"

    def label(self, j: int) -> str:
        return with_badge(self.targets[j], STATIC if self.static[j] else "")

    def cell_text(self, i: int, j: int) -> str:
        v = self.value[i, j]
        if self.degenerate[i, j]:
            return "n/a"
        if v != v:
            return "–"
        tiny = self.marked[i, j] and abs(v) < 0.005  # a CI off 0 on a margin that rounds to 0.00
        return f"{v:+.{3 if tiny else 2}f}" + ("★" if self.marked[i, j] else "") + ("†" if self.few[i, j] else "")


def margin_grids(payload: dict[str, Any], margin_type: str = "static") -> list[MarginGrid]:
    margins = [m for m in payload.get("temporal_margins", []) if m["margin_type"] == margin_type]
    label = _probe_label(margins)
    order = _encoder_order(payload)
    static = static_targets(payload)
    grids = []
    for dataset in _datasets(payload, margins):
        ms = [m for m in margins if m["dataset"] == dataset]
        keys = sorted({(m["encoder"], m["probe"]): None for m in ms}, key=lambda k: (order.get(k[0], len(order)), k))
        targets = list(dict.fromkeys((m["target"], m.get("subset")) for m in ms))
        shape = (len(keys), len(targets))
        value, lo, hi = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
        marked, few, degenerate = np.zeros(shape, bool), np.zeros(shape, bool), np.zeros(shape, bool)
        for m in ms:
            i, j = keys.index((m["encoder"], m["probe"])), targets.index((m["target"], m.get("subset")))
            value[i, j], (lo[i, j], hi[i, j]) = m["value"], m["ci95"]
            degenerate[i, j] = bool(m.get("degenerate_control"))
            marked[i, j] = page.excludes(m["ci95"], 0.0) and not degenerate[i, j]
            few[i, j] = m.get("test_groups") is not None and m["test_groups"] < MIN_TEST_GROUPS
        rows = [label({"encoder": e, "probe": p}) for e, p in keys]
        names = [target_name({"target": t, "subset": s}) for t, s in targets]
        grids.append(MarginGrid(dataset, rows, names, value, lo, hi, marked, few, degenerate,
                                [(dataset, t) in static for t, _ in targets], margin_type))
    return grids


def headline_grids(payload: dict[str, Any]) -> list[MarginGrid]:
    """The static margins; the order margins where a run has no static control."""
    return margin_grids(payload, "static") or margin_grids(payload, "order")


def summary_line(g: MarginGrid) -> str:
    """'falling_rising: best static margin +0.42 [0.30, 0.51] (pixels, direction); 3 of 6 targets have
    a static margin whose 95% CI excludes 0 (2 above, 1 below)'. Degenerate margins do not count."""
    value = np.where(g.degenerate, np.nan, g.value)
    skipped = int(g.degenerate.sum())
    note = f"; {skipped} degenerate (not counted)" if skipped else ""
    if np.isnan(value).all():
        return f"{g.dataset}: no {g.margin_type} margin{note}"
    i, j = np.unravel_index(np.nanargmax(value), value.shape)
    above = int((g.marked & (g.lo > 0)).any(axis=0).sum())
    below = int((g.marked & (g.hi < 0)).any(axis=0).sum())
    n = int(g.marked.any(axis=0).sum())
    split = f" ({above} above, {below} below)" if above and below else (" (below 0)" if below else "")
    return (f"{g.dataset}: best {g.margin_type} margin {value[i, j]:+.2f} [{fmt(g.lo[i, j], 2)}, "
            f"{fmt(g.hi[i, j], 2)}]{'†' if g.few[i, j] else ''} ({g.rows[i]}, {g.label(j)}); {n} of "
            f"{len(g.targets)} targets have a {g.margin_type} margin whose 95% CI excludes 0{split}{note}")


STATIC_COLOR = "#8a5a00"  # tick labels of static targets


def _mark_static(labels: list[Any], static: list[bool]) -> None:
    """Static targets' tick labels: the badge's colours (their text already ends in '[static]')."""
    for text, is_static in zip(labels, static, strict=True):
        if is_static:
            text.set_color(STATIC_COLOR)
            text.set_bbox({"boxstyle": "round,pad=0.25", "fc": "#f8e3b4", "ec": "none"})


def margin_heatmap(grids: list[MarginGrid]) -> Any:
    """Encoder × target heatmap of margins, one panel per dataset, colours diverging at 0 (shared
    scale, clipped at ±1: the number in the cell is the true value); ★ and a black border where the
    CI excludes 0; hatched grey 'n/a' where the control is degenerate."""
    plt = page.pyplot()
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    ncols = max(len(g.targets) for g in grids)
    finite = np.concatenate([g.value[np.isfinite(g.value) & ~g.degenerate] for g in grids])
    vmax = float(np.clip(np.abs(finite).max() if finite.size else 1.0, 0.1, 1.0))
    norm, cmap = Normalize(-vmax, vmax), plt.get_cmap("RdBu")
    fig = plt.figure(figsize=(2.4 + 1.05 * ncols, 0.75 + sum(0.6 + 0.42 * len(g.rows) for g in grids)),
                     layout="constrained")
    gs = fig.add_gridspec(len(grids), ncols, height_ratios=[1.2 + len(g.rows) for g in grids])
    axes = []
    for k, g in enumerate(grids):
        ax = fig.add_subplot(gs[k, : len(g.targets)])
        axes.append(ax)
        im = ax.imshow(np.ma.masked_invalid(np.where(g.degenerate, np.nan, g.value)), cmap=cmap, norm=norm,
                       aspect="auto")
        ax.set_facecolor("#e6e6e6")
        ax.set_xticks(range(len(g.targets)), [g.label(j) for j in range(len(g.targets))], rotation=20, ha="right",
                      rotation_mode="anchor")
        _mark_static(ax.get_xticklabels(), g.static)
        ax.set_yticks(range(len(g.rows)), g.rows)
        ax.set_title(g.dataset, loc="left", fontweight="bold")
        ax.tick_params(length=0)
        for i in range(len(g.rows)):
            for j in range(len(g.targets)):
                v = g.value[i, j]
                if g.degenerate[i, j]:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fc="#f2f2f2", ec="#9a9a9a", hatch="///", lw=0))
                    ax.text(j, i, g.cell_text(i, j), ha="center", va="center", fontsize=10, color="#777",
                            bbox={"fc": "#f2f2f2", "ec": "none", "pad": 1})
                    continue
                dark = v == v and abs(v) > 0.55 * vmax
                ax.text(j, i, g.cell_text(i, j), ha="center", va="center", fontsize=10,
                        color="white" if dark else "black", fontweight="bold" if g.marked[i, j] else "normal")
                if g.marked[i, j]:
                    ax.add_patch(Rectangle((j - 0.47, i - 0.45), 0.94, 0.9, fill=False, ec="black", lw=2))
    bar = fig.colorbar(im, ax=axes, shrink=min(1.0, 3.0 / len(grids) + 0.2), aspect=25, pad=0.02)
    control = MARGIN_TYPES.get(grids[0].margin_type, "control")
    bar.set_label(f"{grids[0].margin_type} margin: original − max(chance, {control})")
    return fig


def margin_plot(payload: dict[str, Any], dataset: str) -> Any:
    """Both margins of one dataset with their 95% CIs, as a forest plot: per target a header row
    (its name, and a static badge), then one row per encoder (· probe) with a filled dot for the
    static margin and a diamond for the order margin; a vertical line at 0. Degenerate controls
    are hollow and grey; a margin or whisker below MARGIN_FLOOR ends in a ◀ at the axis, the
    value written next to it."""
    plt = page.pyplot()
    from matplotlib.lines import Line2D

    static = static_targets(payload)
    pairs = [(k, ms) for k, ms in paired_margins(payload).items() if k[0] == dataset]
    label = _probe_label([m for _, ms in pairs for m in ms.values()])
    order = _encoder_order(payload)
    targets = list(dict.fromkeys(k[1:3] for k, _ in pairs))
    pairs.sort(key=lambda p: (targets.index(p[0][1:3]), order.get(p[0][3], len(order)), p[0][4]))
    records = [m for _, ms in pairs for m in ms.values() if m["value"] == m["value"]]
    lows = [min(m["value"], m["ci95"][0]) if m["ci95"][0] == m["ci95"][0] else m["value"] for m in records]
    highs = [max(m["value"], m["ci95"][1]) if m["ci95"][1] == m["ci95"][1] else m["value"] for m in records]
    rows: list[tuple[str, bool, dict[str, dict[str, Any]] | None]] = []  # label, static, margins (None: header)
    for t in targets:
        rows.append((target_name({"target": t[0], "subset": t[1]}), (dataset, t[0]) in static, None))
        rows += [(label({"encoder": k[3], "probe": k[4]}), False, ms) for k, ms in pairs if k[1:3] == t]
    fig, ax = plt.subplots(figsize=(9.6, 1.0 + 0.25 * len(rows)), layout="constrained")
    styles = (("static", -0.15, "o", "C0"), ("order", 0.15, "D", "C1"))
    for y, (_, _, ms) in enumerate(rows):
        if ms is None:
            ax.axhspan(y - 0.42, y + 0.42, color="#ececec", lw=0, zorder=0)
            continue
        for margin_type, dy, marker, color in styles:
            m = ms.get(margin_type)
            if m is None or m["value"] != m["value"]:
                continue
            v, (lo, hi) = m["value"], m["ci95"]
            grey = bool(m.get("degenerate_control"))
            c = "#9a9a9a" if grey else color
            shown = max(v, MARGIN_FLOOR)
            if lo == lo and hi == hi:
                ax.plot([max(lo, MARGIN_FLOOR), max(hi, MARGIN_FLOOR)], [y + dy] * 2, color=c, lw=1.4,
                        solid_capstyle="butt")
            ax.plot([shown], [y + dy], marker="<" if v < MARGIN_FLOOR else marker, ms=6, color=c,
                    mfc="white" if grey else c, mew=1.3, ls="none")
            if v < MARGIN_FLOOR:
                ax.annotate(f"{v:.2f}", (shown, y + dy), xytext=(7, 0), textcoords="offset points", va="center",
                            fontsize=8, color="C3")
            elif lo == lo and lo < MARGIN_FLOOR:
                ax.plot([MARGIN_FLOOR], [y + dy], marker="<", ms=4, color=c, ls="none")
    ax.axvline(0, color="k", lw=1)
    ax.set_yticks(range(len(rows)), [with_badge(name, STATIC) if ms is None and is_static else name
                                     for name, is_static, ms in rows])
    for text, (_, is_static, ms) in zip(ax.get_yticklabels(), rows, strict=True):
        if ms is None:
            text.set_fontweight("bold")
            _mark_static([text], [is_static])
        else:
            text.set_color("#333")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(max(min([*lows, 0.0]), MARGIN_FLOOR) - 0.05, max([*highs, 1.0]) + 0.05)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#e4e4e4", lw=0.6)
    ax.set_axisbelow(True)
    ax.set_xlabel("margin, 95% CI (in the score's unit: balanced accuracy or R²)")
    ax.set_title(f"{dataset}: margins", loc="left", fontweight="bold")
    handles = [Line2D([], [], color=c, marker=mk, ls="-", label=f"{t} ({MARGIN_TYPES[t]})") for t, _, mk, c in styles]
    handles.append(Line2D([], [], color="#9a9a9a", marker="o", mfc="white", ls="-", label="degenerate control"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


# --------------------------------------------------------------------------- reversal and cross-view


def reversal_rows(payload: dict[str, Any], dataset: str) -> Table:
    """Encoder (· probe) × target: reversal sensitivity 'value [lo, hi]', coloured where the CI
    excludes chance; the caption says each target's metric, rule and chance."""
    static = static_targets(payload)
    records = [r for r in payload.get("reversal_sensitivity", []) if r["dataset"] == dataset]
    label = _probe_label(records)
    targets = list(dict.fromkeys((r["target"], r.get("subset")) for r in records))
    first = {(r["target"], r.get("subset")): r for r in reversed(records)}
    order = _encoder_order(payload)
    encoders = sorted(dict.fromkeys(label(r) for r in records),
                      key=lambda e: (order.get(e.split(" · ")[0], len(order)), e))
    cells: dict[tuple[str, tuple[str, str | None]], Cell] = {}
    for r in records:
        c = page.scored(r["value"], r["ci95"], r["chance"], r.get("test_groups"))
        if r.get("angular_error") is not None:
            c = Cell(f"{c.text}, error {fmt(r['angular_error'], 1)}", c.cls, c.title)
        cells[(label(r), (r["target"], r.get("subset")))] = c
    header: list[Any] = ["encoder", *(target_cell(static, {"dataset": dataset, "target": t, "subset": s})
                                      for t, s in targets)]
    rows: list[list[str | Cell]] = [
        [Cell("rule", "na"), *(Cell(first[t]["rule"], "na") for t in targets)],
        [Cell("metric (chance)", "na"), *(Cell(metric_text(first[t]), "na") for t in targets)],
        *([e, *(cells.get((e, t), Cell("–", "na")) for t in targets)] for e in encoders)]
    return Table(header, rows, dataset)


def cross_rows(payload: dict[str, Any], dataset: str) -> Table | None:
    """Target × encoder (· probe) rows, one column per test view: the probe fitted on original,
    tested on each view without refitting (original: the within-view score). None without any."""
    rows_ = [r for r in payload["results"] if r["dataset"] == dataset and r.get("fit_view") == "original"]
    if not any(is_cross(r) for r in rows_):
        return None
    static = static_targets(payload)
    label = _probe_label(rows_)
    views = [v for v in _views(payload) if any(r["view"] == v for r in rows_)]
    cells: dict[tuple[str, str | None, str], dict[str, Cell]] = defaultdict(dict)
    first: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for r in rows_:
        key = (r["target"], r.get("subset"), label(r))
        first.setdefault(key, r)
        cells[key][r["view"]] = page.scored(r["value"], r["ci95"], r["chance"], r.get("test_groups"))
    header = ["target", "encoder", *("original (fitted)" if v == "original" else v for v in views)]
    rows: list[list[str | Cell]] = [[target_cell(static, first[k]), k[2], *(c.get(v, Cell("–", "na")) for v in views)]
                                    for k, c in cells.items()]
    metrics: dict[str, list[str]] = defaultdict(list)  # metric (chance) -> its targets
    for r in first.values():
        if target_name(r) not in metrics[metric_text(r)]:
            metrics[metric_text(r)].append(target_name(r))
    scored_as = "; ".join(f"{m}: {', '.join(ts)}" for m, ts in metrics.items())
    return Table(header, rows, f"{dataset}: fitted on original, tested on each view. Metric (chance): {scored_as}")


def _reversal_rule(info: dict[str, Any]) -> str:
    rev = info.get("reversal")
    if not rev:
        return "–"
    extra = [f"of {rev['of']}"] if rev.get("of") else []
    extra += [f"{rev['degrees']:+g}°"] if rev.get("degrees") is not None else []
    return " ".join([rev.get("rule", "?"), *extra])


def target_rows(payload: dict[str, Any]) -> tuple[list[str], list[list[str | Cell]]]:
    """Every target as its dataset declares it, with its identifiability verdict."""
    verdict = {(i["dataset"], i["target"]): i["verdict"] for i in payload.get("identifiability", [])}
    header = ["dataset", "target", "kind", "unit", "reversal", "defined when", "period", "residual on", "verdict",
              "description"]
    rows: list[list[str | Cell]] = []
    for d in payload.get("datasets", []):
        for name, info in (d.get("targets") or {}).items():
            when = ", ".join(f"{k}={v}" for k, v in (info.get("defined_when") or {}).items())
            rows.append([d["name"], target_cell(static_targets(payload), {"dataset": d["name"], "target": name}),
                         info["kind"], info.get("unit") or "–", _reversal_rule(info), when or "–",
                         fmt(info.get("period"), 0) if info.get("period") else "–",
                         ", ".join(info.get("residual_on") or []) or "–", verdict.get((d["name"], name), "–"),
                         Cell(info.get("description", ""), "wrap")])
    return header, rows


# --------------------------------------------------------------------------- timing


def _has_model(e: dict[str, Any]) -> bool:
    """Weight-free encoders (pixels, motion, the oracles, track) have no checkpoint and no forward pass to speak of."""
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


def _target_text(r: dict[str, Any], probe: str) -> str:
    """Under a per-target heading: the metric, probe, chance, sizes and unit."""
    where = f" Scored only on the clips with {r['subset']}." if r.get("subset") else ""
    return (f"{r['metric']}, probe {probe}, chance {fmt(r['chance'])}; n_train {r['n_train']}, n_test {r['n_test']}"
            f"{_unit(r)}. Cells: {r['metric']} [95% CI], within-view (fitted and tested on the same view).{where}")


def _target_title(dataset: str, r: dict[str, Any]) -> str:
    return f"{dataset} · {target_name(r)}"


def render_markdown(payload: dict[str, Any]) -> str:
    swept, payload = payload, standing_payload(payload)  # a swept encoder at its standing layer, but in the sweep's part
    grids = headline_grids(payload)
    static = static_targets(payload)
    out = ["# evaluate report", "",
           f"Created {payload['created']}; datasets: "
           + ", ".join(f"`{d['name']}` ({d.get('clips', '?')} clips, sha {d['content_sha256']})"
                       for d in payload["datasets"])
           + "; encoders: " + ", ".join(f"`{e['encoder']}`" for e in payload["encoders"]) + ".", ""]
    out += [verdict_markdown(payload)]
    if payload.get("identifiability"):
        out += ["## Identifiability: what one frame gives", "", IDENTIFIABILITY_TEXT, "",
                identifiability_markdown(payload)]
    kind = grids[0].margin_type if grids else "static"
    out += [f"## At a glance: {kind} margins", "", *(f"- {summary_line(g)}" for g in grids), ""]
    for g in grids:
        rows = [[name, *(g.cell_text(i, j) for j in range(len(g.targets)))] for i, name in enumerate(g.rows)]
        out += [md_table([f"{g.dataset}: {kind} margin", *map(g.label, range(len(g.targets)))], rows), ""]
    if grids:
        out += ["★: the 95% CI excludes 0. †: fewer than "
                f"{MIN_TEST_GROUPS} test groups, the CI is not to be trusted. n/a: {DEGENERATE_NOTE}.", ""]
    if payload.get("warnings"):
        out += ["## Warnings", "", *(f"- {w}" for w in payload["warnings"]), ""]
    out += ["## Temporal margins", "", MARGIN_TEXT, "", md_table(*margin_rows(payload)), ""]
    out += layer_markdown(swept)
    out += [comparisons_markdown(payload)]
    if payload.get("reversal_sensitivity"):
        out += ["## Reversal sensitivity", "", REVERSAL_TEXT, ""]
        for dataset in _datasets(payload, payload["reversal_sensitivity"]):
            t = reversal_rows(payload, dataset)
            out += [f"### {t.caption}", "", md_table(t.header, t.rows), ""]
    cross = {d["name"]: t for d in payload["datasets"] if (t := cross_rows(payload, d["name"]))}
    if cross:
        out += ["## Cross-view: fitted on original", "", CROSS_TEXT, ""]
        for dataset, t in cross.items():
            out += [f"### {dataset}", "", t.caption + ".", "", md_table(t.header, t.rows), ""]
    for (dataset, _, _, probe), rows in _by_target(payload).items():
        r0 = rows[0]
        out += [f"## {with_badge(_target_title(dataset, r0), _badge(static, r0))} ({r0['metric']}, probe {probe})",
                "", _target_text(r0, probe), "", md_table(*score_rows(payload, rows)), ""]
    targets = target_rows(payload)
    if targets[1]:
        out += ["## Targets", "", md_table(*targets), ""]
    out += ["## Timing", "", md_table(*timing_rows(payload)), "", *page.md_footer(payload)]
    return "\n".join(out)


# --------------------------------------------------------------------------- html


def bar_plot(payload: dict[str, Any], rows: list[dict[str, Any]], title: str) -> Any:
    """Within-view bars per encoder and view with 95% CIs. The y-axis reaches every bar and whisker;
    an R² bar below R2_FLOOR is drawn to the floor, hatched, its true value written under it, and a
    whisker that runs past the floor ends in a ▼ at the axis."""
    plt = page.pyplot()
    rows = [r for r in rows if is_within(r)]
    views = _views(payload)
    encoders = list(dict.fromkeys(r["encoder"] for r in rows))
    r2 = rows[0]["metric"] in ("r2", "circular_r2")
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
    """Predicted vs true on the original view, one panel per encoder, its score [95% CI] and MAE
    (or angular error) in the panel, the unit on both axes."""
    plt = page.pyplot()
    unit = rows[0].get("unit")
    u = f" ({unit})" if unit else ""
    score = {r["encoder"]: r for r in rows if r["view"] == "original" and is_within(r)}
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
            name = {"r2": "R²", "circular_r2": "circular R²"}.get(r["metric"], r["metric"])
            text = f"{name} {fmt(r['value'], 2)} {ci_text(r['ci95'], r.get('test_groups'))}"
            for key, what in (("mae", "MAE"), ("angular_error", "angular error")):
                if r.get(key) is not None:
                    text += f"\n{what} {fmt(r[key])}{f' {unit}' if unit else ''}"
            ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=page.SMALL,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "#bbb", "alpha": 0.9})
        ax.set_title(enc)
        ax.set_xlabel(f"true{u}")
        ax.set_ylabel(f"predicted{u}")
    fig.suptitle(title)
    return fig


def _scalar(p: dict[str, Any]) -> bool:
    return all(isinstance(p[k], int | float) and not isinstance(p[k], bool) for k in ("y_true", "y_pred"))


def _predictions(predictions: list[dict[str, Any]], key: tuple[str, str, str | None, str]) -> list[dict[str, Any]]:
    """The within-view original predictions of one target (and subset) and probe, scalar ones only."""
    dataset, target, subset, probe = key
    return [p for p in predictions if p["dataset"] == dataset and p["target"] == target and p["probe"] == probe
            and p["fit_view"] == p["test_view"] == "original" and p.get("subset") == subset and _scalar(p)]


def identifiability_section(payload: dict[str, Any]) -> Section | None:
    datasets = _datasets(payload, payload.get("identifiability", []))
    if not datasets:
        return None
    tables = [Table(*identifiability_rows(payload, d), caption=d) for d in datasets]
    return Section("Identifiability: what one frame gives", "identifiability", [IDENTIFIABILITY_TEXT], tables)


def margin_section(payload: dict[str, Any]) -> Section:
    s = Section("Temporal margins", "margins", [MARGIN_TEXT])
    for dataset in _datasets(payload, payload.get("temporal_margins", [])):
        s.parts += [Figure(png(margin_plot(payload, dataset)), f"{dataset}: margins with 95% CIs"),
                    Table(*margin_rows(payload, dataset), caption=dataset)]
    return s


def render_html(payload: dict[str, Any], predictions: list[dict[str, Any]]) -> str:
    swept, payload = payload, standing_payload(payload)  # a swept encoder at its standing layer, but in the sweep's part
    predictions = standing_rows(predictions, payload.get("layer_choices", []))
    grids = headline_grids(payload)
    static = static_targets(payload)
    kind = grids[0].margin_type if grids else "static"
    heatmap = [Figure(png(margin_heatmap(grids)), f"{kind} margins: encoder × target per dataset")] if grids else []
    lead = [s for s in (verdict_section(payload), identifiability_section(payload)) if s]
    sections = [margin_section(payload), *filter(None, [comparisons_section(payload), layer_section(swept)])]
    if payload.get("reversal_sensitivity"):
        sections.append(Section("Reversal sensitivity", "reversal", [REVERSAL_TEXT],
                                [reversal_rows(payload, d) for d in _datasets(payload, payload["reversal_sensitivity"])]))
    cross = [t for d in payload["datasets"] if (t := cross_rows(payload, d["name"]))]
    if cross:
        sections.append(Section("Cross-view: fitted on original", "cross-view", [CROSS_TEXT], list(cross)))
    for key, rows in _by_target(payload).items():
        dataset, target, subset, probe = key
        r0 = rows[0]
        title = _target_title(dataset, r0)
        s = Section(title, "-".join(x for x in (dataset, target, subset, probe) if x).replace(" ", "_"),
                    [_target_text(r0, probe)], level=3, badge=_badge(static, r0))
        s.parts += [Figure(png(bar_plot(payload, rows, title)), f"{target_name(r0)} scores by view"),
                    Table(*score_rows(payload, rows))]
        preds = _predictions(predictions, key) if r0["kind"] == "regression" else []
        if preds:
            fig = scatter_plot(preds, rows, f"{title}: predicted vs true (original view)")
            s.parts.append(Figure(png(fig), f"{target_name(r0)} predicted vs true"))
        sections.append(s)
    targets = target_rows(payload)
    if targets[1]:
        sections.append(Section("Targets", "targets", ["As each dataset declares them: how a target transforms "
                                                       "under reversal, where it is defined, its period (circular "
                                                       "targets), what its residual removes."], [Table(*targets)]))
    sections.append(Section("Timing", "timing", ["Forward ms/clip and overhead / forward only for encoders "
                                                  "with a model: pixels, motion, the oracles and track have no "
                                                  "forward pass."], [Table(*timing_rows(payload))]))
    return page.render_page("probe.html", "evaluate report", payload, sections, lead=lead, heatmap=heatmap,
                            summary=[summary_line(g) for g in grids], warnings=payload.get("warnings", []),
                            encoders=[e["encoder"] for e in payload["encoders"]], margin_type=kind,
                            any_static=bool(static),
                            few_groups=MIN_TEST_GROUPS if any(g.few.any() for g in grids) else 0)


def write_reports(rundir: str | Path) -> tuple[Path, Path]:
    """(Re)write report.md and report.html from the run folder's results.json and predictions.jsonl."""
    rundir = Path(rundir)
    payload, predictions = load_run(rundir)
    return page.write_pair(rundir, REPORT_MD, render_markdown(payload), REPORT_HTML, render_html(payload, predictions))


def rich_tables(payload: dict[str, Any]) -> list[Any]:
    """Terminal summary: identifiability per dataset, both margins, reversal sensitivity, then one
    within-view table per target (print them with page.print_tables, which keeps them whole when
    stdout is not a terminal)."""
    payload = standing_payload(payload)  # a swept encoder at its standing layer
    static = static_targets(payload)
    tables = rich_verdict(payload) + [page.table(f"identifiability · {d}", *identifiability_rows(payload, d))
              for d in _datasets(payload, payload.get("identifiability", []))]
    tables.append(page.table("temporal margins: static (original − max(chance, single_frame)) and order "
                             f"(original − max(chance, shuffled)); {DEGENERATE} degenerate control",
                             *margin_rows(payload)))
    for d in _datasets(payload, payload.get("reversal_sensitivity", [])):
        t = reversal_rows(payload, d)
        tables.append(page.table(f"reversal sensitivity · {t.caption} (the probe fitted on original, "
                                 "scored against the labels the reversal should have)", t.header, t.rows))
    for (dataset, _, _, probe), rs in _by_target(payload).items():
        r0 = rs[0]
        title = (f"{with_badge(_target_title(dataset, r0), _badge(static, r0))} · {r0['metric']} "
                 f"(chance {fmt(r0['chance'])}, probe {probe}, within-view)")
        tables.append(page.table(title, *score_rows(payload, rs)))
    return tables
