"""surprise_report.md and a self-contained surprise_report.html from surprise.json and
surprise_curves.jsonl: the certification of each violation kind by the controls (first), the paired comparisons
of the evaluated models (the tubelet-versus-album verdict on the same groups), pooled scores,
scores per violation kind (kinds can pull opposite ways, so pooling alone can hide two real effects),
skipped groups, seed spreads, timings, and surprise-over-time plots aligned on the onset frame, per kind.
Bands and CIs are 95%. Files written before relative accuracy existed are read with the pairwise figures
in its place (the two are the same on pairs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluate.io import load_surprise
from evaluate.report import page
from evaluate.report.page import Cell, Figure, Section, Table, md_table, svg
from evaluate.report.surprise_plots import DIFF_FLOOR, Z95, meaning, surprise_plot

REPORT_MD = "surprise_report.md"
REPORT_HTML = "surprise_report.html"
FIGURES = "surprise_figures"  # the curves as SVG files beside surprise_report.md, which links them
CHANCE = 0.5


def _scored(score: float, ci: list[float]) -> Cell:
    """'value [lo, hi]', coloured where the CI excludes chance (above: the possible clips are the less
    surprising, as they should be; below: the model prefers the impossible ones)."""
    return page.scored(score, ci, CHANCE, marks=True)


def _relative(s: dict[str, Any]) -> Cell:
    return _scored(s.get("relative_accuracy", s["pairwise_accuracy"]), s.get("relative_ci95", s["pairwise_ci95"]))


def _three(s: dict[str, Any]) -> list[str | Cell]:
    """Relative accuracy, pairwise accuracy and AUROC, each with its CI."""
    return [_relative(s), _scored(s["pairwise_accuracy"], s["pairwise_ci95"]), _scored(s["auroc"], s["auroc_ci95"])]


SCORES = ["relative acc [95% CI]", "pairwise acc [95% CI]", "AUROC [95% CI]"]


def certification_table(payload: dict[str, Any]) -> tuple[list[str], list[list[str | Cell]]]:
    """Per dataset × violation kind: design, certified or not and why, and how many negative-control cells
    have a CI excluding 0.5 beside how many chance alone would give."""
    header = ["dataset", "kind", "design", "certified",
              Cell("negative-control cells whose CI excludes 0.5", title="observed, of all cells, beside the count "
                   "expected when every negative control sits at chance (5% of the cells)"), "reason"]
    rows = []
    for c in payload.get("certification", []):
        design = f"{c['design']}, {'balanced' if c['balanced'] else 'unbalanced'}"
        verdict = Cell("yes", "above") if c["certified"] else Cell("no", "below")
        counts = (f"{c['negative_cells_excluding_chance']} of {c['negative_cells']} "
                  f"({c['expected_by_chance']:.1f} expected by chance)")
        rows.append([c["dataset"], c["kind"], design, verdict, counts, "; ".join(c["reasons"]) or "–"])
    return header, rows


def comparison_table(payload: dict[str, Any]) -> tuple[list[str], list[list[str | Cell]]]:
    """Per pair of models × dataset × kind × context × aggregate: both relative accuracies, a − b with its
    paired CI, the p-value before and after Holm, the call, and whether the controls certify the kind."""
    header = ["dataset", "kind", "context", "aggregate", "a", "b", "a rel acc", "b rel acc", "a − b [95% CI]",
              "p", "p (Holm)", "call", "certified", "groups"]
    rows = []
    for c in payload.get("comparisons", []):
        decided = c["call"] != "tie"
        call = Cell(c[c["call"]] if decided else "tie", "above" if decided else "",
                    "ahead at Holm-adjusted p < 0.05" if decided else "the difference could be chance")
        rows.append([c["dataset"], c["kind"], str(c["context"]), c["aggregate"], c["a"], c["b"],
                     page.fmt(c["a_value"]), page.fmt(c["b_value"]),
                     f"{page.fmt(c['diff'])} {page.ci_text(c['ci95'])}", page.fmt(c["p"]), page.fmt(c["p_adjusted"]),
                     call, "yes" if c["certified"] else Cell("no", "below", "the controls do not certify this kind"),
                     str(c["n_groups"])])
    return header, rows


def score_table(payload: dict[str, Any]) -> tuple[list[str], list[list[str | Cell]]]:
    header = ["dataset", "encoder", "context", "aggregate", *SCORES, "groups", "skipped"]
    rows = [[r["dataset"], r["encoder"], str(r["context"]), r["aggregate"], *_three(r), str(r["n_groups"]),
             str(r.get("skipped_groups", 0))] for r in payload["results"]]
    return header, rows


def _kinds(payload: dict[str, Any]) -> list[str]:
    return sorted({k for r in payload["results"] for k in r.get("by_violation", {})})


def kind_table(payload: dict[str, Any], aggregate: str = "max") -> tuple[list[str], list[list[str | Cell]]]:
    """At a glance: relative accuracy [95% CI] per violation kind (columns), one aggregate."""
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
            c = _relative(s)
            cells.append(Cell(f"{c.text} ({s['n_groups']})", c.cls, c.title))
        rows.append([r["dataset"], r["encoder"], str(r["context"]), *cells])
    return header, rows


def kind_rows(payload: dict[str, Any]) -> tuple[list[str], list[list[str | Cell]]]:
    """Every per-kind number: relative and pairwise accuracy and AUROC with 95% CIs, grouped by kind."""
    header = ["dataset", "violation", "encoder", "context", "aggregate", *SCORES, "groups"]
    rows = []
    for kind in _kinds(payload):
        for r in payload["results"]:
            s = r.get("by_violation", {}).get(kind)
            if s is not None:
                rows.append([r["dataset"], kind, r["encoder"], str(r["context"]), r["aggregate"], *_three(s),
                             str(s["n_groups"])])
    rows.sort(key=lambda row: (row[0], row[1]))  # stable: results' order within a dataset and kind
    return header, rows


def skipped_table(payload: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Groups each context could not score: it reaches past the violation, or no window holds the onset."""
    header = ["dataset", "encoder", "context", "groups", "skipped (context past the violation)",
              "onset not scored (no window holds it)"]
    rows = [[g["dataset"], g["encoder"], str(g["context"]), str(g["groups"]), str(g["past_violation"]),
             str(g["no_onset_window"])] for g in payload.get("skipped", {}).get("groups", [])]
    return header, rows


def seed_table(payload: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["dataset", "encoder (all seeds)", "context", "aggregate", "seeds", "relative acc mean ± sd",
              "pairwise acc mean ± sd", "AUROC mean ± sd"]
    rows = [[s["dataset"], s["encoder"], str(s["context"]), s["aggregate"], str(s["seeds"]),
             f"{s.get('relative_accuracy_mean', s['pairwise_accuracy_mean']):.3f} ± "
             f"{s.get('relative_accuracy_sd', s['pairwise_accuracy_sd']):.3f}",
             f"{s['pairwise_accuracy_mean']:.3f} ± {s['pairwise_accuracy_sd']:.3f}",
             f"{s['auroc_mean']:.3f} ± {s['auroc_sd']:.3f}"] for s in payload.get("seed_summary", [])]
    return header, rows


def timing_table(payload: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["encoder", "clips", "load s", "ms per clip (all contexts)", "forward s"]
    rows = [[e["encoder"], str(e["timings"]["clips"]), f"{e['timings']['load_s']:.1f}",
             f"{e['timings']['ms_per_clip']:.1f}", f"{e['timings']['forward_s']:.2f}"] for e in payload["encoders"]]
    return header, rows


SURPRISE = ("Surprise: how badly a model's prediction of a window's next frames (the horizon, after its context "
            "frames) misses what comes; higher is more surprised. Its unit is the model's own (listed under "
            "Surprise over time), so compare scores across models, not raw surprise.")
INTRO = ("Relative accuracy (IntPhys): the share of groups whose impossible clips are more surprising in total than "
         "their possible ones (chance 0.5; on a pair it is the pairwise accuracy). Pairwise accuracy: per group, the "
         "share of (possible, impossible) combinations won by the possible clip. AUROC: impossible vs possible clips "
         "by surprise alone. A clip's surprise is the max or mean of its curve over the windows whose horizon "
         "reaches the violation frame, or (onset) the window whose horizon first holds the onset frame. CIs: "
         "bootstrap over groups; ▲/▼: the 95% CI lies above/below 0.5. skipped: groups whose violation comes "
         "before the context ends (not scored).")
KINDS = ("Violation kinds can pull opposite ways (a teleport is a transient spike, a vanished object is easy to "
         "extrapolate), so a pooled score near 0.5 can hide two real effects.")
CERTIFICATION = ("A violation kind is certified when its design is balanced (every frame of an impossible clip "
                 "appears in a possible one), the negative controls (`extrapolate,order=0`, `extrapolate,order=1` and "
                 "`frame-classifier`) have a relative accuracy within 0.1 of 0.5 with a CI covering 0.5 in every "
                 "context × aggregate, and the positive control (oracle) reaches 0.95 in every context × "
                 "aggregate. Even when every negative control sits at chance, about 5% of their cells' CIs exclude 0.5: the "
                 "table sets the observed count beside that count expected by chance alone (0.9 of 18 cells, say).")
COMPARISONS = ("Every pair of evaluated models (controls left out; seeds of one random-init model not paired), "
               "paired on the groups both scored: a − b of the relative accuracy, a 95% CI from a paired bootstrap "
               "over groups, a p-value from a paired permutation test (the two models' group outcomes swapped), "
               "Holm-adjusted over every comparison in this file. The call names the model ahead at adjusted "
               "p < 0.05, else tie. A kind the controls do not certify cannot support a verdict, whatever the call.")
CURVES = ("Aligned on the onset frame (dashed line: the first frame whose pixels differ): the clips of a group "
          "share every frame before the violation, so the curves agree until a window predicts a frame at or "
          "after it. Top: possible and impossible clips, all kinds pooled; bottom: the group difference "
          f"(impossible − possible) per violation kind. Bands: 95% CI (mean ± {Z95} standard errors over clips, "
          f"over groups for the difference). Side-by-side panels share their vertical scale; the difference's spans "
          f"at least ±{DIFF_FLOOR:g} of the top row's range, so a dip the size of float noise stays flat. What a "
          "window's surprise is for each model, and its unit:")


def _setup(payload: dict[str, Any]) -> str:
    """Contexts, horizon, stride and split, from the config (or the results, where it leaves one out)."""
    c, rs = payload.get("config", {}), payload["results"]
    contexts = c.get("contexts") or sorted({r["context"] for r in rs})
    horizon = c.get("horizon", rs[0].get("horizon", "?") if rs else "?")
    stride = f", stride {c['stride']}" if "stride" in c else ""
    return f"contexts {contexts} frames, horizon {horizon}{stride}, split {c.get('split') or 'all'}"


def _sections(payload: dict[str, Any]) -> list[tuple[str, str, list[str], tuple[list, list]]]:
    """(title, anchor, paragraphs, table) of every table section, in page order; empty ones left out."""
    parts = [("Certification by the controls", "certification", [CERTIFICATION], certification_table(payload)),
             ("Paired comparisons: model against model on the same groups", "comparisons", [COMPARISONS],
              comparison_table(payload)),
             ("Scores, all kinds pooled", "pooled", [INTRO], score_table(payload)),
             ("Relative accuracy by violation (aggregate max)", "kinds", [KINDS], kind_table(payload)),
             ("By violation: every score", "kind-scores", [], kind_rows(payload)),
             ("Groups not scored", "skipped-groups", [], skipped_table(payload)),
             ("Random-init controls over seeds", "seeds", [], seed_table(payload))]
    return [p for p in parts if p[3][1] or p[1] == "certification"]


def render_markdown(payload: dict[str, Any], figures: list[tuple[str, str]] = ()) -> str:
    """surprise_report.md, in the HTML's order; ``figures``: (file, alt) of the curves written beside it."""
    out = ["# surprise report", "",
           f"Created {payload['created']}; datasets: "
           + ", ".join(f"`{d['name']}` (sha {d['content_sha256']})" for d in payload["datasets"])
           + f"; {_setup(payload)}.", "", "Models: " + "; ".join(f"`{m}`" for m in _models(payload)) + ".", "",
           SURPRISE, ""]
    for title, _, paragraphs, table in _sections(payload):
        out += [f"## {title}", "", *(x for p in paragraphs for x in (p, "")), md_table(*table), ""]
    out += ["## Surprise over time", "", CURVES, "", md_table(*meaning_table(payload)), ""]
    out += page.md_images({alt: name for name, alt in figures}, (alt for _, alt in figures))
    out += ["## Timing", "", md_table(*timing_table(payload)), "", *page.md_footer(payload)]
    return "\n".join(out)


def html_sections(payload: dict[str, Any], curves: list[dict[str, Any]]) -> list[Section]:
    sections = [Section(title, anchor, paragraphs, [Table(*table)])
                for title, anchor, paragraphs, table in _sections(payload)]
    curves_section = Section("Surprise over time", "curves", [CURVES], [Table(*meaning_table(payload))])
    for d in payload["datasets"]:
        for e in payload["encoders"]:
            sel = [c for c in curves if c["dataset"] == d["name"] and c["encoder"] == e["encoder"]]
            if sel:
                fig = surprise_plot(sel, f"{d['name']} · {e['encoder']}", meaning(e["encoder"])[1])
                curves_section.parts.append(Figure(svg(fig), f"surprise over time, {d['name']}, {e['encoder']}"))
    return [*sections, curves_section, Section("Timing", "timing", [], [Table(*timing_table(payload))])]


def render_html(payload: dict[str, Any], curves: list[dict[str, Any]],
                sections: list[Section] | None = None) -> str:
    sections = html_sections(payload, curves) if sections is None else sections
    return page.render_page("surprise.html", "surprise report", payload, sections, encoders=_models(payload),
                            setup=_setup(payload), surprise=SURPRISE)


def _models(payload: dict[str, Any]) -> list[str]:
    return [e["encoder"] for e in payload["encoders"]]


def meaning_table(payload: dict[str, Any]) -> tuple[list[str], list[list[str | Cell]]]:
    """One row per model: the unit of its surprise and what a window's surprise is for it."""
    return (["model", "unit", "a window's surprise"],
            [[m, unit, Cell(what, "wrap")] for m in _models(payload) for what, unit in [meaning(m)]])


def write_surprise_reports(out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    payload, curves = load_surprise(out_dir)
    sections = html_sections(payload, curves)
    figures = page.write_figures(out_dir, FIGURES, [p for s in sections for p in s.parts if isinstance(p, Figure)])
    return page.write_pair(out_dir, REPORT_MD, render_markdown(payload, figures), REPORT_HTML,
                           render_html(payload, curves, sections))


def rich_tables(payload: dict[str, Any]) -> list[Any]:
    """The certification (when any), the paired comparisons (when any) and the pooled scores, for the terminal."""
    tables = [page.table("surprise: possible vs impossible groups (chance 0.5)", *score_table(payload))]
    compared = comparison_table(payload)
    if compared[1]:
        tables.insert(0, page.table("paired comparisons (a − b of relative accuracy, Holm-adjusted)", *compared))
    cert = certification_table(payload)
    if cert[1]:
        tables.insert(0, page.table("certification by the controls", *cert))
    return tables
