"""The reports from hand-made payloads: the margin heatmap marks exactly the cells whose CI excludes
0, bars below −0.5 are drawn (not cut), one <head> per page with everything escaped, timing that
means something for weight-free encoders, the surprise page's provenance and per-kind numbers, and
rich tables that keep full names when piped."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from matplotlib.patches import Rectangle
from rich.console import Console

from evaluate.report import probe, surprise, sweep
from evaluate.report.page import print_tables

VIEWS = ["original", "shuffled", "single_frame"]
LONG = "falling_rising_with_a_long_name"


def _result(dataset, target, encoder, view, value, ci, kind="regression", **extra):
    metric = "r2" if kind == "regression" else "balanced_accuracy"
    return {"dataset": dataset, "target": target, "kind": kind, "encoder": encoder, "view": view, "probe": "linear",
            "metric": metric, "value": value, "ci95": ci, "chance": 0.0 if kind == "regression" else 0.5,
            "n_train": 80, "n_test": 40, "test_groups": 40, **extra}


def _margin(dataset, target, encoder, value, ci, test_groups=40):
    return {"dataset": dataset, "target": target, "encoder": encoder, "probe": "linear", "value": value, "ci95": ci,
            "best_static_view": "single_frame", "test_groups": test_groups}


@pytest.fixture
def run_payload():
    encoders = ["pixels", "vjepa2:<b>tiny</b>"]
    results = [_result(LONG, "direction", enc, view, 0.5, [0.4, 0.6], kind="class")
               for enc in encoders for view in VIEWS]
    # speed: pixels' R² far below −0.5 (−1.19, −1.46), one view below the floor (−3.7)
    speed = {"pixels": (-1.19, -1.46, -3.7), "vjepa2:<b>tiny</b>": (0.8, 0.1, 0.0)}
    results += [_result(LONG, "speed", enc, view, v, [v - 0.3, v + 0.2], unit="m/s", mae=0.5)
                for enc, values in speed.items() for view, v in zip(VIEWS, values, strict=True)]
    margins = [
        _margin(LONG, "direction", "pixels", 0.42, [0.30, 0.51]),  # excludes 0: marked
        _margin(LONG, "direction", "vjepa2:<b>tiny</b>", 0.05, [-0.02, 0.11]),  # includes 0
        _margin(LONG, "speed", "pixels", -0.27, [-0.40, -0.10]),  # excludes 0 (below): marked
        _margin(LONG, "speed", "vjepa2:<b>tiny</b>", 0.70, [0.0, 0.9]),  # touches 0: not marked
        _margin("impact", "mass", "pixels", 0.0002, [0.0001, 0.0004], test_groups=5),  # tiny, few groups
    ]
    return {
        "created": "2026-01-01T00:00:00+00:00",
        "config": {"views": VIEWS},
        "datasets": [{"name": LONG, "clips": 120, "frames": 16, "content_sha256": "ab" * 32},
                     {"name": "impact", "clips": 40, "frames": 40, "content_sha256": "cd" * 32}],
        "encoders": [
            {"encoder": "pixels", "identity": {"kind": "pixels", "size": 16}, "notes": [],
             "timings": {"clips": 600, "forward_s": 0.001, "preprocess_s": 1.0, "decode_wait_s": 2.0,
                         "probe_s": 3.0, "embed_wall_s": 6.0, "load_s": 0.0, "cache_hits": 0}},
            {"encoder": "vjepa2:<b>tiny</b>", "identity": {"kind": "vjepa2", "checkpoint": "x"}, "notes": ["a note"],
             "timings": {"clips": 600, "forward_s": 12.0, "preprocess_s": 3.0, "decode_wait_s": 1.0,
                         "probe_s": 2.0, "embed_wall_s": 20.0, "load_s": 1.5, "cache_hits": 4}}],
        "results": results,
        "temporal_margins": margins,
        "skipped": {"encoders": [{"encoder": "vjepa2:big", "reason": "no weights"}],
                    "clips": [{"dataset": LONG, "clip": "train/000007"}],
                    "targets": [{"dataset": LONG, "target": "accel_z", "reason": "constant target"}]},
        "versions": {"evaluate": "0.1.0", "torch": "2.x"},
        "warnings": [],
    }


def test_heatmap_marks_exactly_the_cells_whose_ci_excludes_zero(run_payload):
    grids = {g.dataset: g for g in probe.margin_grids(run_payload)}
    g = grids[LONG]
    assert g.rows == ["pixels", "vjepa2:<b>tiny</b>"] and g.targets == ["direction", "speed"]
    assert g.marked.tolist() == [[True, True], [False, False]]
    assert grids["impact"].marked.tolist() == [[True]] and grids["impact"].few.tolist() == [[True]]
    # a marked margin that rounds to 0.00 gets a third digit, † for too few test groups
    assert grids["impact"].cell_text(0, 0) == "+0.000★†"

    fig = probe.margin_heatmap(list(grids.values()))
    ax = [a for a in fig.axes if a.get_title(loc="left") == LONG][0]
    starred = {(round(t.get_position()[1]), round(t.get_position()[0])) for t in ax.texts if "★" in t.get_text()}
    assert starred == {(0, 0), (0, 1)}
    boxes = {(round(p.get_y() + p.get_height() / 2), round(p.get_x() + p.get_width() / 2))
             for p in ax.patches if isinstance(p, Rectangle) and p.get_linewidth() >= 2}
    assert boxes == starred
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["+0.05", "+0.42★", "+0.70", "-0.27★"]


def test_summary_line_names_the_best_margin_and_counts_targets(run_payload):
    g = probe.margin_grids(run_payload)[0]
    assert probe.summary_line(g) == (f"{LONG}: best margin +0.70 [0.00, 0.90] (vjepa2:<b>tiny</b>, speed); 2 of 2 "
                                     "targets have a margin whose 95% CI excludes 0 (1 above, 1 below)")


def test_bars_below_minus_half_are_drawn_not_cut(run_payload):
    rows = [r for r in run_payload["results"] if r["target"] == "speed"]
    fig = probe.bar_plot(run_payload, rows, "speed")
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 3) for p in ax.patches if p.get_height() < 0)
    assert heights == [probe.R2_FLOOR, -1.46, -1.19]  # −3.7 drawn down to the floor ...
    assert ax.get_ylim()[0] < probe.R2_FLOOR  # ... and every bar is inside the axes
    assert [t.get_text() for t in ax.texts] == ["-3.70"]  # ... with its true value written under it
    # −1.46's CI reaches −1.76, inside the axes; no whisker runs past the floor, so no ▼
    assert not [line for line in ax.get_lines() if line.get_marker() == "v"]
    rows[1] = {**rows[1], "ci95": [-2.6, -1.2]}
    marks = [line for line in probe.bar_plot(run_payload, rows, "speed").axes[0].get_lines()
             if line.get_marker() == "v"]
    assert len(marks) == 1 and len(marks[0].get_xdata()) == 1
    legend = ax.get_legend()
    assert legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1  # legend outside the axes


def test_run_html_one_head_escaped_with_headline_and_provenance(run_payload):
    page = probe.render_html(run_payload, [])
    assert page.count("<head>") == 1 and page.count("<style>") == 1 and page.count("<html") == 1
    assert "<b>tiny</b>" not in page and "vjepa2:&lt;b&gt;tiny&lt;/b&gt;" in page  # autoescaped
    assert page.index('id="glance"') < page.index('id="margins"') < page.index('id="timing"')
    assert page.count("data:image/png;base64,") == 1 + 2  # heatmap, a bar plot per target
    assert "ab" * 32 in page and "no weights" in page and "train/000007" in page and "accel_z" in page
    assert "2 of 2 targets have a margin whose 95% CI excludes 0" in page


def test_markdown_says_the_unit_and_has_the_mae_column(run_payload):
    md = probe.render_markdown(run_payload)
    assert "MAE in" not in md and "unit: m/s" in md and "| MAE, original (m/s) |" in md
    assert "## At a glance" in md and f"- {LONG}: best margin +0.70" in md and "Temporal margin" in md


def test_timing_shows_wall_time_and_no_forward_for_weight_free_encoders(run_payload):
    header, rows = probe.timing_rows(run_payload)
    pixels, model = (dict(zip(header, r, strict=True)) for r in rows)
    assert pixels["clips/s"] == "100.0" and pixels["embed wall s"] == "6.0"
    assert pixels["forward ms/clip"] == "–" and pixels["overhead / forward"] == "–"
    assert model["forward ms/clip"] == "20.0" and model["overhead / forward"] == "0.50"


def test_piped_rich_tables_keep_full_names(run_payload):
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=False, color_system=None)
    print_tables(probe.rich_tables(run_payload), console)
    out = buf.getvalue()
    assert re.search(rf"│ {LONG} +│ speed +│ vjepa2:<b>tiny</b> +│ linear +│ 0.800 +│ single_frame +│", out)
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


def _curves():
    out = []
    for g, kind, sign in (("g0", "teleport", 1), ("g1", "teleport", 1), ("g2", "vanish", -1), ("g3", "vanish", -1)):
        for possible in ("true", "false"):
            bump = 0 if possible == "true" else sign
            out.append({"dataset": "viol", "encoder": "extrapolate", "context": 4, "horizon": 2, "group_id": g,
                        "possible": possible, "violation": kind, "violation_frame": 6, "frame": [4, 6, 8],
                        "surprise": [1.0, 1.0 + bump, 1.0 + bump]})
    return out


def test_surprise_html_has_provenance_per_kind_scores_and_one_head(surprise_payload):
    page = surprise.render_html(surprise_payload, _curves())
    assert page.count("<head>") == 1 and page.count("data:image/png;base64,") == 1
    assert "Created 2026-01-01" in page and "ef" * 32 in page and "torch 2.x" in page
    assert "no weights" in page and "test/000003" in page
    assert re.search(r'class="above"[^>]*>0\.900 \[0\.80, 1\.00\] ▲', page)  # teleport above chance
    assert re.search(r'class="below"[^>]*>0\.100 \[0\.00, 0\.20\] ▼', page)  # vanish below
    assert "95% CI" in page and "standard errors" in page
    md = surprise.render_markdown(surprise_payload)
    assert "| viol | teleport | extrapolate | 4 | max | 0.900 [0.80, 1.00] ▲ |" in md and "ef" * 32 in md


def test_per_kind_curves_keep_opposite_effects_apart():
    parts = surprise.by_kind(_curves())
    assert sorted(parts) == ["teleport", "vanish"]
    diff = {k: surprise.aligned_curves(cs)["difference"] for k, cs in parts.items()}
    assert diff["teleport"][1].tolist() == [0.0, 1.0, 1.0] and diff["vanish"][1].tolist() == [0.0, -1.0, -1.0]
    assert surprise.aligned_curves(_curves())["difference"][1].tolist() == [0.0, 0.0, 0.0]  # pooled: nothing


def test_sweep_html_is_the_same_page():
    bins = [{"center": c, "score": s, "ci95": [s - 0.1, s + 0.1]} for c, s in ((1.0, 0.2), (2.0, 0.6), (3.0, 0.9))]
    out = {"created": "2026-01-01T00:00:00+00:00", "rundir": "/r", "config": {"param": "mass", "view": "original",
                                                                             "bins": 3},
           "results": [{"dataset": "impact", "target": "mass", "encoder": "pixels", "probe": "linear", "metric": "r2",
                        "param": "mass", "bins": bins, "threshold": 2.0, "threshold_ci95": [1.5, 2.5],
                        "threshold_in_range": True, "threshold_note": "in range", "slope": 2.0, "floor": 0.0,
                        "range": [1.0, 3.0]}]}
    page = sweep.render_html(out)
    assert page.count("<head>") == 1 and page.count("data:image/png;base64,") == 1
    assert "sweep over mass" in page and "2.000 [1.50, 2.50]" in page
    assert np.isfinite(out["results"][0]["threshold"])
