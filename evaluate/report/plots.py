"""The probe report's plots: the margins' forest plot per dataset, score bars per target and view,
predicted-vs-true scatters. Labels are placed so that they never overprint one another."""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluate.report import page
from evaluate.report.glance import mark_static
from evaluate.report.page import ci_text, fmt, with_badge
from evaluate.report.rows import (
    MARGIN_TYPES,
    STATIC,
    encoder_order,
    is_within,
    paired_margins,
    probe_label,
    run_views,
    static_targets,
    target_name,
)

# Bars of an R² below this are drawn down to it, faded, their true value written inside.
R2_FLOOR = -2.0
# The margins plot's x-axis stops here; a margin or whisker beyond it ends in a ◀ at the axis, the
# value written in a gutter to the axis' left, where no CI line or marker is drawn.
MARGIN_FLOOR = -1.5
GUTTER = 0.42  # the gutter's width, in margin units
METRIC_WORDS = {"r2": "R²", "circular_r2": "circular R²", "balanced_accuracy": "balanced accuracy"}
SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def unit_text(unit: str | None) -> str:
    """'m/s^2' -> 'm/s²', 'N*s' -> 'N·s', 'kg m^-1' -> 'kg m⁻¹': units in print notation."""
    if not unit:
        return ""
    import re

    return re.sub(r"\^(-?\d+)", lambda m: m.group(1).translate(SUPERSCRIPTS), unit).replace("*", "·")


def metric_words(metric: str) -> str:
    return METRIC_WORDS.get(metric, metric.replace("_", " "))


def _margin_rows(payload: dict[str, Any], dataset: str) -> list[tuple[str, bool, dict[str, dict[str, Any]] | None]]:
    """The forest plot's rows: per target a header (its name, static or not), then one per encoder."""
    static = static_targets(payload)
    pairs = [(k, ms) for k, ms in paired_margins(payload).items() if k[0] == dataset]
    label = probe_label([m for _, ms in pairs for m in ms.values()])
    order = encoder_order(payload)
    targets = list(dict.fromkeys(k[1:3] for k, _ in pairs))
    pairs.sort(key=lambda p: (targets.index(p[0][1:3]), order.get(p[0][3], len(order)), p[0][4]))
    rows: list[tuple[str, bool, dict[str, dict[str, Any]] | None]] = []  # label, static, margins (None: header)
    for t in targets:
        rows.append((target_name({"target": t[0], "subset": t[1]}), (dataset, t[0]) in static, None))
        rows += [(label({"encoder": k[3], "probe": k[4]}), False, ms) for k, ms in pairs if k[1:3] == t]
    return rows


MARGIN_STYLES = (("static", -0.2, "o", page.SERIES[0]), ("order", 0.2, "D", page.SERIES[1]))


def _forest_point(ax: Any, m: dict[str, Any], y: float, marker: str, color: str) -> None:
    """One margin: its CI line (cut at MARGIN_FLOOR), its marker (a ◀ at the floor when off-scale),
    and an off-scale value written in the gutter left of the axis, clear of every line."""
    v, (lo, hi) = m["value"], m["ci95"]
    grey = bool(m.get("degenerate_control"))
    c = "#9a9a9a" if grey else color
    if lo == lo and hi == hi:
        ax.plot([max(lo, MARGIN_FLOOR), max(hi, MARGIN_FLOOR)], [y] * 2, color=c, lw=1.4, solid_capstyle="butt")
    off = v < MARGIN_FLOOR
    ax.plot([max(v, MARGIN_FLOOR)], [y], marker="<" if off else marker, ms=6, color=c, mfc="white" if grey else c,
            mew=1.3, ls="none")
    if off:
        ax.text(MARGIN_FLOOR - 0.06, y, f"{v:.2f}".replace("-", "−"), ha="right", va="center", fontsize=7.5,
                color=c)
    elif lo == lo and lo < MARGIN_FLOOR:
        ax.plot([MARGIN_FLOOR], [y], marker="<", ms=4, color=c, ls="none")


def margin_plot(payload: dict[str, Any], dataset: str) -> Any:
    """Both margins of one dataset with their 95% CIs, as a forest plot: per target a header row
    (its name, and a static badge), then one row per encoder (· probe) with a filled dot for the
    static margin and a diamond for the order margin, far enough apart that their labels never
    meet; a vertical line at 0. Degenerate controls are hollow and grey. A margin below
    MARGIN_FLOOR ends in a ◀ at the axis, its value in the gutter to the left."""
    plt = page.pyplot()
    from matplotlib.lines import Line2D

    rows = _margin_rows(payload, dataset)
    records = [m for _, _, ms in rows if ms for m in ms.values() if m["value"] == m["value"]]
    highs = [max(m["value"], m["ci95"][1]) if m["ci95"][1] == m["ci95"][1] else m["value"] for m in records]
    lows = [min(m["value"], m["ci95"][0]) if m["ci95"][0] == m["ci95"][0] else m["value"] for m in records]
    off_scale = any(m["value"] < MARGIN_FLOOR for m in records)
    fig, ax = plt.subplots(figsize=(9.6, 1.0 + 0.3 * len(rows)), layout="constrained")
    for y, (_, _, ms) in enumerate(rows):
        if ms is None:
            ax.axhspan(y - 0.45, y + 0.45, color="#ececec", lw=0, zorder=0)
            continue
        for margin_type, dy, marker, color in MARGIN_STYLES:
            m = ms.get(margin_type)
            if m is not None and m["value"] == m["value"]:
                _forest_point(ax, m, y + dy, marker, color)
    ax.axvline(0, color="k", lw=1)
    ax.set_yticks(range(len(rows)), [with_badge(name, STATIC) if ms is None and is_static else name
                                     for name, is_static, ms in rows])
    for text, (_, is_static, ms) in zip(ax.get_yticklabels(), rows, strict=True):
        if ms is None:
            text.set_fontweight("bold")
            mark_static([text], [is_static])
        else:
            text.set_color("#333")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    left = max(min([*lows, 0.0]), MARGIN_FLOOR) - 0.05
    if off_scale:
        left = MARGIN_FLOOR - GUTTER
        ax.axvspan(left, MARGIN_FLOOR, color="#f7f7f7", lw=0, zorder=0)
        ax.axvline(MARGIN_FLOOR, color="#bbbbbb", lw=0.8, ls=":")
    ax.set_xlim(left, max([*highs, 1.0]) + 0.05)
    ax.set_xticks([x for x in ax.get_xticks() if x >= MARGIN_FLOOR - 1e-9 and x <= max([*highs, 1.0]) + 0.05])
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#e4e4e4", lw=0.6)
    ax.set_axisbelow(True)
    ax.set_xlabel("margin with its 95% CI (in the score's unit: balanced accuracy or R²)"
                  + (f"; left of the dotted line: values below {MARGIN_FLOOR}" if off_scale else ""))
    ax.set_title(f"{dataset}: margins", loc="left", fontweight="bold")
    handles = [Line2D([], [], color=c, marker=mk, ls="-", label=f"{t} ({MARGIN_TYPES[t]})")
               for t, _, mk, c in MARGIN_STYLES]
    handles.append(Line2D([], [], color="#9a9a9a", marker="o", mfc="white", ls="-", label="degenerate control"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def _bar(ax: Any, x: float, r: dict[str, Any], width: float, color: str, r2: bool) -> tuple[float, bool]:
    """One view's bar of one encoder, and (the lowest point it shows, whether its CI runs off the axis).
    An R² below R2_FLOOR is drawn to the floor, faded, its value written up the bar."""
    v, (lo, hi) = r["value"], r["ci95"]
    shown = max(v, R2_FLOOR) if r2 else v
    clipped = v != shown
    err = None if clipped else np.nan_to_num(np.abs([[v - max(lo, R2_FLOOR) if r2 else v - lo], [hi - v]]))
    ax.bar(x, shown, width, yerr=err, capsize=2, color=color, alpha=0.35 if clipped else 1.0, edgecolor=color,
           error_kw={"elinewidth": 1})
    if clipped:
        ax.text(x, shown / 2, f"{v:.2f}".replace("-", "−"), rotation=90, ha="center", va="center", fontsize=7,
                color="black")
    lowest = max(min(shown, lo), R2_FLOOR) if r2 else min(shown, lo)
    return lowest, (not clipped and r2 and lo < R2_FLOOR)


def bar_lowest(rows: list[dict[str, Any]]) -> float:
    """The lowest point a bar plot of these rows shows (0 at most): bars and whiskers, R² cut at R2_FLOOR.
    Target sections pass the lowest over their dataset's R² targets, so those panels share one y-range."""
    low = 0.0
    for r in rows:
        if not is_within(r) or r["value"] != r["value"]:
            continue
        lo = r["ci95"][0] if r["ci95"][0] == r["ci95"][0] else r["value"]
        low = min(low, max(min(r["value"], lo), R2_FLOOR) if r["metric"] in ("r2", "circular_r2") else min(r["value"], lo))
    return low


def bar_plot(payload: dict[str, Any], rows: list[dict[str, Any]], title: str, lowest: float = 0.0) -> Any:
    """Within-view bars per encoder and view with 95% CIs; an R² bar below R2_FLOOR is drawn to the floor, faded,
    its true value written up the bar, and a whisker that runs past the floor ends in a ▼ just inside the axis.
    The y-axis reaches down to ``lowest`` at least (the panels a reader compares share it: see bar_lowest)."""
    plt = page.pyplot()
    from matplotlib.patches import Patch

    rows = [r for r in rows if is_within(r)]
    views = run_views(payload)
    encoders = list(dict.fromkeys(r["encoder"] for r in rows))
    r2 = rows[0]["metric"] in ("r2", "circular_r2")
    width = 0.8 / max(len(views), 1)
    fig, ax = plt.subplots(figsize=(min(page.MAX_WIDTH_IN - 1.6, 1.2 + 1.0 * len(encoders)), 3.2),
                           layout="constrained")
    beyond = []  # x of whiskers that run below the axis
    for i, view in enumerate(views):
        x = np.arange(len(encoders)) + (i - (len(views) - 1) / 2) * width
        for k, enc in enumerate(encoders):
            r = next((r for r in rows if r["encoder"] == enc and r["view"] == view), None)
            if r is None or r["value"] != r["value"]:
                continue
            low, off = _bar(ax, x[k], r, width, page.SERIES[i % len(page.SERIES)], r2)
            lowest = min(lowest, low)
            beyond += [x[k]] if off else []
    handles = [Patch(color=page.SERIES[i % len(page.SERIES)], label=view) for i, view in enumerate(views)]
    handles.append(ax.axhline(rows[0]["chance"], color="k", ls="--", lw=1, label="chance"))
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xticks(np.arange(len(encoders)), encoders, rotation=15, ha="right", rotation_mode="anchor")
    ax.set_ylabel(f"{metric_words(rows[0]['metric'])}, 95% CI")
    bottom = lowest - 0.12 * (1.05 - lowest) if lowest < 0 else 0
    ax.set_ylim(bottom, 1.05)
    if beyond:
        handles += ax.plot(beyond, [bottom + 0.03 * (1.05 - bottom)] * len(beyond), "kv", ms=5,
                           label="CI runs below the axis")
    if any(r2 and r["value"] < R2_FLOOR for r in rows):
        handles.append(Patch(color="#999999", alpha=0.35, label=f"faded: below {R2_FLOOR:g}, value written"))
    ax.set_title(title, loc="left")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


SCATTER_COLUMNS = 4  # panels per row: each panel about 2.7 in, the row within the content column


def scatter_plot(preds: list[dict[str, Any]], rows: list[dict[str, Any]], title: str) -> Any:
    """Predicted vs true on the original view, one panel per encoder (SCATTER_COLUMNS to a row, so
    the figure is drawn at the size it is shown), its score [95% CI] and MAE (or angular error) in
    the panel, the target's name and unit on both axes. The points are rasterized: a few kB each."""
    plt = page.pyplot()
    unit = unit_text(rows[0].get("unit"))
    u = f" ({unit})" if unit else ""
    name = target_name(rows[0])
    score = {r["encoder"]: r for r in rows if r["view"] == "original" and is_within(r)}
    encoders = list(dict.fromkeys(p["encoder"] for p in preds))
    ncols = min(SCATTER_COLUMNS, len(encoders))
    nrows = -(-len(encoders) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(0.3 + 2.7 * ncols, 0.5 + 2.6 * nrows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(encoders):]:
        ax.set_visible(False)
    for ax, enc in zip(axes.flat, encoders, strict=False):
        yt = np.array([p["y_true"] for p in preds if p["encoder"] == enc], float)
        yp = np.array([p["y_pred"] for p in preds if p["encoder"] == enc], float)
        ax.scatter(yt, yp, s=9, alpha=0.7, color=page.SERIES[0], rasterized=True)
        lo, hi = min(yt.min(), yp.min()), max(yt.max(), yp.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        r = score.get(enc)
        if r:
            text = f"{metric_words(r['metric'])} {fmt(r['value'], 2)} {ci_text(r['ci95'], r.get('test_groups'))}"
            for key, what in (("mae", "MAE"), ("angular_error", "angular error")):
                if r.get(key) is not None:
                    text += f"\n{what} {fmt(r[key])}{f' {unit}' if unit else ''}"
            ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=8,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "#bbb", "alpha": 0.9})
        ax.set_title(enc, fontsize=page.SMALL)
        ax.set_xlabel(f"true {name}{u}", fontsize=page.SMALL)
        ax.set_ylabel(f"predicted{u}", fontsize=page.SMALL)
    fig.suptitle(title)
    return fig
