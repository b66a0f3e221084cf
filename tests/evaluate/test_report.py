"""The reports from hand-made payloads: the identifiability table first and static targets badged
everywhere, the margin heatmap marks exactly the cells whose CI excludes 0 (degenerate controls
marked, never starred), both margins plotted with their CIs, within-view and cross-view scores
kept apart, reversal sensitivity, bars below −0.5 drawn (not cut), one <head> per page with
everything escaped, timing that means something for weight-free encoders, the surprise page's
provenance and per-kind numbers, and rich tables that keep full names when piped."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from matplotlib.patches import Rectangle
from rich.console import Console

from evaluate.report import glance, plots, probe, surprise, surprise_plots, sweep, tables
from evaluate.report import rows as report_rows
from evaluate.report.page import Cell, print_tables

VIEWS = ["original", "shuffled", "single_frame"]
LONG = "falling_rising_with_a_long_name"
CROSS = 0.123  # every cross-view score: it must show up in the cross-view table only


def _result(dataset, target, encoder, view, value, ci, kind="regression", fit_view=None, **extra):
    metric = extra.pop("metric", "r2" if kind == "regression" else "balanced_accuracy")
    return {"dataset": dataset, "target": target, "kind": kind, "encoder": encoder, "view": view,
            "fit_view": fit_view or view, "probe": "linear", "metric": metric, "value": value, "ci95": ci,
            "chance": 0.0 if kind == "regression" else 0.5, "n_train": 80, "n_test": 40, "test_groups": 40,
            "unit": None, "probe_params": {}, **extra}


def _margin(dataset, target, encoder, value, ci, test_groups=40, margin_type="static", degenerate=False, **extra):
    control = {"static": "single_frame", "order": "shuffled"}[margin_type]
    return {"dataset": dataset, "target": target, "kind": "regression", "encoder": encoder, "probe": "linear",
            "margin_type": margin_type, "control_view": control, "value": value, "ci95": ci, "floor": 0.0,
            "original": 0.8, "control": 0.8 - value, "degenerate_control": degenerate, "test_groups": test_groups,
            **extra}


def _score(value, chance=0.0, metric="r2"):
    return {"value": value, "ci95": [value - 0.1, value + 0.05], "chance": chance, "metric": metric}


@pytest.fixture
def run_payload():
    encoders = ["pixels", "vjepa2:<b>tiny</b>"]
    results = [_result(LONG, "direction", enc, view, 0.5, [0.4, 0.6], kind="class")
               for enc in encoders for view in VIEWS]
    # speed: pixels' R² far below −0.5 (−1.19, −1.46), one view below the floor (−3.7)
    speed = {"pixels": (-1.19, -1.46, -3.7), "vjepa2:<b>tiny</b>": (0.8, 0.1, 0.0)}
    results += [_result(LONG, "speed", enc, view, v, [v - 0.3, v + 0.2], unit="m/s", mae=0.5)
                for enc, values in speed.items() for view, v in zip(VIEWS, values, strict=True)]
    # cross-view: fitted on original, tested on the other views
    results += [_result(LONG, target, enc, view, CROSS, [0.1, 0.2], kind=kind, fit_view="original")
                for target, kind in (("direction", "class"), ("speed", "regression"))
                for enc in encoders for view in VIEWS[1:]]
    # impact: mass (static by identifiability), a circular target scored on a subset
    results += [_result("impact", "mass", "pixels", view, 0.7, [0.6, 0.8], unit="kg", mae=0.2) for view in VIEWS]
    results += [_result("impact", "heading", "pixels", view, 0.4, [0.3, 0.5], unit="deg", metric="circular_r2",
                        angular_error=31.5, subset="moves=linear") for view in VIEWS]
    margins = [
        _margin(LONG, "direction", "pixels", 0.42, [0.30, 0.51]),  # excludes 0: marked
        _margin(LONG, "direction", "vjepa2:<b>tiny</b>", 0.05, [-0.02, 0.11]),  # includes 0
        _margin(LONG, "speed", "pixels", -0.27, [-0.40, -0.10]),  # excludes 0 (below): marked
        _margin(LONG, "speed", "vjepa2:<b>tiny</b>", 0.70, [0.0, 0.9]),  # touches 0: not marked
        _margin(LONG, "direction", "pixels", 0.31, [0.20, 0.40], margin_type="order"),
        _margin(LONG, "speed", "vjepa2:<b>tiny</b>", -2.5, [-3.0, -0.2], margin_type="order"),  # off the axis
        _margin("impact", "mass", "pixels", 0.0002, [0.0001, 0.0004], test_groups=5),  # tiny, few groups
        # degenerate: its CI excludes 0, yet it is never starred nor counted
        _margin("impact", "heading", "pixels", 0.6, [0.5, 0.7], degenerate=True, subset="moves=linear"),
        _margin("impact", "heading", "pixels", 0.1, [-0.1, 0.3], margin_type="order", subset="moves=linear"),
    ]
    reversal = [{"dataset": LONG, "target": "direction", "kind": "class", "encoder": enc, "probe": "linear",
                 "rule": "swap_classes", "metric": "balanced_accuracy", "value": v, "ci95": [v - 0.05, v + 0.02],
                 "chance": 0.5, "accuracy": v, "n_test": 40, "test_groups": 20}
                for enc, v in (("pixels", 0.97), ("vjepa2:<b>tiny</b>", 0.51))]
    identifiability = [
        {"dataset": "impact", "target": "mass", "probe": "linear", "verdict": "static",
         "oracle_static": _score(0.9), "oracle_full": _score(0.95), "track": _score(0.8),
         "track_single_frame": _score(0.7)},
        {"dataset": LONG, "target": "direction", "probe": "linear", "verdict": "temporal",
         "oracle_static": _score(0.5, 0.5, "balanced_accuracy"), "oracle_full": _score(1.0, 0.5, "balanced_accuracy")},
    ]
    return {
        "created": "2026-01-01T00:00:00+00:00",
        "config": {"views": VIEWS},
        "datasets": [{"name": LONG, "clips": 120, "frames": 16, "content_sha256": "ab" * 32,
                      "targets": {"direction": {"kind": "class", "classes": ["falling", "rising"], "unit": None,
                                                "description": "d", "reversal": {"rule": "swap_classes"}}}},
                     {"name": "impact", "clips": 40, "frames": 40, "content_sha256": "cd" * 32,
                      "targets": {"heading": {"kind": "regression", "classes": [], "unit": "deg", "description": "h",
                                              "period": 360.0, "defined_when": {"moves": "linear"},
                                              "reversal": {"rule": "rotate", "degrees": 180.0}}}}],
        "encoders": [
            {"encoder": "pixels", "identity": {"kind": "pixels", "size": 16}, "notes": [],
             "timings": {"clips": 600, "forward_s": 0.001, "preprocess_s": 1.0, "decode_wait_s": 2.0,
                         "probe_s": 3.0, "embed_wall_s": 6.0, "load_s": 0.0, "cache_hits": 0}},
            {"encoder": "vjepa2:<b>tiny</b>", "identity": {"kind": "vjepa2", "checkpoint": "x"}, "notes": ["a note"],
             "timings": {"clips": 600, "forward_s": 12.0, "preprocess_s": 3.0, "decode_wait_s": 1.0,
                         "probe_s": 2.0, "embed_wall_s": 20.0, "load_s": 1.5, "cache_hits": 4}}],
        "results": results,
        "temporal_margins": margins,
        "reversal_sensitivity": reversal,
        "identifiability": identifiability,
        "skipped": {"encoders": [{"encoder": "vjepa2:big", "reason": "no weights"}],
                    "clips": [{"dataset": LONG, "clip": "train/000007"}],
                    "targets": [{"dataset": LONG, "target": "accel_z", "reason": "constant target"}]},
        "versions": {"evaluate": "0.1.0", "torch": "2.x"},
        "warnings": [],
    }


def test_the_hand_made_records_fit_the_results_schema(run_payload):
    from evaluate.results import Identifiability, Margin, ReversalScore, Score

    for model, key in ((Score, "results"), (Margin, "temporal_margins"), (ReversalScore, "reversal_sensitivity"),
                       (Identifiability, "identifiability")):
        for record in run_payload[key]:
            model.model_validate(record)


def test_heatmap_marks_exactly_the_cells_whose_ci_excludes_zero(run_payload):
    grids = {g.dataset: g for g in glance.margin_grids(run_payload)}
    g = grids[LONG]
    assert g.rows == ["pixels", "vjepa2:<b>tiny</b>"] and g.targets == ["direction", "speed"]
    assert g.marked.tolist() == [[True, True], [False, False]]
    impact = grids["impact"]
    assert impact.targets == ["mass", "heading | moves=linear"] and impact.static == [True, False]
    assert impact.marked.tolist() == [[True, False]] and impact.few.tolist() == [[True, False]]
    assert impact.degenerate.tolist() == [[False, True]]
    # a marked margin that rounds to 0.00 gets a third digit, † for too few test groups; degenerate: n/a
    assert impact.cell_text(0, 0) == "+0.000★†" and impact.cell_text(0, 1) == "n/a"

    fig = glance.margin_heatmap(list(grids.values()))
    ax = [a for a in fig.axes if a.get_title(loc="left") == LONG][0]
    starred = {(round(t.get_position()[1]), round(t.get_position()[0])) for t in ax.texts if "★" in t.get_text()}
    assert starred == {(0, 0), (0, 1)}
    boxes = {(round(p.get_y() + p.get_height() / 2), round(p.get_x() + p.get_width() / 2))
             for p in ax.patches if isinstance(p, Rectangle) and p.get_linewidth() >= 2}
    assert boxes == starred
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["+0.05", "+0.42★", "+0.70", "-0.27★"]
    # impact: the degenerate cell is hatched and says n/a; mass' tick label carries the static badge
    ax = [a for a in fig.axes if a.get_title(loc="left") == "impact"][0]
    assert not [p for p in ax.patches if p.get_hatch()]  # plain grey: hatching means nothing on this page
    assert sorted(t.get_text() for t in ax.texts) == ["+0.000★†", "n/a"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mass [static]", "heading | moves=linear"]


def test_summary_line_names_the_best_margin_and_counts_targets(run_payload):
    grids = glance.margin_grids(run_payload)
    assert glance.summary_line(grids[0]) == (
        f"{LONG}: best static margin of an encoder +0.70 [0.00, 0.90] (vjepa2:<b>tiny</b>, speed); on 2 of 2 "
        "targets an encoder's static margin has a 95% CI that excludes 0 (1 only above, 1 only below, 0 both ways)")
    # the degenerate +0.60 is neither the best nor counted
    assert glance.summary_line(grids[1]) == (
        "impact: best static margin of an encoder +0.00 [0.00, 0.00]† (pixels, mass [static]); on 1 of 2 targets "
        "an encoder's static margin has a 95% CI that excludes 0 (1 only above, 0 only below, 0 both ways). "
        "1 encoder × target cell(s) have a degenerate control and are not counted")


def test_within_and_cross_view_rows_are_not_double_counted(run_payload):
    rows = report_rows.by_target(run_payload)[(LONG, "speed", None, "linear")]
    assert len(rows) == 2 * len(VIEWS) and all(r["fit_view"] == r["view"] for r in rows)
    header, table = report_rows.score_rows(run_payload, [r for r in run_payload["results"] if r["target"] == "speed"])
    assert header[:4] == ["encoder", *VIEWS] and len(table) == 2
    assert not any(f"{CROSS:.3f}" in c for row in table for c in row)
    fig = plots.bar_plot(run_payload, [r for r in run_payload["results"] if r["target"] == "direction"], "d")
    assert len([p for p in fig.axes[0].patches if isinstance(p, Rectangle)]) == 2 * len(VIEWS)
    cross = tables.cross_rows(run_payload, LONG)
    assert cross.header == ["target", "encoder", "original (fitted)", "shuffled", "single_frame"]
    assert len(cross.rows) == 4  # (direction, speed) × two encoders, once each
    assert all(str(c).startswith(f"{CROSS:.3f}") for row in cross.rows for c in row[3:])
    assert cross.caption.endswith("Metric (chance): bal. acc. (0.50): direction; R² (0.00): speed")
    assert tables.cross_rows(run_payload, "impact") is None  # no cross-view rows there
    md = probe.render_markdown(run_payload)
    within = md[md.index(f"## {LONG} · direction"):]
    assert f"{CROSS:.3f}" not in within and md.count(f"{CROSS:.3f}") == 8
    assert "## Cross-view: fitted on original" in md


def test_degenerate_margins_are_marked_and_both_margins_shown(run_payload):
    header, rows = report_rows.margin_rows(run_payload)
    assert header == ["dataset", "target", "encoder", "probe", "original", "static control (single_frame)",
                      "static margin [95% CI]", "order control (shuffled)", "order margin [95% CI]"]
    row = next(r for r in rows if str(r[1]) == "heading | moves=linear")
    control, static, order = row[5], row[6], row[8]
    assert isinstance(static, Cell) and static.cls == "degenerate" and static.text == "‡ +0.600 [0.50, 0.70]"
    assert "judge by the oracles and track" in static.title and control.cls == "degenerate"
    assert order.cls == "" and order.text == "+0.100 [-0.10, 0.30]"
    direction = next(r for r in rows if r[1].text == "direction" and r[2] == "pixels")
    assert [str(c) for c in direction[4:]] == ["0.800", "0.380", "+0.420 [0.30, 0.51]", "0.490",
                                               "+0.310 [0.20, 0.40]"]
    assert direction[6].cls == "above" and direction[8].cls == "above"
    header, rows = report_rows.margin_rows(run_payload, "impact")
    assert header[0] == "target" and len(rows) == 2
    page = probe.render_html(run_payload, [])
    assert 'class="degenerate" title="degenerate control' in page and "judge the target by the oracles" in page


def test_margins_are_plotted_with_their_cis(run_payload):
    fig = plots.margin_plot(run_payload, LONG)
    ax = fig.axes[0]
    assert [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() != "None"
            and len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]] == [0, plots.MARGIN_FLOOR]  # 0, and the gutter's edge
    markers = [line for line in ax.get_lines() if line.get_linestyle() == "None"]
    assert sorted(m.get_marker() for m in markers) == ["<", "D", "o", "o", "o", "o"]  # −2.5 runs off: ◀
    assert [t.get_text() for t in ax.texts] == ["−2.50"]  # in the gutter, left of the floor
    assert ax.texts[0].get_position()[0] < plots.MARGIN_FLOOR and ax.get_xlim()[0] < ax.texts[0].get_position()[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["direction", "pixels", "vjepa2:<b>tiny</b>", "speed", "pixels", "vjepa2:<b>tiny</b>"]
    whiskers = [line for line in ax.get_lines() if line.get_linestyle() == "-" and len(set(line.get_ydata())) == 1
                and line.get_xdata()[0] != line.get_xdata()[1]]
    assert len(whiskers) == 6 and [0.30, 0.51] in [list(np.round(w.get_xdata(), 2)) for w in whiskers]
    impact = plots.margin_plot(run_payload, "impact").axes[0]
    hollow = [m for m in impact.get_lines() if m.get_linestyle() == "None" and m.get_markerfacecolor() == "white"]
    assert len(hollow) == 1  # the degenerate static margin
    assert "mass [static]" in [t.get_text() for t in impact.get_yticklabels()]
    page = probe.render_html(run_payload, [])
    assert page.count('<div class="svg"') == 7 and page.count("margins with 95% CIs") == 2  # one plot per dataset


def test_identifiability_comes_first_and_static_targets_get_the_badge(run_payload):
    page = probe.render_html(run_payload, [])
    body = page[page.index("</nav>"):]  # after the contents
    assert body.index('id="verdict"') < body.index('id="glance"') < body.index('id="identifiability"')
    assert body.index('id="identifiability"') < body.index('id="margins"')  # before the margins' detail
    # the badge: in the per-target heading, in the margin table, in the targets' tables
    assert re.search(r'<h3>impact · mass <span class="badge badge-static">static</span></h3>', page)
    assert page.count('<span class="badge badge-static">static</span>') >= 3
    assert "direction <span class" not in page  # temporal: no badge
    md = report_rows.identifiability_markdown(run_payload)
    assert md.index(f"### {LONG}") < md.index("### impact")  # the payload's dataset order
    assert "| target | metric (chance) | oracle-static | oracle-full | track (original) | track (single_frame) | " \
           "verdict |" in md
    assert "| mass | R² (0.00) | 0.900 [0.80, 0.95] | 0.950 [0.85, 1.00] | 0.800 [0.70, 0.85] | " \
           "0.700 [0.60, 0.75] | static |" in md
    assert "| direction | bal. acc. (0.50) | 0.500 [0.40, 0.55] | 1.000 [0.90, 1.05] | – | – | temporal |" in md
    full = probe.render_markdown(run_payload)
    # the markdown mirrors the page: verdict, at a glance, identifiability, margins
    assert (full.index("## Verdict") < full.index("## At a glance") < full.index("## Identifiability")
            < full.index("## Temporal margins"))
    assert "## impact · mass [static] (r2, probe linear)" in full and "| mass [static] | pixels |" in full
    assert report_rows.identifiability_markdown({**run_payload, "identifiability": []}) == ""
    assert 'id="identifiability"' not in probe.render_html({**run_payload, "identifiability": []}, [])


def test_reversal_section_explains_and_tabulates(run_payload):
    page = probe.render_html(run_payload, [])
    assert page.index('id="margins"') < page.index('id="reversal"') < page.index('id="cross-view"')
    assert "High: the probe reads time" in page and "Chance: it reads static cues" in page
    t = tables.reversal_rows(run_payload, LONG)
    assert [str(h) for h in t.header] == ["encoder", "direction"]
    assert [str(c) for c in t.rows[0]] == ["rule", "swap_classes"]
    assert [str(c) for c in t.rows[2]] == ["pixels", "0.970 [0.92, 0.99]"] and t.rows[2][1].cls == "above"
    assert [str(c) for c in t.rows[3]] == ["vjepa2:<b>tiny</b>", "0.510 [0.46, 0.53]"] and t.rows[3][1].cls == ""
    md = probe.render_markdown(run_payload)
    assert "## Reversal sensitivity" in md and "| pixels | 0.970 [0.92, 0.99] |" in md


def test_subset_and_circular_targets_are_named_and_measured(run_payload):
    rows = report_rows.by_target(run_payload)[("impact", "heading", "moves=linear", "linear")]
    header, table = report_rows.score_rows(run_payload, rows)
    assert header[-1] == "angular error, original (deg)" and table[0][-1] == "31.500"
    md = probe.render_markdown(run_payload)
    assert "## impact · heading \\| moves=linear" not in md  # headings are not tables: no escaping
    assert "## impact · heading | moves=linear (circular_r2, probe linear)" in md
    assert "Scored only on the clips with moves=linear." in md
    # the dataset's declarations: reversal rule, where defined, period
    assert "| impact | heading | regression | deg | rotate +180° | moves=linear | 360 | – | – | h |" in md


def test_bars_below_minus_half_are_drawn_not_cut(run_payload):
    rows = [r for r in run_payload["results"] if r["target"] == "speed" and r["fit_view"] == r["view"]]
    fig = plots.bar_plot(run_payload, rows, "speed")
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 3) for p in ax.patches if p.get_height() < 0)
    assert heights == [plots.R2_FLOOR, -1.46, -1.19]  # −3.7 drawn down to the floor ...
    assert ax.get_ylim()[0] < plots.R2_FLOOR  # ... and every bar is inside the axes
    assert [t.get_text() for t in ax.texts] == ["−3.70"]  # ... with its true value written up the bar
    # −1.46's CI reaches −1.76, inside the axes; no whisker runs past the floor, so no ▼
    assert not [line for line in ax.get_lines() if line.get_marker() == "v"]
    rows[1] = {**rows[1], "ci95": [-2.6, -1.2]}
    marks = [line for line in plots.bar_plot(run_payload, rows, "speed").axes[0].get_lines()
             if line.get_marker() == "v"]
    assert len(marks) == 1 and len(marks[0].get_xdata()) == 1
    legend = ax.get_legend()
    assert legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1  # legend outside the axes


def test_run_html_one_head_escaped_with_headline_and_provenance(run_payload):
    page = probe.render_html(run_payload, [])
    assert page.count("<head>") == 1 and page.count("<style>") == 1 and page.count("<html") == 1
    assert "<b>tiny</b>" not in page and "vjepa2:&lt;b&gt;tiny&lt;/b&gt;" in page  # autoescaped
    assert page.index('id="glance"') < page.index('id="margins"') < page.index('id="timing"')
    # heatmap, a margins plot per dataset, a bar plot per target (direction, speed, mass, heading)
    assert page.count('<div class="svg"') == 1 + 2 + 4 and "<img" not in page  # inline SVG, none scaled down
    assert "ab" * 32 in page and "no weights" in page and "train/000007" in page and "accel_z" in page
    assert "on 2 of 2 targets an encoder&#39;s static margin has a 95% CI that excludes 0" in page


def test_markdown_says_the_unit_and_has_the_mae_column(run_payload):
    md = probe.render_markdown(run_payload)
    assert "MAE in" not in md and "unit: m/s" in md and "| MAE, original (m/s) |" in md
    assert "## At a glance" in md and f"- {LONG}: best static margin of an encoder +0.70" in md and "Temporal margin" in md


def test_timing_shows_wall_time_and_no_forward_for_weight_free_encoders(run_payload):
    header, rows = tables.timing_rows(run_payload)
    pixels, model = (dict(zip(header, r, strict=True)) for r in rows)
    assert pixels["clips/s"] == "100.0" and pixels["embed wall s"] == "6.0"
    assert pixels["forward ms/clip"] == "–" and pixels["overhead / forward"] == "–"
    assert model["forward ms/clip"] == "20.0" and model["overhead / forward"] == "0.50"


def test_piped_rich_tables_keep_full_names(run_payload):
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=False, color_system=None)
    print_tables(probe.rich_tables(run_payload), console)
    out = buf.getvalue()
    assert re.search(rf"│ {LONG} +│ speed +│ vjepa2:<b>tiny</b> +│ linear +│ 0.800 +│ 0.100 +│ \+0.700 \[0.00, 0.90\] +│"
                     r" 3.300 +│ -2.500 \[-3.00, -0.20\] +│", out)
    assert re.search(r"│ impact +│ heading \| moves=linear +│ pixels +│ .*‡", out)  # degenerate, marked
    assert re.search(r"│ impact +│ mass \[static\] +│", out)  # the badge is text, not rich markup
    assert "identifiability · impact" in out and "reversal sensitivity" in out
    assert "…" not in out
    assert max(map(len, out.splitlines())) > 80 and console.width == 80


@pytest.fixture
def surprise_payload():
    def kinds(a, b):
        return {"teleport": {"pairwise_accuracy": a, "pairwise_ci95": [a - 0.1, min(a + 0.1, 1)], "auroc": a,
                             "auroc_ci95": [a - 0.1, min(a + 0.1, 1)], "n_groups": 2},
                "vanish": {"pairwise_accuracy": b, "pairwise_ci95": [0.0, b + 0.1], "auroc": b,
                           "auroc_ci95": [0.0, b + 0.1], "n_groups": 2}}

    results = [{"dataset": "viol", "encoder": "extrapolate", "context": 4, "horizon": 2, "aggregate": agg,
                "chance": 0.5, "pairwise_accuracy": 0.5, "pairwise_ci95": [0.2, 0.8], "auroc": 0.5,
                "auroc_ci95": [0.3, 0.7], "n_groups": 4, "by_violation": kinds(0.9, 0.1)} for agg in ("max", "mean")]
    return {"created": "2026-01-01T00:00:00+00:00",
            "config": {"contexts": [4], "horizon": 2, "stride": 2, "split": None},
            "versions": {"evaluate": "0.1.0", "torch": "2.x"},
            "datasets": [{"name": "viol", "content_sha256": "ef" * 32, "frames": 16}],
            "encoders": [{"encoder": "extrapolate", "notes": [],
                          "timings": {"clips": 8, "load_s": 0.0, "ms_per_clip": 1.0, "forward_s": 0.1}}],
            "results": results, "seed_summary": [],
            "skipped": {"encoders": [{"encoder": "vjepa2:big", "reason": "no weights"}],
                        "clips": [{"dataset": "viol", "clip": "test/000003"}]}}


def hand_made_curves():
    out = []
    for g, kind, sign in (("g0", "teleport", 1), ("g1", "teleport", 1), ("g2", "vanish", -1), ("g3", "vanish", -1)):
        for possible in ("true", "false"):
            bump = 0 if possible == "true" else sign
            out.append({"dataset": "viol", "encoder": "extrapolate", "context": 4, "horizon": 2, "group_id": g,
                        "possible": possible, "violation": kind, "violation_frame": 6, "frame": [4, 6, 8],
                        "surprise": [1.0, 1.0 + bump, 1.0 + bump]})
    return out


def test_surprise_html_has_provenance_per_kind_scores_and_one_head(surprise_payload):
    page = surprise.render_html(surprise_payload, hand_made_curves())
    assert page.count("<head>") == 1 and page.count('<div class="svg"') == 1
    assert "Created 2026-01-01" in page and "ef" * 32 in page and "torch 2.x" in page
    assert "no weights" in page and "test/000003" in page
    assert re.search(r'class="above"[^>]*>0\.900 \[0\.80, 1\.00\] ▲', page)  # teleport above chance
    assert re.search(r'class="below"[^>]*>0\.100 \[0\.00, 0\.20\] ▼', page)  # vanish below
    assert "95% CI" in page and "standard errors" in page
    assert "<code>extrapolate</code>" in page and "Surprise: how badly" in page  # each spec its own code span
    assert "mean absolute error of a physics-free pixel extrapolation" in page  # what its surprise is
    md = surprise.render_markdown(surprise_payload)
    assert "| viol | teleport | extrapolate | 4 | max | 0.900 [0.80, 1.00] ▲ |" in md and "ef" * 32 in md


def test_per_kind_curves_keep_opposite_effects_apart():
    parts = surprise_plots.by_kind(hand_made_curves())
    assert sorted(parts) == ["teleport", "vanish"]
    diff = {k: surprise_plots.aligned_curves(cs)["difference"] for k, cs in parts.items()}
    assert diff["teleport"][1].tolist() == [0.0, 1.0, 1.0] and diff["vanish"][1].tolist() == [0.0, -1.0, -1.0]
    assert surprise_plots.aligned_curves(hand_made_curves())["difference"][1].tolist() == [0.0, 0.0, 0.0]  # pooled: nothing


def test_surprise_panels_share_a_scale_and_noise_stays_flat():
    """Contexts side by side share each row's range; a difference of float noise (1e-9) under curves that
    move by 1 is drawn in a range of at least ±0.1, not blown up to fill the panel; possible is drawn."""
    curves = [{**c, "context": context, "possible": possible, "surprise": [1.0 + noise, 2.0 + noise, 1.0 + noise]}
              for c in hand_made_curves() if c["possible"] == "true" for context in (4, 6)
              for possible, noise in (("true", 0.0), ("false", 1e-9))]  # curves move by 1, impossible 1e-9 above
    fig = surprise_plots.surprise_plot(curves, "t", "m")
    (top4, top6), (bottom4, bottom6) = fig.axes[0:2], fig.axes[2:4]
    assert top4.get_ylim() == top6.get_ylim() and bottom4.get_ylim() == bottom6.get_ylim()
    lo, hi = bottom4.get_ylim()
    assert lo <= -0.1 and hi >= 0.1
    assert [line.get_label() for line in top4.get_lines()[:2]] == ["possible (thick, underneath)", "impossible"]
    assert top4.get_ylabel().startswith("surprise (m)")
    assert surprise_plots.difference_limits((0.0, 2.0), (-5.0, 5.0)) == (-5.5, 5.5)  # a real effect keeps its range


def test_sweep_html_is_the_same_page():
    bins = [{"center": c, "score": s, "ci95": [s - 0.1, s + 0.1]} for c, s in ((1.0, 0.2), (2.0, 0.6), (3.0, 0.9))]
    out = {"created": "2026-01-01T00:00:00+00:00", "rundir": "/r", "config": {"param": "mass", "view": "original",
                                                                             "bins": 3},
           "results": [{"dataset": "impact", "target": "mass", "encoder": "pixels", "probe": "linear", "metric": "r2",
                        "param": "mass", "bins": bins, "threshold": 2.0, "threshold_ci95": [1.5, 2.5],
                        "threshold_in_range": True, "threshold_note": "in range", "slope": 2.0, "floor": 0.0,
                        "range": [1.0, 3.0]}]}
    page = sweep.render_html(out)
    assert page.count("<head>") == 1 and page.count('<div class="svg"') == 1
    assert "sweep over mass" in page and "2.000 [1.50, 2.50]" in page
    assert np.isfinite(out["results"][0]["threshold"])


def test_readme_tables_are_spliced_between_markers():
    from evaluate.report.readme import splice

    text = "intro\n<!-- identifiability:begin -->\nold table\n<!-- identifiability:end -->\nafter\n"
    out = splice(text, "identifiability", "| a | b |")
    assert out == "intro\n<!-- identifiability:begin -->\n| a | b |\n<!-- identifiability:end -->\nafter\n"
    with pytest.raises(ValueError, match="markers"):
        splice("no markers here", "identifiability", "x")


def test_report_md_links_every_plot_of_the_html_in_its_order(run_payload, tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(run_payload), encoding="utf-8")
    (tmp_path / "predictions.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "report-gone.html").write_text("a dataset no longer in the run", encoding="utf-8")
    md_path, html_path = probe.write_reports(tmp_path)
    files = sorted(p.name for p in (tmp_path / probe.FIGURES).iterdir())
    pages = [html_path] + sorted(tmp_path.glob("report-*.html"))  # the report, then its per-dataset pages
    assert [p.name for p in pages[1:]] == sorted(f"report-{d['name']}.html" for d in run_payload["datasets"])
    shown = [p.read_text(encoding="utf-8").count('<div class="svg"') for p in pages]
    assert len(files) == sum(shown) == 1 + 2 + 4 and shown[0] == 1 + 2  # heatmap and margins; bars on the pages
    linked = re.findall(r"!\[[^]]*\]\(([^)]+)\)", md_path.read_text(encoding="utf-8"))
    assert linked == [f"{probe.FIGURES}/{f}" for f in files]  # numbered in the HTML's order, linked in that order
    assert all((tmp_path / f).read_text(encoding="utf-8").startswith("<svg") for f in linked)


def test_bar_panels_of_one_metric_share_their_floor(run_payload):
    speed = [r for r in run_payload["results"] if r["target"] == "speed"]
    mass = [r for r in run_payload["results"] if r["target"] == "mass"]
    assert plots.bar_lowest(speed) == plots.R2_FLOOR and plots.bar_lowest(mass) == 0.0  # R² cut at the floor
    alone = plots.bar_plot(run_payload, mass, "mass").axes[0].get_ylim()
    shared = plots.bar_plot(run_payload, mass, "mass", plots.bar_lowest(speed)).axes[0].get_ylim()
    assert alone[0] == 0 and shared[0] < plots.R2_FLOOR and shared[1] == alone[1]


def test_the_lead_names_certified_tasks_and_says_plainly_when_none_is():
    from evaluate.report.lead import certified_line, lead_section

    def line(target, certified, opponent="image"):
        diff = {"call": "tie", "diff": 0.0, "ci95": [-0.1, 0.1], "test_groups": 30, "p_adjusted": 1.0,
                "a": "vjepa2", "b": opponent, "a_value": 0.5, "b_value": 0.5, "p": 1.0}
        return {"dataset": "gravity", "target": target, "tubelet": "vjepa2", "opponent": opponent,
                "opponent_role": "album", "certified": certified, "original": diff, "static_margin": None}

    rows = [line("accel_z", "certified"), line("accel_z", "certified", "pixels"), line("vz_end", "static"),
            line("mass", "not identified")]
    assert certified_line({"verdict": rows}) == ("Certified tasks (1 of 3): gravity · accel_z; not certified: "
                                                 "1 static: one frame gives it, 1 not identified by the oracles.")
    none = certified_line({"verdict": rows[2:]})
    assert none.startswith("No task is certified, so no line of the verdict is a result: of 2 task(s), 1 static")
    encoders = [{"encoder": "vjepa2", "role": "tubelet", "identity": {"kind": "vjepa2", "checkpoint": "x"}},
                {"encoder": "oracle-full", "role": "control", "identity": {"kind": "oracle-full"}}]
    lead = lead_section({"verdict": rows[2:], "encoders": encoders, "comparisons": []})
    assert any(t.startswith("No task is certified") for t in lead.text) and not lead.parts  # no table of nothing
    assert "It has no album" in " ".join(lead.text)  # the run cannot answer, said in words
    assert lead.bullets[1] == ("oracle-full — the true states of all frames in order; weights: none; control: a "
                               "yardstick, not a contender")


def test_the_report_reads_only_the_prediction_lines_it_draws_and_draws_the_same(run_payload, tmp_path):
    """write_reports reads predictions.jsonl through drawn_line: a page made from those lines is the page made
    from every line (the scatters of regression targets), and the other lines are never held."""

    from evaluate.io import read_jsonl

    rng = np.random.default_rng(0)
    lines = []
    for encoder in ("pixels", "vjepa2:<b>tiny</b>"):
        for fit_view in VIEWS:
            for test_view in ([fit_view] if fit_view != "original" else VIEWS):
                for clip in range(12):
                    truth = float(rng.normal())
                    lines.append({"dataset": LONG, "target": "speed", "kind": "regression", "encoder": encoder,
                                  "fit_view": fit_view, "test_view": test_view, "probe": "linear", "layer": None,
                                  "clip_id": f"test-{clip:06d}", "group_id": f"test-{clip // 2:06d}",
                                  "y_true": truth, "y_pred": truth + float(rng.normal(scale=0.3))})
                    lines.append({**lines[-1], "target": "direction", "kind": "class", "y_true": "falling",
                                  "y_pred": "rising"})
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    kept = read_jsonl(path, probe.drawn_line)
    assert 0 < len(kept) < len(lines) / 4 and all(line["kind"] == "regression" for line in kept)
    every_page, drawn_page = {}, {}
    assert probe.render_html(run_payload, lines, None, every_page) == probe.render_html(run_payload, kept, None,
                                                                                         drawn_page)
    assert every_page == drawn_page and "predicted vs true" in "".join(drawn_page.values())
