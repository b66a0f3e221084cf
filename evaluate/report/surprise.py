"""surprise_report.md and a self-contained surprise_report.html from surprise.json and
surprise_curves.jsonl: pooled scores, scores per violation kind (kinds can pull opposite ways, so
pooling alone can hide two real effects), seed spreads, timings, and surprise-over-time plots
aligned on the violation frame, per kind. Bands and CIs are 95%."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.io import load_surprise
from evaluate.report import page
from evaluate.report.page import Cell, Figure, Section, Table, md_table, png

REPORT_MD = "surprise_report.md"
REPORT_HTML = "surprise_report.html"
CHANCE = 0.5
Z95 = 1.96  # the curves' bands: mean ± 1.96 standard errors, a normal-approximation 95% CI
# Violation kinds' colours: neither the blue of possible nor the red of impossible clips.
KIND_COLORS = ("tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")


def _scored(score: float, ci: list[float]) -> Cell:
    """'value [lo, hi]', coloured where the CI excludes chance (above: the possible twin is the less
    surprising, as it should be; below: the model prefers the impossible one)."""
    return page.scored(score, ci, CHANCE, marks=True)


def score_table(payload: dict[str, Any]) -> tuple[list[str], list[list[str | Cell]]]:
    header = ["dataset", "encoder", "context", "aggregate", "pairwise acc [95% CI]", "AUROC [95% CI]", "groups"]
    rows = [[r["dataset"], r["encoder"], str(r["context"]), r["aggregate"],
             _scored(r["pairwise_accuracy"], r["pairwise_ci95"]), _scored(r["auroc"], r["auroc_ci95"]),
             str(r["n_groups"])] for r in payload["results"]]
    return header, rows


def _kinds(payload: dict[str, Any]) -> list[str]:
    return sorted({k for r in payload["results"] for k in r.get("by_violation", {})})


def kind_table(payload: dict[str, Any], aggregate: str = "max") -> tuple[list[str], list[list[str | Cell]]]:
    """At a glance: pairwise accuracy [95% CI] per violation kind (columns), one aggregate."""
    kinds = _kinds(payload)
    header = ["dataset", "encoder", "context", *(f"{k} (n)" for k in kinds)]
    rows = []
    for r in payload["results"]:
        if r["aggregate"] != aggregate:
            continue
        cells: list[str | Cell] = []
        for k in kinds:
            s = r["by_violation"].get(k)
            if s is None:
                cells.append(Cell("–", "na"))
                continue
            c = _scored(s["pairwise_accuracy"], s["pairwise_ci95"])
            cells.append(Cell(f"{c.text} ({s['n_groups']})", c.cls, c.title))
        rows.append([r["dataset"], r["encoder"], str(r["context"]), *cells])
    return header, rows


def kind_rows(payload: dict[str, Any]) -> tuple[list[str], list[list[str | Cell]]]:
    """Every per-kind number: pairwise accuracy and AUROC with 95% CIs, grouped by kind."""
    header = ["dataset", "violation", "encoder", "context", "aggregate", "pairwise acc [95% CI]",
              "AUROC [95% CI]", "pairs"]
    rows = []
    for kind in _kinds(payload):
        for r in payload["results"]:
            s = r.get("by_violation", {}).get(kind)
            if s is not None:
                rows.append([r["dataset"], kind, r["encoder"], str(r["context"]), r["aggregate"],
                             _scored(s["pairwise_accuracy"], s["pairwise_ci95"]), _scored(s["auroc"], s["auroc_ci95"]),
                             str(s["n_groups"])])
    rows.sort(key=lambda row: (row[0], row[1]))  # stable: results' order within a dataset and kind
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


def by_kind(curves: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Curves split by their twin pair's violation kind (the impossible clip's)."""
    kind = {c["group_id"]: c["violation"] for c in curves if c["possible"] != "true" and "violation" in c}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in curves:
        out[kind.get(c["group_id"], "?")].append(c)
    return dict(sorted(out.items()))


def surprise_plot(curves: list[dict[str, Any]], title: str) -> Any:
    """One column per context length. Top: mean surprise of possible and impossible clips, all kinds
    pooled. Bottom: the paired difference (impossible − possible), one line per violation kind. Both
    against frames since the violation (0: the first frame that differs); bands: 95% CIs."""
    plt = page.pyplot()
    contexts = sorted({c["context"] for c in curves})
    kinds = by_kind(curves)
    fig, axes = plt.subplots(2, len(contexts), figsize=(0.6 + 4.0 * len(contexts), 6.2), squeeze=False,
                             sharex=True, layout="constrained")
    for j, context in enumerate(contexts):
        top, bottom = axes[0][j], axes[1][j]
        a = aligned_curves([c for c in curves if c["context"] == context])
        for role, color in (("possible", "tab:blue"), ("impossible", "tab:red")):
            x, m, e = a[role]
            top.plot(x, m, color=color, label=f"{role} (all kinds)")
            top.fill_between(x, m - Z95 * e, m + Z95 * e, color=color, alpha=0.2)
        for k, (kind, cs) in enumerate(kinds.items()):
            x, m, e = aligned_curves([c for c in cs if c["context"] == context])["difference"]
            n = len({c["group_id"] for c in cs if c["context"] == context}) if len(x) else 0
            color = KIND_COLORS[k % len(KIND_COLORS)]
            bottom.plot(x, m, color=color, label=f"{kind} ({n} pairs)")
            bottom.fill_between(x, m - Z95 * e, m + Z95 * e, color=color, alpha=0.15)
        bottom.axhline(0, color="grey", lw=0.8)
        for ax in (top, bottom):
            ax.axvline(0, color="k", ls="--", lw=1)
        top.set_title(f"context {context} frames")
        bottom.set_xlabel("predicted frame − violation frame")
    axes[0][0].set_ylabel("surprise (mean, 95% CI)")
    axes[1][0].set_ylabel("impossible − possible\n(mean, 95% CI)")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    axes[1][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, title="violation")
    fig.suptitle(title)
    return fig


INTRO = ("Pairwise accuracy: fraction of twin pairs whose possible clip is the less surprising (chance 0.5). "
         "AUROC: impossible vs possible clips by surprise alone. A clip's surprise is the max or mean of its "
         "curve. CIs: bootstrap over twin pairs; ▲/▼: the 95% CI lies above/below 0.5.")
KINDS = ("Violation kinds can pull opposite ways (a teleport is a transient spike, a vanished object is easy to "
         "extrapolate), so a pooled score near 0.5 can hide two real effects.")


def _setup(payload: dict[str, Any]) -> str:
    """Contexts, horizon, stride and split, from the config (or the results, where it leaves one out)."""
    c, rs = payload.get("config", {}), payload["results"]
    contexts = c.get("contexts") or sorted({r["context"] for r in rs})
    horizon = c.get("horizon", rs[0].get("horizon", "?") if rs else "?")
    stride = f", stride {c['stride']}" if "stride" in c else ""
    return f"contexts {contexts} frames, horizon {horizon}{stride}, split {c.get('split') or 'all'}"


def render_markdown(payload: dict[str, Any]) -> str:
    out = ["# surprise report", "",
           f"Created {payload['created']}; datasets: "
           + ", ".join(f"`{d['name']}` (sha {d['content_sha256']})" for d in payload["datasets"])
           + f"; {_setup(payload)}.", "", INTRO, "", md_table(*score_table(payload)), "",
           "## Pairwise accuracy by violation (aggregate max)", "", KINDS, "", md_table(*kind_table(payload)), "",
           "## By violation: every score", "", md_table(*kind_rows(payload)), ""]
    seeds = seed_table(payload)
    if seeds[1]:
        out += ["## Random-init controls over seeds", "", md_table(*seeds), ""]
    out += ["## Timing", "", md_table(*timing_table(payload)), "", *page.md_footer(payload)]
    return "\n".join(out)


def render_html(payload: dict[str, Any], curves: list[dict[str, Any]]) -> str:
    sections = [Section("Scores, all kinds pooled", "pooled", [INTRO], [Table(*score_table(payload))]),
                Section("Pairwise accuracy by violation (aggregate max)", "kinds", [KINDS],
                        [Table(*kind_table(payload))]),
                Section("By violation: every score", "kind-scores", [], [Table(*kind_rows(payload))])]
    seeds = seed_table(payload)
    if seeds[1]:
        sections.append(Section("Random-init controls over seeds", "seeds", [], [Table(*seeds)]))
    curves_section = Section("Surprise over time", "curves", [
        "Aligned on the violation frame (dashed line): the twins share every frame before it, so the curves "
        "agree until a window predicts a frame at or after it. Top: possible and impossible clips, all kinds "
        f"pooled; bottom: the paired difference per violation kind. Bands: 95% CI (mean ± {Z95} standard errors "
        "over clips, over pairs for the difference)."])
    for d in payload["datasets"]:
        for e in payload["encoders"]:
            sel = [c for c in curves if c["dataset"] == d["name"] and c["encoder"] == e["encoder"]]
            if sel:
                curves_section.parts.append(Figure(png(surprise_plot(sel, f"{d['name']} · {e['encoder']}")),
                                                   f"surprise over time, {d['name']}, {e['encoder']}"))
    sections += [curves_section, Section("Timing", "timing", [], [Table(*timing_table(payload))])]
    return page.render_page("surprise.html", "surprise report", payload, sections,
                       encoders=[e["encoder"] for e in payload["encoders"]], setup=_setup(payload))


def write_surprise_reports(out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    payload, curves = load_surprise(out_dir)
    return page.write_pair(out_dir, REPORT_MD, render_markdown(payload), REPORT_HTML, render_html(payload, curves))


def rich_table(payload: dict[str, Any]) -> Any:
    return page.table("surprise: possible vs impossible twins (chance 0.5)", *score_table(payload))
