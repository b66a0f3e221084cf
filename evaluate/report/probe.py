"""Reports of an ``evaluate run`` from results.json (and predictions.jsonl): rich terminal tables,
report.md, and report.html with its per-dataset pages (inline SVG plots, a sticky table of contents).

Both open on the answer: the verdict (tubelet against album and pixels, paired, with its CI, Holm
call and certification) and what each encoder is (lead.py). Then the static margins at a glance
(glance.py), the identifiability table, both margins with their CIs (rows.py, plots.py), the paired
comparisons, reversal sensitivity and cross-view scores, each dataset's part a closed section; then,
on one page per dataset (report-<dataset>.html, linked; their plots are most of the weight), per target,
closed sections with the within-view scores, bars and scatters (tables.py, plots.py). ``evaluate report
RUNDIR`` rebuilds every file from the run folder alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from evaluate.io import load_run, write_text
from evaluate.metrics import MIN_TEST_GROUPS
from evaluate.parallel import default_workers, process_map_async
from evaluate.report import page
from evaluate.report.glance import headline_grids, margin_heatmap, summary_line
from evaluate.report.layers import layer_markdown, layer_section, standing_payload, standing_rows
from evaluate.report.lead import cannot_answer, encoder_line, lead_section
from evaluate.report.page import Figure, Section, Table, fmt, md_table, svg, with_badge
from evaluate.report.plots import bar_lowest, bar_plot, margin_plot, scatter_plot, unit_text
from evaluate.report.rows import (
    CROSS_TEXT,
    DEGENERATE,
    DEGENERATE_NOTE,
    IDENTIFIABILITY_TEXT,
    MARGIN_TEXT,
    REVERSAL_TEXT,
    by_target,
    datasets_of,
    encoder_roles,
    identifiability_markdown,
    identifiability_rows,
    margin_rows,
    score_rows,
    static_badge,
    static_targets,
    target_name,
)
from evaluate.report.tables import cross_rows, reversal_rows, target_rows, timing_rows
from evaluate.report.verdict import comparisons_markdown, comparisons_section, rich_verdict, verdict_markdown

__all__ = ["load_run", "render_html", "render_markdown", "rich_tables", "write_reports"]

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
MIN_ROWS_FOR_WORKERS = 500  # result rows; the demo's run has 3,321 (70 plots)
FIGURES = "report_figures"  # the HTML's plots as SVG files beside report.md, which links each where the HTML shows it
TARGETS_TEXT = ("As each dataset declares them: how a target transforms under reversal, where it is defined, its "
                "period (circular targets), what its residual removes.")
TIMING_TEXT = ("Forward ms/clip and overhead / forward only for encoders with a model: pixels, motion, the oracles "
               "and track have no forward pass.")


# --------------------------------------------------------------------------- markdown


def _unit(r: dict[str, Any]) -> str:
    return f"; unit: {unit_text(r['unit'])}" if r.get("unit") else ""


def _target_text(r: dict[str, Any], probe: str) -> str:
    """Under a per-target heading: the metric, probe, chance, sizes and unit."""
    where = f" Scored only on the clips with {r['subset']}." if r.get("subset") else ""
    return (f"{r['metric']}, probe {probe}, chance {fmt(r['chance'])}; n_train {r['n_train']}, n_test {r['n_test']}"
            f"{_unit(r)}. Cells: {r['metric']} [95% CI], within-view (fitted and tested on the same view).{where}")


def _target_title(dataset: str, r: dict[str, Any]) -> str:
    return f"{dataset} · {target_name(r)}"


def _glance_markdown(grids: list[Any]) -> list[str]:
    kind = grids[0].margin_type if grids else "static"
    out = [f"## At a glance: {kind} margins", "", *(f"- {summary_line(g)}" for g in grids), ""]
    for g in grids:
        rows = [[name + (" (control)" if g.is_control(i) else ""), *(g.cell_text(i, j) for j in range(len(g.targets)))]
                for i, name in enumerate(g.rows)]
        out += [md_table([f"{g.dataset}: {kind} margin", *map(g.label, range(len(g.targets)))], rows), ""]
    if grids:
        out += ["★: the 95% CI excludes 0. †: fewer than "
                f"{MIN_TEST_GROUPS} test groups, the CI is not to be trusted. n/a: {DEGENERATE_NOTE}.", ""]
    return out


def _images(figures: dict[str, str], *alts: str) -> list[str]:
    return page.md_images(figures, alts)


def heatmap_alt(kind: str) -> str:
    return f"{kind} margins: encoder × target per dataset"


def render_markdown(payload: dict[str, Any], figures: dict[str, str] | None = None) -> str:
    """report.md, in the HTML's order: verdict and encoders, at a glance, identifiability, margins,
    comparisons, layers, reversal, cross-view, per target, targets, timing, provenance. ``figures`` (alt ->
    file, see write_reports): the HTML's plots, linked where the HTML shows them."""
    figures = figures or {}
    swept, payload = payload, standing_payload(payload)  # a swept encoder at its standing layer, but in the sweep's part
    grids = headline_grids(payload)
    static = static_targets(payload)
    roles = encoder_roles(payload)
    out = ["# evaluate report", "",
           f"Created {payload['created']}; datasets: "
           + ", ".join(f"`{d['name']}` ({d.get('clips', '?')} clips, sha {d['content_sha256']})"
                       for d in payload["datasets"]) + ".", ""]
    out += [*(f"**{s}**\n" for s in cannot_answer(payload)), verdict_markdown(payload), "Encoders:", "",
            *(f"- {encoder_line(e, roles.get(e['encoder'], 'pixels'))}" for e in payload["encoders"]), ""]
    out += _glance_markdown(grids)
    out += _images(figures, heatmap_alt(grids[0].margin_type)) if grids else []
    if payload.get("warnings"):
        out += ["## Warnings", "", *(f"- {w}" for w in payload["warnings"]), ""]
    if payload.get("identifiability"):
        out += ["## Identifiability: what one frame gives", "", IDENTIFIABILITY_TEXT, "",
                identifiability_markdown(payload)]
    out += ["## Temporal margins", "", MARGIN_TEXT, "",
            *_images(figures, *map(margin_alt, datasets_of(payload, payload.get("temporal_margins", [])))),
            md_table(*margin_rows(payload)), ""]
    out += [comparisons_markdown(payload)]
    out += layer_markdown(swept, figures)
    if payload.get("reversal_sensitivity"):
        out += ["## Reversal sensitivity", "", REVERSAL_TEXT, ""]
        for dataset in datasets_of(payload, payload["reversal_sensitivity"]):
            t = reversal_rows(payload, dataset)
            out += [f"### {t.caption}", "", md_table(t.header, t.rows), ""]
    cross = {d["name"]: t for d in payload["datasets"] if (t := cross_rows(payload, d["name"]))}
    if cross:
        out += ["## Cross-view: fitted on original", "", CROSS_TEXT, ""]
        for dataset, t in cross.items():
            out += [f"### {dataset}", "", t.caption + ".", "", md_table(t.header, t.rows), ""]
    for (dataset, _, _, probe), rows in by_target(payload).items():
        r0 = rows[0]
        out += [f"## {with_badge(_target_title(dataset, r0), static_badge(static, r0))} ({r0['metric']}, probe {probe})",
                "", _target_text(r0, probe), "", *_images(figures, bars_alt(dataset, r0)),
                md_table(*score_rows(payload, rows)), "", *_images(figures, scatter_alt(dataset, r0))]
    targets = target_rows(payload)
    if targets[1]:
        out += ["## Targets", "", TARGETS_TEXT, "", md_table(*targets), ""]
    out += ["## Timing", "", TIMING_TEXT, "", md_table(*timing_rows(payload)), "", *page.md_footer(payload)]
    return "\n".join(out)


def _scalar(p: dict[str, Any]) -> bool:
    return all(isinstance(p[k], int | float) and not isinstance(p[k], bool) for k in ("y_true", "y_pred"))


def drawn_line(line: dict[str, Any]) -> bool:
    """Whether the report draws a prediction line: a regression target's within-view original predictions
    (its scatter plot; see :func:`_predictions`). The report reads only these lines of predictions.jsonl."""
    return line["kind"] == "regression" and line["fit_view"] == line["test_view"] == "original"


def _predictions(predictions: list[dict[str, Any]], key: tuple[str, str, str | None, str]) -> list[dict[str, Any]]:
    """The within-view original predictions of one target (and subset) and probe, scalar ones only."""
    dataset, target, subset, probe = key
    return [p for p in predictions if drawn_line(p) and p["dataset"] == dataset and p["target"] == target
            and p["probe"] == probe and p.get("subset") == subset and _scalar(p)]


def identifiability_section(payload: dict[str, Any]) -> Section | None:
    datasets = datasets_of(payload, payload.get("identifiability", []))
    if not datasets:
        return None
    tables = [Table(*identifiability_rows(payload, d), caption=d) for d in datasets]
    return Section("Identifiability: what one frame gives", "identifiability", [IDENTIFIABILITY_TEXT], tables)


def margin_alt(dataset: str) -> str:
    return f"{dataset}: margins with 95% CIs"


def bars_alt(dataset: str, r: dict[str, Any]) -> str:
    return f"{_target_title(dataset, r)}: scores by view"


def scatter_alt(dataset: str, r: dict[str, Any]) -> str:
    return f"{_target_title(dataset, r)}: predicted vs true"


def margin_section(payload: dict[str, Any]) -> Section:
    return page.folded("Temporal margins", "margins", [MARGIN_TEXT],
                       [(dataset, [Figure(svg(margin_plot(payload, dataset)), margin_alt(dataset)),
                                   Table(*margin_rows(payload, dataset), caption=dataset)])
                        for dataset in datasets_of(payload, payload.get("temporal_margins", []))])


def target_sections(payload: dict[str, Any], predictions: list[dict[str, Any]],
                    workers: int = 1) -> Callable[[], list[Section]]:
    """Per dataset, a section whose targets are closed <details>: the bars, the table, the scatters. Their
    plots are most of a report's drawing time (41 s of the demo's), and datasets are independent: with
    ``workers`` > 1 each dataset's section is drawn in a spawned process (the same markup, tested; the
    demo's report in 23.5 s on 2 cores). Started now; the returned function waits for the sections, so the
    caller draws the rest of the report meanwhile."""
    datasets = list(dict.fromkeys(dataset for dataset, *_ in by_target(payload)))
    drawn = [p for p in predictions if drawn_line(p)]  # all the scatters read, and all a worker is sent
    jobs = [(payload, [p for p in drawn if p["dataset"] == d], d) for d in datasets]
    return process_map_async(dataset_target_section, jobs, workers)


def dataset_target_section(payload: dict[str, Any], predictions: list[dict[str, Any]], dataset: str) -> Section:
    """One dataset's "Per target" section (see :func:`target_sections`)."""
    static = static_targets(payload)
    targets = {key: rows for key, rows in by_target(payload).items() if key[0] == dataset}
    # Bars of one dataset and metric share a y-range, so that two targets' panels compare at a glance.
    lowest: dict[str, float] = {}
    for rows in targets.values():
        lowest[rows[0]["metric"]] = min(lowest.get(rows[0]["metric"], 0.0), bar_lowest(rows))
    parent = Section(f"Per target: {dataset}", f"per-target-{dataset}",
                     ["Each target's within-view scores by view (bars), table, and predicted vs true: open a target."])
    for key, rows in targets.items():
        _, target, subset, probe = key
        r0 = rows[0]
        title = _target_title(dataset, r0)
        s = Section(title, "-".join(x for x in (dataset, target, subset, probe) if x).replace(" ", "_"),
                    [_target_text(r0, probe)], level=3, badge=static_badge(static, r0))
        s.parts += [Figure(svg(bar_plot(payload, rows, title, lowest[r0["metric"]])), bars_alt(dataset, r0)),
                    Table(*score_rows(payload, rows))]
        preds = _predictions(predictions, key) if r0["kind"] == "regression" else []
        if preds:
            fig = scatter_plot(preds, rows, f"{title}: predicted vs true (original view)")
            s.parts.append(Figure(svg(fig), scatter_alt(dataset, r0)))
        parent.children.append(s)
    return parent


def target_page(section: Section) -> str:
    """The file of one dataset's per-target page (``section``: its "Per target" section)."""
    return f"report-{section.id.removeprefix('per-target-')}.html"


def target_index(per_target: list[Section]) -> Section:
    """The report's links to its per-target pages, one per dataset, with the count of targets of each."""
    return Section("Per target: one page per dataset", "per-target",
                   ["Each target's within-view scores by view (bars), table, and predicted vs true, on a page per "
                    "dataset: its plots are most of the report's weight."],
                   links=[(f"{s.title.removeprefix('Per target: ')} ({len(s.children)} targets)", target_page(s))
                          for s in per_target])


def render_html(payload: dict[str, Any], predictions: list[dict[str, Any]], keep: list[Figure] | None = None,
                pages: dict[str, str] | None = None, workers: int = 1) -> str:
    """report.html; every figure drawn is also appended to ``keep`` (for write_reports to write as files).
    With ``pages``, each dataset's per-target sections go to a page of their own (file name -> html added
    to ``pages``) that report.html links; without, they are part of report.html. ``workers``: processes
    drawing the per-target sections (:func:`target_sections`)."""
    swept, payload = payload, standing_payload(payload)  # a swept encoder at its standing layer, but in the sweep's part
    predictions = standing_rows(predictions, payload.get("layer_choices", []))
    drawn_per_target = target_sections(payload, predictions, workers)  # in the workers, beside what is drawn here
    try:
        grids = headline_grids(payload)
        kind = grids[0].margin_type if grids else "static"
        heatmap = [Figure(svg(margin_heatmap(grids)), heatmap_alt(kind))] if grids else []
        sections = [s for s in (identifiability_section(payload), margin_section(payload),
                                comparisons_section(payload), layer_section(swept)) if s]
    finally:  # waited for on an error too: the pool is shut down, the jobs not started cancelled
        per_target = drawn_per_target()
    if payload.get("reversal_sensitivity"):
        sections.append(page.folded("Reversal sensitivity", "reversal", [REVERSAL_TEXT],
                                    [(d, [reversal_rows(payload, d)])
                                     for d in datasets_of(payload, payload["reversal_sensitivity"])]))
    cross = [(d["name"], [t]) for d in payload["datasets"] if (t := cross_rows(payload, d["name"]))]
    if cross:
        sections.append(page.folded("Cross-view: fitted on original", "cross-view", [CROSS_TEXT], cross))
    sections += per_target if pages is None else [target_index(per_target)]
    targets = target_rows(payload)
    if targets[1]:
        sections.append(page.folded("Targets", "targets", [TARGETS_TEXT], [("every target", [Table(*targets)])]))
    sections.append(Section("Timing", "timing", [TIMING_TEXT], [Table(*timing_rows(payload))]))
    if keep is not None:
        shown = sections if pages is None else sections + per_target
        keep += heatmap + [p for s in shown for x in (s, *s.children) for p in x.parts if isinstance(p, Figure)]
    if pages is not None:
        for s in per_target:
            pages[target_page(s)] = page.render_page(
                "probe.html", f"evaluate report · {s.title}", payload,
                [Section("The run's report", "back", links=[("← the verdict, margins and comparisons", REPORT_HTML)]), s],
                heatmap=[], summary=[], warnings=[])
    return page.render_page("probe.html", "evaluate report", payload, sections, lead=[lead_section(payload)],
                            heatmap=heatmap, summary=[summary_line(g) for g in grids],
                            warnings=payload.get("warnings", []), margin_type=kind,
                            any_static=bool(static_targets(payload)),
                            few_groups=MIN_TEST_GROUPS if any(g.few.any() for g in grids) else 0)


def write_reports(rundir: str | Path, workers: int | None = None) -> tuple[Path, Path]:
    """(Re)write report.md and report.html from the run folder's results.json and predictions.jsonl;
    ``workers`` processes draw the per-target plots (default: one per core for a run of
    MIN_ROWS_FOR_WORKERS result rows or more)."""
    rundir = Path(rundir)
    payload, predictions = load_run(rundir, drawn_line)
    drawn: list[Figure] = []
    pages: dict[str, str] = {}
    if workers is None:  # a worker costs ~1.5 s to start: worth it for a report of many plots
        workers = default_workers() if len(payload.get("results", [])) >= MIN_ROWS_FOR_WORKERS else 1
    html = render_html(payload, predictions, drawn, pages, workers)
    for stale in rundir.glob("report-*.html"):
        if stale.name not in pages:
            stale.unlink()
    for name, text in pages.items():
        write_text(rundir / name, text)
    figures = dict((alt, name) for name, alt in page.write_figures(rundir, FIGURES, drawn))
    return page.write_pair(rundir, REPORT_MD, render_markdown(payload, figures), REPORT_HTML, html)


def rich_tables(payload: dict[str, Any]) -> list[Any]:
    """Terminal summary: the verdict, identifiability per dataset, both margins, reversal
    sensitivity, then one within-view table per target (print them with page.print_tables, which
    keeps them whole when stdout is not a terminal)."""
    payload = standing_payload(payload)  # a swept encoder at its standing layer
    static = static_targets(payload)
    tables = rich_verdict(payload) + [page.table(f"identifiability · {d}", *identifiability_rows(payload, d))
                                      for d in datasets_of(payload, payload.get("identifiability", []))]
    tables.append(page.table("temporal margins: static (original − max(chance, single_frame)) and order "
                             f"(original − max(chance, shuffled)); {DEGENERATE} degenerate control",
                             *margin_rows(payload)))
    for d in datasets_of(payload, payload.get("reversal_sensitivity", [])):
        t = reversal_rows(payload, d)
        tables.append(page.table(f"reversal sensitivity · {t.caption} (the probe fitted on original, "
                                 "scored against the labels the reversal should have)", t.header, t.rows))
    for (dataset, _, _, probe), rs in by_target(payload).items():
        r0 = rs[0]
        title = (f"{with_badge(_target_title(dataset, r0), static_badge(static, r0))} · {r0['metric']} "
                 f"(chance {fmt(r0['chance'])}, probe {probe}, within-view)")
        tables.append(page.table(title, *score_rows(payload, rs)))
    return tables
