"""The probe report's "at a glance": per dataset, an encoder × target grid of margins, the heatmap
drawn from it and one summary line that counts targets (controls are shown, never crowned)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluate.metrics import MIN_TEST_GROUPS
from evaluate.report import page
from evaluate.report.page import fmt, with_badge
from evaluate.report.rows import (
    MARGIN_TYPES,
    STATIC,
    datasets_of,
    encoder_order,
    encoder_roles,
    probe_label,
    static_targets,
    target_name,
)

# Margins beyond ±1 (a score far below chance, an R² far below 0) take these shades, darker than the
# colour scale's ends, and the colour bar shows them as its end triangles.
OVER, UNDER = "#08214a", "#4a0010"
HEATMAP_LIMIT = 1.0


@dataclass
class MarginGrid:
    """One dataset's margins of one type: rows (encoder, or 'encoder · probe' when a run has several
    probes; the contenders first, then the controls) × target columns; NaN where there is none."""

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
    control: list[bool] | None = None  # per row: a control (oracle, track), never a contender

    def label(self, j: int) -> str:
        return with_badge(self.targets[j], STATIC if self.static[j] else "")

    def is_control(self, i: int) -> bool:
        return bool(self.control and self.control[i])

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
    label = probe_label(margins)
    order = encoder_order(payload)
    roles = encoder_roles(payload)
    static = static_targets(payload)
    grids = []
    for dataset in datasets_of(payload, margins):
        ms = [m for m in margins if m["dataset"] == dataset]
        keys = sorted({(m["encoder"], m["probe"]): None for m in ms},
                      key=lambda k: (roles.get(k[0]) == "control", order.get(k[0], len(order)), k))
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
                                [(dataset, t) in static for t, _ in targets], margin_type,
                                [roles.get(e) == "control" for e, _ in keys]))
    return grids


def headline_grids(payload: dict[str, Any]) -> list[MarginGrid]:
    """The static margins; the order margins where a run has no static control."""
    return margin_grids(payload, "static") or margin_grids(payload, "order")


def summary_line(g: MarginGrid) -> str:
    """'falling_rising: best static margin of an encoder +0.42 [0.30, 0.51] (pixels, direction); on 3
    of 6 targets some encoder's margin has a 95% CI that excludes 0 (2 only above, 1 only below, 0
    both ways)'. Controls (oracles, track) are neither crowned nor counted; degenerate margins are
    not counted, and their number is said apart (it counts encoder × target cells, not targets)."""
    contender = np.array([not g.is_control(i) for i in range(len(g.rows))], bool)
    usable = contender[:, None] & ~g.degenerate
    value = np.where(usable, g.value, np.nan)
    skipped = int((g.degenerate & contender[:, None]).sum())
    note = (f". {skipped} encoder × target cell(s) have a degenerate control and are not counted"
            if skipped else "")
    if np.isnan(value).all():
        return f"{g.dataset}: no {g.margin_type} margin of an encoder (controls aside){note}"
    i, j = np.unravel_index(np.nanargmax(value), value.shape)
    marked = g.marked & usable
    up = (marked & (g.lo > 0)).any(axis=0)
    down = (marked & (g.hi < 0)).any(axis=0)
    n = int((up | down).sum())
    split = (f" ({int((up & ~down).sum())} only above, {int((down & ~up).sum())} only below, "
             f"{int((up & down).sum())} both ways)")
    return (f"{g.dataset}: best {g.margin_type} margin of an encoder {value[i, j]:+.2f} [{fmt(g.lo[i, j], 2)}, "
            f"{fmt(g.hi[i, j], 2)}]{'†' if g.few[i, j] else ''} ({g.rows[i]}, {g.label(j)}); on {n} of "
            f"{len(g.targets)} targets an encoder's {g.margin_type} margin has a 95% CI that excludes 0{split}{note}")


STATIC_COLOR = "#8a5a00"  # tick labels of static targets: the amber of the static badge


def mark_static(labels: list[Any], static: list[bool]) -> None:
    """Static targets' tick labels: the badge's colours (their text already ends in '[static]')."""
    for text, is_static in zip(labels, static, strict=True):
        if is_static:
            text.set_color(STATIC_COLOR)
            text.set_bbox({"boxstyle": "round,pad=0.25", "fc": "#f8e3b4", "ec": "none"})


def _heatmap_cell(ax: Any, g: MarginGrid, i: int, j: int, limit: float) -> None:
    from matplotlib.patches import Rectangle

    if g.degenerate[i, j]:
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fc="#f2f2f2", ec="#ffffff", lw=1))
        ax.text(j, i, g.cell_text(i, j), ha="center", va="center", fontsize=10, color="#777")
        return
    v = g.value[i, j]
    dark = v == v and abs(v) > 0.55 * limit
    ax.text(j, i, g.cell_text(i, j), ha="center", va="center", fontsize=10,
            color="white" if dark else "black", fontweight="bold" if g.marked[i, j] else "normal")
    if g.marked[i, j]:
        ax.add_patch(Rectangle((j - 0.47, i - 0.45), 0.94, 0.9, fill=False, ec="black", lw=2))


def margin_heatmap(grids: list[MarginGrid]) -> Any:
    """Encoder × target heatmap of margins, one panel per dataset, colours diverging at 0 on one
    scale up to ±HEATMAP_LIMIT; beyond it the darker OVER/UNDER shades (the colour bar's triangles),
    the number in the cell always the true value. ★ and a black border where the CI excludes 0;
    plain grey 'n/a' where the control is degenerate; the controls below a line."""
    plt = page.pyplot()
    from matplotlib.colors import Normalize

    ncols = max(len(g.targets) for g in grids)
    finite = np.concatenate([g.value[np.isfinite(g.value) & ~g.degenerate] for g in grids])
    limit = float(np.clip(np.abs(finite).max() if finite.size else HEATMAP_LIMIT, 0.1, HEATMAP_LIMIT))
    cmap = plt.get_cmap("RdBu").with_extremes(over=OVER, under=UNDER, bad="#e6e6e6")
    norm = Normalize(-limit, limit)
    width = min(page.MAX_WIDTH_IN, 2.6 + 0.95 * ncols)
    fig = plt.figure(figsize=(width, 0.75 + sum(0.6 + 0.36 * len(g.rows) for g in grids)), layout="constrained")
    gs = fig.add_gridspec(len(grids), ncols, height_ratios=[1.2 + len(g.rows) for g in grids])
    axes = []
    for k, g in enumerate(grids):
        ax = fig.add_subplot(gs[k, : len(g.targets)])
        axes.append(ax)
        im = ax.imshow(np.ma.masked_invalid(np.where(g.degenerate, np.nan, g.value)), cmap=cmap, norm=norm,
                       aspect="auto")
        ax.set_xticks(range(len(g.targets)), [g.label(j) for j in range(len(g.targets))], rotation=20, ha="right",
                      rotation_mode="anchor")
        mark_static(ax.get_xticklabels(), g.static)
        ax.set_yticks(range(len(g.rows)), g.rows)
        for text, i in zip(ax.get_yticklabels(), range(len(g.rows)), strict=True):
            text.set_color("#666" if g.is_control(i) else "#222")
        first_control = next((i for i in range(len(g.rows)) if g.is_control(i)), None)
        if first_control:
            ax.axhline(first_control - 0.5, color="black", lw=1.5)
        ax.set_title(g.dataset, loc="left", fontweight="bold")
        ax.tick_params(length=0)
        for i in range(len(g.rows)):
            for j in range(len(g.targets)):
                _heatmap_cell(ax, g, i, j, limit)
    bar = fig.colorbar(im, ax=axes, shrink=min(1.0, 3.0 / len(grids) + 0.2), aspect=25, pad=0.02, extend="both",
                       extendfrac=0.06)
    control = MARGIN_TYPES.get(grids[0].margin_type, "control")
    bar.set_label(f"{grids[0].margin_type} margin: original − max(chance, {control}); triangles: beyond ±{limit:g}")
    return fig
