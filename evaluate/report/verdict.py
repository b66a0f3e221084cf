"""The verdict, first thing in every report and in the terminal: on each target, does the tubelet
model beat the album (and the pixel baselines), by how much, and how sure are we.

Each line is a paired comparison on the same test clips (evaluate.comparisons): the difference in
score and in static margin, the paired CI and the Holm-adjusted call. A target that its run's
controls do not certify as a test of time is marked, and its line is not a result.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from evaluate.report.page import Cell, Section, Table, ci_text, fmt, folded, md_table
from evaluate.roles import ROLES, role_label

CALLS = {"a": "tubelet ahead", "b": "tubelet behind", "tie": "tie (could be chance)"}
CERTIFIED_TEXT = {
    "certified": "✓ certified",
    "static": "✗ static: one frame gives it",
    "not identified": "✗ not identified by the oracles",
    "no controls": "? no oracles in this run",
}

VERDICT_TEXT = (
    "Each line compares a tubelet encoder with an encoder of another kind (3D kernel, frame-tokenizer, album, LLM "
    "album or pixels; grouped by that kind) on the same test clips: the difference "
    "of their scores (and of their static margins, original − max(chance, single_frame)), a 95% CI from a paired "
    "bootstrap over test groups, and the call at Holm-adjusted p < 0.05 over every comparison of the run. Only "
    "certified targets answer the question: there the run's oracles show that one frame's visible state does "
    "not give the target and all frames do. Elsewhere a line is shown but is not a result.")
RANDOM_NOTE = ("Every tubelet, 3D-kernel and album model here has random weights (random-*): the verdict exercises the machinery on the "
               "architectures, it says nothing about what pretrained V-JEPA 2 or an image model know.")


def _diff_cell(c: dict[str, Any] | None) -> Cell:
    if c is None:
        return Cell("–")
    side = {"a": "above", "b": "below"}.get(c["call"], "")
    return Cell(f"{c['diff']:+.3f} {ci_text(c['ci95'], c['test_groups'])}", side,
                f"{c['a']} {fmt(c['a_value'])} − {c['b']} {fmt(c['b_value'])}; p {c['p']:.2g}, "
                f"Holm {c['p_adjusted']:.2g}")


def by_opponent_role(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Verdict lines grouped by what the opponent stands for, in the order of evaluate/roles.py (3D kernels,
    frame-tokenizers, the album, the LLM album, pixels); the run's order within a group."""
    def rank(v: dict[str, Any]) -> int:
        return ROLES.index(v["opponent_role"]) if v["opponent_role"] in ROLES else len(ROLES)

    return sorted(rows, key=rank)


def verdict_table(payload: dict[str, Any]) -> Table | None:
    rows = by_opponent_role(payload.get("verdict") or [])
    if not rows:
        return None
    header = ["against (what it stands for)", "dataset", "target", "controls", "tubelet", "against", "tubelet score",
              "their score",
              "difference [95% CI]", "Holm p", "call", "static margin difference", "call (margin)"]
    body: list[list[str | Cell]] = []
    for v in rows:
        o, m = v["original"], v.get("static_margin")
        certified = v["certified"] == "certified"
        call = CALLS[o["call"]] if certified else f"({CALLS[o['call']]}: not a result)"
        body.append([role_label(v["opponent_role"]), v["dataset"], v["target"],
                     Cell(CERTIFIED_TEXT[v["certified"]], "" if certified else "muted"), v["tubelet"], v["opponent"],
                     fmt(o["a_value"]), fmt(o["b_value"]),
                     _diff_cell(o), f"{o['p_adjusted']:.2g}", Cell(call, "verdict-" + o["call"] if certified else ""),
                     _diff_cell(m), CALLS[m["call"]] if m and certified else "–"])
    return Table(header, body, caption="tubelet against each kind of model")


def summary(payload: dict[str, Any]) -> list[str]:
    """Sentences: how many certified lines each way, what is missing for a verdict at all."""
    rows = payload.get("verdict") or []
    roles = {e["encoder"]: e.get("role") for e in payload.get("encoders", [])}
    if not rows:
        present = set(roles.values())
        lacks = [text for role, text in (("tubelet", "a tubelet encoder (vjepa2, random-vjepa2, videomae)"),
                                         ("album", "an album encoder (image, random-image)")) if role not in present]
        return ["No verdict: this run has no tubelet-versus-album pair" + (f"; it lacks {' and '.join(lacks)}"
                                                                          if lacks else "") + "."]
    certified = [v for v in rows if v["certified"] == "certified"]
    counts = Counter(v["original"]["call"] for v in certified)
    out = [f"On {len(certified)} certified (target, opponent) line(s): the tubelet encoder is ahead on "
           f"{counts['a']}, behind on {counts['b']}, and tied (the difference could be chance) on {counts['tie']}, "
           f"Holm-adjusted over the run's {len(payload.get('comparisons', []))} comparisons."]
    kinds = list(dict.fromkeys(v["opponent_role"] for v in by_opponent_role(certified)))
    if len(kinds) > 1:  # the same count per kind of opponent: tubelet vs 3D kernel, vs album...
        per_kind = []
        for kind in kinds:
            calls = Counter(v["original"]["call"] for v in certified if v["opponent_role"] == kind)
            per_kind.append(f"against the {role_label(kind)}, ahead {calls['a']}, behind {calls['b']}, tied {calls['tie']}")
        out.append("By what the opponent stands for: " + "; ".join(per_kind) + ".")
    if len(certified) < len(rows):
        out.append(f"{len(rows) - len(certified)} line(s) are on targets the run's controls do not certify: "
                   "not results.")
    if all(e["encoder"].startswith("random-") for e in payload.get("encoders", [])
           if roles.get(e["encoder"]) in ("tubelet", "3d-kernel", "album")):
        out.append(RANDOM_NOTE)
    return out


def verdict_section(payload: dict[str, Any]) -> Section:
    table = verdict_table(payload)
    return Section("Verdict: tubelet against album", "verdict", [*summary(payload), VERDICT_TEXT],
                   [table] if table else [])


def verdict_markdown(payload: dict[str, Any]) -> str:
    table = verdict_table(payload)
    out = ["## Verdict: tubelet against album", "", *(f"{s}\n" for s in summary(payload)), VERDICT_TEXT, ""]
    if table:
        out += [md_table(table.header, table.rows), ""]
    return "\n".join(out)


def comparison_tables(payload: dict[str, Any]) -> list[Table]:
    """Every comparison of the run, a table per dataset."""
    by_dataset: dict[str, list[list[str | Cell]]] = {}
    for c in payload.get("comparisons", []):
        by_dataset.setdefault(c["dataset"], []).append(
            [c["target"], c["probe"], c["quantity"], c["a"], c["b"], fmt(c["a_value"]), fmt(c["b_value"]),
             _diff_cell(c), f"{c['p']:.2g}", f"{c['p_adjusted']:.2g}", c["call"]])
    header = ["target", "probe", "quantity", "a", "b", "a value", "b value", "a − b [95% CI]", "p", "Holm p", "call"]
    return [Table(header, rows, caption=d) for d, rows in by_dataset.items()]


def comparisons_section(payload: dict[str, Any]) -> Section | None:
    tables = comparison_tables(payload)
    if not tables:
        return None
    return folded("Paired comparisons", "comparisons", [payload.get("comparison_family", "")],
                  [(t.caption, [Table(t.header, t.rows)]) for t in tables])


def comparisons_markdown(payload: dict[str, Any]) -> str:
    tables = comparison_tables(payload)
    if not tables:
        return ""
    out = ["## Paired comparisons", "", payload.get("comparison_family", ""), ""]
    for t in tables:
        out += [f"### {t.caption}", "", md_table(t.header, t.rows), ""]
    return "\n".join(out)


def rich_verdict(payload: dict[str, Any]) -> list[Any]:
    """The verdict table for the terminal, with the summary as its title."""
    from evaluate.report.page import table

    t = verdict_table(payload)
    title = "verdict · " + " ".join(summary(payload))
    return [table(title, t.header, t.rows)] if t else []


def write_compare_reports(out: Path, payload: dict[str, Any]) -> tuple[Path, Path]:
    """comparisons.md and comparisons.html of ``evaluate compare``: the verdict, then every comparison."""
    from evaluate.report import page

    runs = "; ".join(f"`{r['path']}` ({', '.join(r['encoders'])})" for r in payload["runs"])
    markdown = "\n".join(["# evaluate compare", "", f"Created {payload['created']}; runs: {runs}.", "",
                          verdict_markdown(payload), comparisons_markdown(payload),
                          *(f"- {n}" for n in payload.get("notes", [])), ""])
    html = page.render_page("compare.html", "evaluate compare", payload,
                            [s for s in (comparisons_section(payload),) if s], skipped=False,
                            lead=[verdict_section(payload)], runs=payload["runs"])
    return page.write_pair(out, "comparisons.md", markdown, "comparisons.html", html)
