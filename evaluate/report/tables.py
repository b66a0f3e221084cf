"""The probe report's detail tables: reversal sensitivity, cross-view scores, the targets as each
dataset declares them, and timings."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from evaluate.report import page
from evaluate.report.page import Cell, Table, fmt
from evaluate.report.rows import (
    encoder_order,
    is_cross,
    metric_text,
    probe_label,
    run_views,
    static_targets,
    target_cell,
    target_name,
)


def reversal_rows(payload: dict[str, Any], dataset: str) -> Table:
    """Encoder (· probe) × target: reversal sensitivity 'value [lo, hi]', coloured where the CI
    excludes chance; the caption says each target's metric, rule and chance."""
    static = static_targets(payload)
    records = [r for r in payload.get("reversal_sensitivity", []) if r["dataset"] == dataset]
    label = probe_label(records)
    targets = list(dict.fromkeys((r["target"], r.get("subset")) for r in records))
    first = {(r["target"], r.get("subset")): r for r in reversed(records)}
    order = encoder_order(payload)
    encoders = sorted(dict.fromkeys(label(r) for r in records),
                      key=lambda e: (order.get(e.split(" · ")[0], len(order)), e))
    cells: dict[tuple[str, tuple[str, str | None]], Cell] = {}
    for r in records:
        c = page.scored(r["value"], r["ci95"], r["chance"], r.get("test_groups"))
        if r.get("angular_error") is not None:
            c = Cell(f"{c.text}, error {fmt(r['angular_error'], 1)}", c.cls, c.title)
        cells[(label(r), (r["target"], r.get("subset")))] = c
    header: list[Any] = ["encoder", *(target_cell(static, {"dataset": dataset, "target": t, "subset": s})
                                      for t, s in targets)]
    rows: list[list[str | Cell]] = [
        [Cell("rule", "na"), *(Cell(first[t]["rule"], "na") for t in targets)],
        [Cell("metric (chance)", "na"), *(Cell(metric_text(first[t]), "na") for t in targets)],
        *([e, *(cells.get((e, t), Cell("–", "na")) for t in targets)] for e in encoders)]
    return Table(header, rows, dataset)


def cross_rows(payload: dict[str, Any], dataset: str) -> Table | None:
    """Target × encoder (· probe) rows, one column per test view: the probe fitted on original,
    tested on each view without refitting (original: the within-view score). None without any."""
    rows_ = [r for r in payload["results"] if r["dataset"] == dataset and r.get("fit_view") == "original"]
    if not any(is_cross(r) for r in rows_):
        return None
    static = static_targets(payload)
    label = probe_label(rows_)
    views = [v for v in run_views(payload) if any(r["view"] == v for r in rows_)]
    cells: dict[tuple[str, str | None, str], dict[str, Cell]] = defaultdict(dict)
    first: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for r in rows_:
        key = (r["target"], r.get("subset"), label(r))
        first.setdefault(key, r)
        cells[key][r["view"]] = page.scored(r["value"], r["ci95"], r["chance"], r.get("test_groups"))
    header = ["target", "encoder", *("original (fitted)" if v == "original" else v for v in views)]
    rows: list[list[str | Cell]] = [[target_cell(static, first[k]), k[2], *(c.get(v, Cell("–", "na")) for v in views)]
                                    for k, c in cells.items()]
    metrics: dict[str, list[str]] = defaultdict(list)  # metric (chance) -> its targets
    for r in first.values():
        if target_name(r) not in metrics[metric_text(r)]:
            metrics[metric_text(r)].append(target_name(r))
    scored_as = "; ".join(f"{m}: {', '.join(ts)}" for m, ts in metrics.items())
    return Table(header, rows, f"{dataset}: fitted on original, tested on each view. Metric (chance): {scored_as}")


def _reversal_rule(info: dict[str, Any]) -> str:
    rev = info.get("reversal")
    if not rev:
        return "–"
    extra = [f"of {rev['of']}"] if rev.get("of") else []
    extra += [f"{rev['degrees']:+g}°"] if rev.get("degrees") is not None else []
    return " ".join([rev.get("rule", "?"), *extra])


def target_rows(payload: dict[str, Any]) -> tuple[list[str], list[list[str | Cell]]]:
    """Every target as its dataset declares it, with its identifiability verdict."""
    verdict = {(i["dataset"], i["target"]): i["verdict"] for i in payload.get("identifiability", [])}
    header = ["dataset", "target", "kind", "unit", "reversal", "defined when", "period", "residual on", "verdict",
              "description"]
    rows: list[list[str | Cell]] = []
    for d in payload.get("datasets", []):
        for name, info in (d.get("targets") or {}).items():
            when = ", ".join(f"{k}={v}" for k, v in (info.get("defined_when") or {}).items())
            rows.append([d["name"], target_cell(static_targets(payload), {"dataset": d["name"], "target": name}),
                         info["kind"], info.get("unit") or "–", _reversal_rule(info), when or "–",
                         fmt(info.get("period"), 0) if info.get("period") else "–",
                         ", ".join(info.get("residual_on") or []) or "–", verdict.get((d["name"], name), "–"),
                         Cell(info.get("description", ""), "wrap")])
    return header, rows


# --------------------------------------------------------------------------- timing


def _has_model(e: dict[str, Any]) -> bool:
    """Weight-free encoders (pixels, motion, the oracles, track) have no checkpoint and no forward pass to speak of."""
    return "checkpoint" in e.get("identity", {"checkpoint": None})


def timing_rows(payload: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Embedding wall time and clips/s for every encoder; forward ms/clip and overhead / forward
    only for encoders with a model ('–' for the weight-free ones, whose 'forward' is numpy)."""
    header = ["encoder", "clip-views encoded", "cache hits", "embed wall s", "clips/s", "load s",
              "forward ms/clip", "preprocess ms/clip", "decode wait s", "probe s", "overhead / forward"]
    rows = []
    for e in payload.get("encoders", []):
        t = e["timings"]
        n, wall = t.get("clips", 0), t.get("embed_wall_s")
        fwd, pre = t.get("forward_s", 0.0), t.get("preprocess_s", 0.0)
        overhead = pre + t.get("decode_wait_s", 0.0) + t.get("probe_s", 0.0)
        model = _has_model(e) and fwd > 0
        rows.append([e["encoder"], str(n), str(t.get("cache_hits", 0)), fmt(wall, 1),
                     f"{n / wall:.1f}" if n and wall else "–", fmt(t.get("load_s"), 1),
                     f"{1000 * fwd / n:.1f}" if model and n else "–", f"{1000 * pre / n:.1f}" if n else "–",
                     f"{t.get('decode_wait_s', 0.0):.2f}", f"{t.get('probe_s', 0.0):.2f}",
                     f"{overhead / fwd:.2f}" if model else "–"])
    return header, rows


