"""The surprise report's curves: surprise over time aligned on the onset frame, per dataset × model, and what
"surprise" means for each model family (its unit), so that a reader knows what the y-axis counts.

Every panel a reader compares shares its vertical scale: the context columns of one figure share each row's
range, and the difference row spans at least ±DIFF_FLOOR of the top row's range, so a dip of float noise
(1e-9 in a panel whose curves move by 0.1) stays flat instead of filling the panel."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from evaluate.report import page

Z95 = 1.96  # the curves' bands: mean ± 1.96 standard errors, a normal-approximation 95% CI
DIFF_FLOOR = 0.1  # the difference row spans at least ± this share of the top row's range
# Possible and impossible clips: series colours, never the blue/red that mean above/below the reference in
# the tables. Possible is drawn thick and pale under impossible, so both show where they coincide.
POSSIBLE, IMPOSSIBLE = "#b0b0b0", page.SERIES[1]
KIND_COLORS = page.SERIES[2:]

# What one window's surprise is, per model family (the spec before its first ',' or ':'), and its unit.
MEANINGS = {
    "vjepa2": ("the mean L1 distance between the predicted and the actual layer-normed encodings of the "
               "horizon's tubelets", "L1"),
    "trajectory": ("the mean of five trajectory signals read at the horizon frames from per-frame embeddings, "
                   "lengths in the window's mean step and angles in π (a straight constant-speed window scores 0.2)",
                   "signal"),
    "extrapolate": ("the mean absolute error of a physics-free pixel extrapolation (the last frame repeated, or "
                    "the last two continued) on frames block-averaged to 32×32, intensities in 0–1",
                    "pixel error"),
    "frame-classifier": ("the mean P(impossible) over the horizon frames, from a cross-fitted logistic regression "
                         "on one frame's pixels", "P(impossible)"),
    "oracle": ("the mean position error of a constant-acceleration fit to the true states over the horizon's "
               "body-frames, 10 m where a body appears or vanishes", "m"),
}
MEANINGS["random-vjepa2"] = MEANINGS["vjepa2"]


def family(model: str) -> str:
    """'extrapolate,order=1' -> 'extrapolate', 'trajectory:pixels' -> 'trajectory'."""
    return model.split(",")[0].split(":")[0]


def meaning(model: str) -> tuple[str, str]:
    """(what a window's surprise is, its unit) for a model spec; unknown families get a generic line."""
    return MEANINGS.get(family(model), ("the model's prediction error on the horizon frames", "model's unit"))


def onset(c: dict[str, Any]) -> int:
    """The frame the curves are aligned on: the onset (the first frame whose pixels differ), else the
    violation frame (files written before onsets existed, and twins, where the two are the same)."""
    return c.get("onset_frame", c["violation_frame"])


def aligned_curves(curves: list[dict[str, Any]]) -> dict[str, tuple[np.ndarray, ...]]:
    """Per role (possible/impossible) and for the group difference (mean of its impossible clips − mean of
    its possible ones): offsets from the onset frame, mean and standard error over clips (groups for the
    difference)."""
    by_role: dict[str, dict[int, list[float]]] = {"possible": defaultdict(list), "impossible": defaultdict(list),
                                                  "difference": defaultdict(list)}
    groups: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for c in curves:
        role = "possible" if c["possible"] == "true" else "impossible"
        groups[c["group_id"]][role].append(c)
        for f, s in zip(c["frame"], c["surprise"], strict=True):
            by_role[role][f - onset(c)].append(s)
    for g in groups.values():
        if g["possible"] and g["impossible"]:
            first = g["possible"][0]
            mean = {role: np.mean([c["surprise"] for c in cs], axis=0) for role, cs in g.items()}
            for f, d in zip(first["frame"], mean["impossible"] - mean["possible"], strict=True):
                by_role["difference"][f - onset(first)].append(float(d))
    out = {}
    for role, d in by_role.items():
        offsets = np.array(sorted(d))
        mean = np.array([np.mean(d[o]) for o in offsets])
        sem = np.array([np.std(d[o]) / np.sqrt(len(d[o])) for o in offsets])
        out[role] = (offsets, mean, sem)
    return out


def by_kind(curves: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Curves split by their group's violation kind (``group_violation``, else the impossible clip's)."""
    kind = {c["group_id"]: c["violation"] for c in curves if c["possible"] != "true" and "violation" in c}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in curves:
        out[c.get("group_violation", kind.get(c["group_id"], "?"))].append(c)
    return dict(sorted(out.items()))


def _span(arrays: list[np.ndarray]) -> tuple[float, float]:
    values = np.concatenate([a[np.isfinite(a)] for a in arrays if len(a)] or [np.zeros(1)])
    return (float(values.min()), float(values.max())) if len(values) else (0.0, 0.0)


def difference_limits(top: tuple[float, float], bottom: tuple[float, float]) -> tuple[float, float]:
    """The difference row's y-range: its data with a 5% margin, widened to at least ±DIFF_FLOOR of the top
    row's range (or ±1 where nothing moves), so that float noise is drawn flat."""
    floor = DIFF_FLOOR * (top[1] - top[0]) or DIFF_FLOOR * max(abs(top[0]), abs(top[1])) or 1.0
    lo, hi = bottom
    pad = 0.05 * (hi - lo)
    return min(lo - pad, -floor), max(hi + pad, floor)


def surprise_plot(curves: list[dict[str, Any]], title: str, unit: str = "") -> Any:
    """One column per context length, sharing each row's vertical scale. Top: mean surprise of possible
    (thick, pale, underneath) and impossible clips, all kinds pooled. Bottom: the group difference
    (impossible − possible), one line per violation kind, spanning at least ±DIFF_FLOOR of the top row's
    range. Both against frames since the onset (0: the first frame whose pixels differ); bands: 95% CIs."""
    plt = page.pyplot()
    contexts = sorted({c["context"] for c in curves})
    kinds = by_kind(curves)
    fig, axes = plt.subplots(2, len(contexts), figsize=(1.6 + 3.6 * len(contexts), 5.6), squeeze=False,
                             sharex=True, sharey="row", layout="constrained")
    tops: list[np.ndarray] = []
    diffs: list[np.ndarray] = []
    for j, context in enumerate(contexts):
        top, bottom = axes[0][j], axes[1][j]
        a = aligned_curves([c for c in curves if c["context"] == context])
        for role, color, lw, alpha in (("possible", POSSIBLE, 4.5, 1.0), ("impossible", IMPOSSIBLE, 1.4, 1.0)):
            x, m, e = a[role]
            top.plot(x, m, color=color, lw=lw, alpha=alpha, solid_capstyle="butt",
                     label="possible (thick, underneath)" if role == "possible" else "impossible")
            top.fill_between(x, m - Z95 * e, m + Z95 * e, color=color, alpha=0.12, lw=0)
            tops += [m - Z95 * e, m + Z95 * e]
        for k, (kind, cs) in enumerate(kinds.items()):
            x, m, e = aligned_curves([c for c in cs if c["context"] == context])["difference"]
            n = len({c["group_id"] for c in cs if c["context"] == context}) if len(x) else 0
            color = KIND_COLORS[k % len(KIND_COLORS)]
            bottom.plot(x, m, color=color, label=f"{kind} ({n} groups)")
            bottom.fill_between(x, m - Z95 * e, m + Z95 * e, color=color, alpha=0.15, lw=0)
            diffs += [m - Z95 * e, m + Z95 * e]
        bottom.axhline(0, color="grey", lw=0.8)
        for ax in (top, bottom):
            ax.axvline(0, color="k", ls="--", lw=1)
            ax.ticklabel_format(axis="y", useOffset=False)
        top.set_title(f"context {context} frames")
        bottom.set_xlabel("first predicted frame − onset frame")
    top_span = _span(tops)
    axes[1][0].set_ylim(*difference_limits(top_span, _span(diffs)))
    u = f" ({unit})" if unit else ""
    axes[0][0].set_ylabel(f"surprise{u}\nmean, 95% CI")
    axes[1][0].set_ylabel(f"impossible −\npossible{u}")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    axes[1][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, title="violation")
    fig.suptitle(title)
    return fig
