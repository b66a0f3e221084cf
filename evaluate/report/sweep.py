"""sweep-PARAM.md and .html: a score against one scene parameter, binned, with the psychometric fit."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.metrics import psychometric
from evaluate.report import page
from evaluate.report.page import Figure, Section, Table, ci_text, fmt, md_table, svg


def result_rows(out: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["dataset", "target", "encoder", "probe", "metric", "threshold [95% CI]", "where", "slope",
              "bins: center → score"]
    rows = []
    for r in out["results"]:
        bins = "; ".join(f"{b['center']:.3g} → {b['score']:.2f}" for b in r["bins"])
        rows.append([r["dataset"], r["target"], r["encoder"], r["probe"], r["metric"],
                     f"{fmt(r['threshold'])} {ci_text(r['threshold_ci95'])}" if r["threshold_in_range"]
                     else f"– {ci_text(r['threshold_ci95'])}", r["threshold_note"],
                     fmt(r["slope"]), bins])
    return header, rows


def _setup(out: dict[str, Any]) -> str:
    c = out["config"]
    return (f"view {c['view']}, {c['bins']} quantile bins of the test set. Threshold: where the fitted curve is "
            "halfway from chance (R² 0 for regression) to 1; CI from refits on resampled test groups.")


def render_markdown(out: dict[str, Any]) -> str:
    return "\n".join([f"# sweep over `{out['config']['param']}`", "", f"Run {out['rundir']}, {_setup(out)}", "",
                      md_table(*result_rows(out)), ""])


def sweep_plot(results: list[dict[str, Any]], title: str) -> Any:
    """Score per bin of the parameter with its 95% CI, the fitted psychometric curve and, where it
    falls in the range, the threshold (red); one panel per encoder."""
    plt = page.pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(0.4 + 3.4 * len(results), 3.4), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, r in zip(axes[0], results, strict=True):
        c = np.array([b["center"] for b in r["bins"]])
        s = np.array([b["score"] for b in r["bins"]])
        err = np.abs(np.array([[b["score"] - b["ci95"][0], b["ci95"][1] - b["score"]] for b in r["bins"]]).T)
        ax.errorbar(c, s, yerr=np.nan_to_num(err), fmt="o", capsize=2)
        if np.isfinite(r["threshold"]):
            grid = np.linspace(*r["range"], 100)
            ax.plot(grid, psychometric(np.array([r["threshold"], r["slope"]]), grid, r["floor"]), "k-", lw=1)
            if r["threshold_in_range"]:
                ax.axvline(r["threshold"], color="tab:red", ls="--", lw=1)
        ax.axhline(r["floor"], color="grey", ls=":", lw=1)
        ax.set_title(r["encoder"])
        ax.set_xlabel(r["param"])
        ax.set_ylim(min(-0.05, ax.get_ylim()[0]), 1.05)
    axes[0][0].set_ylabel(results[0]["metric"])
    fig.suptitle(title)
    return fig


def render_html(out: dict[str, Any]) -> str:
    sections = [Section("Thresholds", "thresholds", [], [Table(*result_rows(out))])]
    panels: dict[tuple, list[dict]] = defaultdict(list)
    for r in out["results"]:
        panels[(r["dataset"], r["target"], r["probe"])].append(r)
    for (dataset, target, probe), rs in panels.items():
        sections.append(Section(f"{dataset} · {target}", f"{dataset}-{target}-{probe}", [],
                                [Figure(svg(sweep_plot(rs, f"{dataset} · {target} · probe {probe}")),
                                        f"{target} against {out['config']['param']}")], level=3))
    return page.render_page("sweep.html", f"sweep over {out['config']['param']}", out, sections, skipped=False,
                       rundir=out["rundir"], setup=_setup(out))


def write_sweep_reports(stem: Path, out: dict[str, Any]) -> tuple[Path, Path]:
    """STEM.md and STEM.html (STEM is the run folder's sweep-PARAM)."""
    return page.write_pair(stem.parent, f"{stem.name}.md", render_markdown(out), f"{stem.name}.html", render_html(out))


# ---------------------------------------------------------------- the timescale: a frame-step sweep


def frame_step_rows(out: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["dataset", "target", "encoder", "probe", "step", "frames", "span (s)", "metric", "score [95% CI]",
              "static margin", "order margin"]
    rows = []
    for r in out["results"]:
        margin = {k: f"{r[f'{k}_margin']:+.2f} {ci_text(r[f'{k}_margin_ci95'])}" if f"{k}_margin" in r else "–"
                  for k in ("static", "order")}
        rows.append([r["dataset"], r["target"], r["encoder"], r["probe"], str(r["step"]), str(r["frames"]),
                     f"{r['span_s']:.2f}", r["metric"], f"{fmt(r['value'])} {ci_text(r['ci95'])}", margin["static"],
                     margin["order"]])
    return header, rows


def _frame_step_setup(out: dict[str, Any]) -> str:
    c = out["config"]
    return (f"each encoder reads {c['frames']} frames taken every S-th frame of clips of {out['clip_frames']} frames "
            f"at {out['fps']} fps (S = {', '.join(map(str, c['frame_steps']))}), so the span it sees grows with S. "
            "Margins: original − max(chance, control); static control single_frame, order control shuffled.")


def frame_step_plot(results: list[dict[str, Any]], title: str) -> Any:
    """Score (with its CI) against the span the encoder sees, one line per encoder, chance dotted."""
    plt = page.pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    lines: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        lines[r["encoder"]].append(r)
    for encoder, rs in lines.items():
        x = np.array([r["span_s"] for r in rs])
        y = np.array([r["value"] for r in rs])
        err = np.abs(np.array([[r["value"] - r["ci95"][0], r["ci95"][1] - r["value"]] for r in rs]).T)
        ax.errorbar(x, y, yerr=np.nan_to_num(err), fmt="o-", capsize=2, label=encoder)
        for r in rs:
            ax.annotate(f"step {r['step']}", (r["span_s"], r["value"]), textcoords="offset points", xytext=(4, 4),
                        fontsize=7)
    ax.axhline(results[0]["chance"], color="grey", ls=":", lw=1)
    ax.set_xlabel("span the encoder sees (s)")
    ax.set_ylabel(results[0]["metric"])
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    ax.set_title(title)
    return fig


def write_frame_step_reports(stem: Path, out: dict[str, Any]) -> tuple[Path, Path]:
    """STEM.md and STEM.html (STEM is OUT/sweep-frame_step)."""
    markdown = "\n".join(["# sweep over the frame step", "", _frame_step_setup(out), "",
                          md_table(*frame_step_rows(out)), ""])
    sections = [Section("Scores and margins by frame step", "steps", [], [Table(*frame_step_rows(out))])]
    panels: dict[tuple, list[dict]] = defaultdict(list)
    for r in out["results"]:
        panels[(r["dataset"], r["target"], r["probe"])].append(r)
    for (dataset, target, probe), rs in panels.items():
        sections.append(Section(f"{dataset} · {target}", f"{dataset}-{target}-{probe}", [],
                                [Figure(svg(frame_step_plot(rs, f"{dataset} · {target} · probe {probe}")),
                                        f"{target} against the span the encoder sees")], level=3))
    html = page.render_page("sweep.html", "sweep over the frame step", out, sections, skipped=False,
                            rundir=out["rundir"], setup=_frame_step_setup(out))
    return page.write_pair(stem.parent, f"{stem.name}.md", markdown, f"{stem.name}.html", html)
