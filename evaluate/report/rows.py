"""The probe report's rows and labels: what a result row is (within- or cross-view), a target's
name and badge, the identifiability table (what one frame's ground truth gives of each target) and
the margins table (static and order margins with their CIs). Shared by report.md, report.html and
the terminal."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from evaluate.report import page
from evaluate.report.page import Cell, ci_text, fmt, md_table

STATIC = "static"
STATIC_NOTE = "oracle-static's 95% CI lies above chance: one frame's ground truth gives this target"
DEGENERATE = "‡"
DEGENERATE_NOTE = ("degenerate control: the encoder's features under the control view are the same for every clip, "
                   "so the margin means nothing; judge by the oracles and track")
MARGIN_TYPES = {"static": "single_frame", "order": "shuffled"}  # margin type -> its usual control view
IDENTIFIABILITY = (("oracle_static", "oracle-static"), ("oracle_full", "oracle-full"), ("track", "track (original)"),
                   ("track_single_frame", "track (single_frame)"))
VERDICTS = {"static": STATIC_NOTE,
            "temporal": "not static, and oracle-full's 95% CI lies above chance: the target needs time",
            "not identified": "neither oracle's 95% CI lies above chance",
            "unknown": "an oracle is missing from the run"}
IDENTIFIABILITY_TEXT = (
    "What the ground truth gives of each target, before any encoder: oracle-static reads the true state of one "
    "seeded frame (the frame single_frame shows), oracle-full the true states of all frames in order; track "
    "reads blobs from the pixels (the positive control: if it solves a target under original, the answer is in the "
    "pixels at this resolution). Verdict static: oracle-static's 95% CI lies above chance (one frame gives it); "
    "temporal: not static, and oracle-full's does; not identified: neither. Static targets carry a [static] badge "
    "everywhere below.")
MARGIN_TEXT = (
    "Static margin: original − max(chance, single_frame), what needs more than one frame. Order margin: "
    "original − max(chance, shuffled), what needs the frames' order. Same encoder, target and probe; CIs: paired "
    "bootstrap over test groups. Struck-through cells marked ‡ have a degenerate control (the encoder's features "
    "under it are identical for every clip, e.g. frame differences of a repeated frame): their margin means "
    "nothing; judge the target by the oracles and track.")
REVERSAL_TEXT = (
    "The probe fitted on original predicts the reversed test clips, scored against the labels the reversal should "
    "have (direction swaps, vz_start becomes −vz_end, direction_deg turns by 180°...). High: the probe reads time, "
    "its prediction flips with the clip. Chance: it reads static cues that reversal keeps.")
CROSS_TEXT = (
    "The probe fitted on original's train clips predicts each view's test clips without refitting, scored "
    "against the clips' own labels (which no view changes). original is the within-view score, for reference; "
    "reversal-aware labels are in Reversal sensitivity. R² has no lower bound: where a view moves the features "
    "far from the ones the probe was fitted on, its predictions can miss by far more than the labels vary, "
    "and R² falls to −100 or below (−1936 means a squared error 1937 times the labels' variance).")


METRIC_SHORT = {"balanced_accuracy": "bal. acc.", "r2": "R²", "circular_r2": "circular R²"}


def metric_text(r: dict[str, Any]) -> str:
    """'bal. acc. (0.50)': a score's metric, short, and its chance level."""
    return f"{METRIC_SHORT.get(r['metric'], r['metric'])} ({fmt(r['chance'], 2)})"


def run_views(payload: dict[str, Any]) -> list[str]:
    return list(payload["config"]["views"])


def is_within(r: dict[str, Any]) -> bool:
    """A within-view score: fitted and tested on the same view (rows without fit_view predate cross-view)."""
    return r.get("fit_view", r["view"]) == r["view"]


def is_cross(r: dict[str, Any]) -> bool:
    """A cross-view score: fitted on original, tested on another view without refitting."""
    return r.get("fit_view") == "original" and r["view"] != "original"


def target_name(r: dict[str, Any]) -> str:
    """'speed', or 'speed | moves=linear' for a target scored only on the clips where it is defined."""
    return f"{r['target']} | {r['subset']}" if r.get("subset") else r["target"]


def static_targets(payload: dict[str, Any]) -> set[tuple[str, str]]:
    """(dataset, target) of every target whose identifiability verdict is static."""
    return {(i["dataset"], i["target"]) for i in payload.get("identifiability", []) if i["verdict"] == STATIC}


def static_badge(static: set[tuple[str, str]], r: dict[str, Any]) -> str:
    return STATIC if (r["dataset"], r["target"]) in static else ""


def target_cell(static: set[tuple[str, str]], r: dict[str, Any]) -> Cell:
    badge = static_badge(static, r)
    return Cell(target_name(r), title=STATIC_NOTE if badge else "", badge=badge)


def probe_label(rows: list[dict[str, Any]]) -> Any:
    """'encoder', or 'encoder · probe' when the rows hold several probes."""
    several = len({r["probe"] for r in rows}) > 1
    return lambda r: f"{r['encoder']} · {r['probe']}" if several else r["encoder"]


def encoder_order(payload: dict[str, Any]) -> dict[str, int]:
    return {e["encoder"]: i for i, e in enumerate(payload.get("encoders", []))}


def datasets_of(payload: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    """The datasets the records name, in the payload's order."""
    named = [d["name"] for d in payload.get("datasets", [])]
    seen = dict.fromkeys(r["dataset"] for r in records)
    return [d for d in named if d in seen] + [d for d in seen if d not in named]


def by_target(payload: dict[str, Any]) -> dict[tuple[str, str, str | None, str], list[dict[str, Any]]]:
    """Within-view rows by (dataset, target, subset, probe)."""
    out: dict[tuple[str, str, str | None, str], list[dict[str, Any]]] = defaultdict(list)
    for r in payload["results"]:
        if is_within(r):
            out[(r["dataset"], r["target"], r.get("subset"), r["probe"])].append(r)
    return out


def _error_column(rows: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(field, header) of the regression error shown next to the score: MAE, or mean angular error."""
    for key, name in (("angular_error", "angular error"), ("mae", "MAE")):
        if any(r.get(key) is not None for r in rows):
            unit = rows[0].get("unit")
            return key, f"{name}, original ({unit})" if unit else f"{name}, original"
    return None


def score_rows(payload: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One row per encoder, one column per view: 'value [lo, hi]' of the within-view scores;
    regression adds the original view's mean absolute (or angular) error, in the target's unit."""
    rows = [r for r in rows if is_within(r)]
    views = run_views(payload)
    cells: dict[str, dict[str, str]] = defaultdict(dict)
    error: dict[str, str] = {}
    column = _error_column(rows)
    for r in rows:
        cells[r["encoder"]][r["view"]] = f"{fmt(r['value'])} {ci_text(r['ci95'], r.get('test_groups'))}"
        if column and r["view"] == "original" and r.get(column[0]) is not None:
            error[r["encoder"]] = fmt(r[column[0]])
    header = ["encoder", *views, *([column[1]] if column else [])]
    return header, [[enc, *(cells[enc].get(v, "–") for v in views), *([error.get(enc, "–")] if column else [])]
                    for enc in cells]


# --------------------------------------------------------------------------- identifiability


def identifiability_rows(payload: dict[str, Any], dataset: str) -> tuple[list[str], list[list[str | Cell]]]:
    """One row per target: oracle-static, oracle-full, track (original), track (single_frame), each
    'value [lo, hi]' coloured where the CI excludes chance, and the verdict."""
    records = [i for i in payload.get("identifiability", []) if i["dataset"] == dataset]
    several = len({i["probe"] for i in records}) > 1
    header = ["target", *(["probe"] if several else []), "metric (chance)", *(name for _, name in IDENTIFIABILITY),
              "verdict"]
    rows: list[list[str | Cell]] = []
    for i in records:
        scores = [i.get(key) for key, _ in IDENTIFIABILITY]
        first = next((s for s in scores if s), None)
        cells = [page.scored(s["value"], s["ci95"], s["chance"]) if s else Cell("–", "na") for s in scores]
        verdict = Cell(i["verdict"], "verdict-" + i["verdict"].replace(" ", "-"), VERDICTS.get(i["verdict"], ""))
        rows.append([i["target"], *([i["probe"]] if several else []),
                     metric_text(first) if first else "–", *cells, verdict])
    return header, rows


def identifiability_markdown(payload: dict[str, Any]) -> str:
    """The identifiability table as markdown, one table per dataset under a '### dataset' heading
    ('' when the run has none): what the README's table is generated from."""
    out = []
    for dataset in datasets_of(payload, payload.get("identifiability", [])):
        out += [f"### {dataset}", "", md_table(*identifiability_rows(payload, dataset)), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- margins


MarginKey = tuple[str, str, str | None, str, str]  # dataset, target, subset, encoder, probe


def paired_margins(payload: dict[str, Any]) -> dict[MarginKey, dict[str, dict[str, Any]]]:
    """Margin records by (dataset, target, subset, encoder, probe), then by margin_type."""
    out: dict[MarginKey, dict[str, dict[str, Any]]] = defaultdict(dict)
    for m in payload.get("temporal_margins", []):
        out[(m["dataset"], m["target"], m.get("subset"), m["encoder"], m["probe"])][m["margin_type"]] = m
    return out


def _control_views(payload: dict[str, Any], margin_type: str) -> str:
    views = {m["control_view"] for m in payload.get("temporal_margins", []) if m["margin_type"] == margin_type}
    return ", ".join(sorted(views)) or MARGIN_TYPES.get(margin_type, "?")


def _margin_cell(m: dict[str, Any] | None) -> Cell:
    if m is None:
        return Cell("–", "na")
    text = f"{m['value']:+.3f} {ci_text(m['ci95'], m.get('test_groups'))}"
    if m.get("degenerate_control"):
        return Cell(f"{DEGENERATE} {text}", "degenerate", DEGENERATE_NOTE)
    side = "" if not page.excludes(m["ci95"], 0.0) else "above" if m["ci95"][0] > 0 else "below"
    floored = m["control"] < m["floor"]
    note = f"the control ({fmt(m['control'])}) is below chance: floored at {fmt(m['floor'], 2)}" if floored else ""
    return Cell(text, side, note or ("95% CI excludes 0" if side else ""))


def _control_cell(m: dict[str, Any] | None) -> Cell:
    if m is None:
        return Cell("–", "na")
    if m.get("degenerate_control"):
        return Cell(f"{DEGENERATE} {fmt(m['control'])}", "degenerate", DEGENERATE_NOTE)
    return Cell(fmt(m["control"]))


def margin_rows(payload: dict[str, Any], dataset: str | None = None) -> tuple[list[str], list[list[str | Cell]]]:
    """Both margins side by side per (dataset, target, encoder, probe): the original score, the static
    control's score and margin [95% CI], the order control's score and margin [95% CI]. Given a
    dataset, only its rows, without the dataset column."""
    static = static_targets(payload)
    header = ["dataset", "target", "encoder", "probe", "original", f"static control ({_control_views(payload, 'static')})",
              "static margin [95% CI]", f"order control ({_control_views(payload, 'order')})",
              "order margin [95% CI]"]
    rows: list[list[str | Cell]] = []
    for (name, _, _, encoder, probe), ms in paired_margins(payload).items():
        if dataset is not None and name != dataset:
            continue
        m0 = next(iter(ms.values()))
        s, o = ms.get("static"), ms.get("order")
        rows.append([name, target_cell(static, m0), encoder, probe, fmt(m0["original"]),
                     _control_cell(s), _margin_cell(s), _control_cell(o), _margin_cell(o)])
    if dataset is not None:
        return header[1:], [row[1:] for row in rows]
    return header, rows




# Roles by kind, for results written before encoders declared one (evaluate/encoders: each class's role).
KIND_ROLES = {"oracle-static": "control", "oracle-full": "control", "track": "control", "vjepa2": "tubelet",
              "random-vjepa2": "tubelet", "videomae": "tubelet", "image": "album", "random-image": "album",
              "cnn3d": "3d-kernel", "random-cnn3d": "3d-kernel"}


def encoder_roles(payload: dict[str, Any]) -> dict[str, str]:
    """Encoder -> its role (tubelet, album, pixels, control), as the run recorded it or by its kind."""
    return {e["encoder"]: e.get("role") or KIND_ROLES.get(e["encoder"].split(",")[0].split(":")[0], "pixels")
            for e in payload.get("encoders", [])}
