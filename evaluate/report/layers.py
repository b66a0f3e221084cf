"""The report's layer-sweep part: score against depth, per encoder and target, for runs with an
encoder swept over its layers (``layers=``). Empty for a run without a sweep.

Each panel is one (dataset, target, probe): one colour per swept encoder; the solid line is the test
score on the original view with its 95% CI, the dashed line the validation score the standing layer
was chosen on (evaluate/layers.py), and the ringed point the layer chosen. The panels share their
y scale so that targets read side by side.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from evaluate.layers import standing_rows
from evaluate.report import page
from evaluate.report.page import Figure, Section, Table, ci_text, fmt, md_table, svg

LAYERS_TEXT = ("A swept encoder (`layers=`) is probed at every layer it names, from one forward pass. The layer "
               "that stands for it in the margins, comparisons and verdict is the one with the best validation "
               "score (the probe's grouped cross-validation on train+val for `linear`, the val split for "
               "`attentive`): test clips never choose it. Test scores are shown for every layer, so a reader "
               "can see how much depth matters.")
PANELS_PER_ROW = 3

SweepKey = tuple[str, str, str, str]  # (dataset, target, encoder, probe)


def sweep_scores(payload: dict[str, Any]) -> dict[SweepKey, list[dict[str, Any]]]:
    """The within-view rows on the original view of swept encoders, by key, in layer order."""
    out: dict[SweepKey, list[dict[str, Any]]] = defaultdict(list)
    for r in payload.get("results", []):
        if r.get("layer") is not None and r["view"] == "original" and r["fit_view"] == "original":
            out[(r["dataset"], r["target"], r["encoder"], r["probe"])].append(r)
    return {key: sorted(rows, key=lambda r: r["layer"]) for key, rows in out.items()}


def _choices(payload: dict[str, Any]) -> dict[SweepKey, dict[str, Any]]:
    return {(c["dataset"], c["target"], c["encoder"], c["probe"]): c for c in payload.get("layer_choices", [])}


def _validation(choice: dict[str, Any] | None, layer: int) -> float | None:
    scores = (choice or {}).get("validation_scores", {})
    value = scores.get(layer, scores.get(str(layer)))  # json keys are strings
    return None if value is None else float(value)


def layer_rows(payload: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One row per swept (dataset, target, encoder, probe): the standing layer, its validation and
    test scores, and the test score of every layer."""
    header = ["dataset", "target", "encoder", "probe", "metric", "standing layer", "validation score",
              "test score [95% CI]", "test score by layer"]
    choices, rows = _choices(payload), []
    for key, scores in sweep_scores(payload).items():
        choice = choices.get(key)
        chosen = next((r for r in scores if choice and r["layer"] == choice["layer"]), None)
        by_layer = "; ".join(f"{r['layer']}: {fmt(r['value'], 2)}{'*' if r is chosen else ''}" for r in scores)
        rows.append([*key, scores[0]["metric"],
                     str(choice["layer"]) if choice else "none (no validation score)",
                     fmt(_validation(choice, choice["layer"])) if choice else "–",
                     f"{fmt(chosen['value'])} {ci_text(chosen['ci95'], chosen['test_groups'])}" if chosen else "–",
                     by_layer])
    return header, rows


def depth_plot(payload: dict[str, Any], dataset: str) -> Any:
    """Score against depth for one dataset: a panel per (target, probe), a colour per encoder."""
    plt = page.pyplot()
    choices = _choices(payload)
    panels: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(dict)
    for (d, target, encoder, probe), rows in sweep_scores(payload).items():
        if d == dataset:
            panels[(target, probe)][encoder] = rows
    encoders = list(dict.fromkeys(e for lines in panels.values() for e in lines))
    colour = {e: plt.get_cmap("tab10")(i % 10) for i, e in enumerate(encoders)}
    n = len(panels)
    cols = min(n, PANELS_PER_ROW)
    grid_rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(grid_rows, cols, figsize=(0.6 + 3.3 * cols, 1.0 + 2.9 * grid_rows), squeeze=False,
                             sharey=True, layout="constrained")
    low = 0.0
    for ax, ((target, probe), lines) in zip(axes.flat[:n], panels.items(), strict=True):
        for encoder, rows in lines.items():
            layers = np.array([r["layer"] for r in rows])
            value = np.array([r["value"] for r in rows])
            err = np.abs(np.array([[r["value"] - r["ci95"][0], r["ci95"][1] - r["value"]] for r in rows]).T)
            ax.errorbar(layers, value, yerr=np.nan_to_num(err), fmt="o-", ms=4, capsize=2, color=colour[encoder])
            choice = choices.get((dataset, target, encoder, probe))
            validation = np.array([_validation(choice, int(layer)) for layer in layers], dtype=float)
            ax.plot(layers, validation, "--", color=colour[encoder], lw=1)
            if choice:
                at = value[list(layers).index(choice["layer"])] if choice["layer"] in layers else np.nan
                ax.plot([choice["layer"]], [at], "o", ms=11, mfc="none", mec="black", mew=1.2)
            low = min(low, np.nanmin(np.concatenate([value - np.nan_to_num(err[0]), validation])))
        ax.axhline(next(iter(lines.values()))[0]["chance"], color="grey", ls=":", lw=1)
        ax.set_title(f"{target} · {probe} · {next(iter(lines.values()))[0]['metric']}")
        ax.set_xlabel("encoder block (depth)")
        ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("score (metric in the panel title)")
    axes[0, 0].set_ylim(max(low, -1.0) - 0.05, 1.05)  # R² can fall far below 0: clipped at −1
    _legend(fig, plt, encoders, colour)
    return fig


def _legend(fig: Any, plt: Any, encoders: list[str], colour: dict[str, Any]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour[e], marker="o", label=e) for e in encoders]
    handles += [Line2D([], [], color="black", label="test score, 95% CI (solid)"),
                Line2D([], [], color="black", ls="--", label="validation score (dashed)"),
                Line2D([], [], ls="", marker="o", ms=9, mfc="none", mec="black", label="standing layer"),
                Line2D([], [], color="grey", ls=":", label="chance")]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), frameon=False)


def depth_alt(dataset: str) -> str:
    return f"{dataset}: score against depth"


def layer_markdown(payload: dict[str, Any], figures: dict[str, str] | None = None) -> list[str]:
    """The report.md part: the depth plots written beside it (``figures``: alt -> file) and the table, or
    nothing without a sweep."""
    scores = sweep_scores(payload)
    if not scores:
        return []
    images = page.md_images(figures or {}, (depth_alt(d) for d in dict.fromkeys(key[0] for key in scores)))
    return ["## Score against depth (layer sweeps)", "", LAYERS_TEXT, "", *images,
            md_table(*layer_rows(payload)), "", "*: the standing layer.", ""]


def layer_section(payload: dict[str, Any]) -> Section | None:
    """The report.html part: a depth plot per dataset and the table; None without a sweep."""
    scores = sweep_scores(payload)
    if not scores:
        return None
    datasets = list(dict.fromkeys(key[0] for key in scores))
    figures = [Figure(svg(depth_plot(payload, d)), depth_alt(d)) for d in datasets]
    return Section("Score against depth (layer sweeps)", "layers", [LAYERS_TEXT],
                   [*figures, Table(*layer_rows(payload), caption="* marks the standing layer")])


def standing_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with each swept encoder's rows cut to its standing layer (:func:`evaluate.layers.standing_rows`):
    what the report's other parts read, so that a sweep shows one row per encoder there, as any other
    encoder does, and never the last layer by accident."""
    choices = payload.get("layer_choices", [])
    if not choices:
        return payload
    return {**payload, **{name: standing_rows(payload[name], choices)
                          for name in ("results", "temporal_margins", "reversal_sensitivity") if name in payload}}
