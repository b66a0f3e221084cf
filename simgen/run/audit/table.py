"""The audit's summary: per target, the worst one-frame reading (the frame whose CI lower bound comes
nearest to breaking the promise) and the all-frames reading, for each probe; as rows for a rich table
(``simgen audit``) and a markdown one (``bench/audit.py`` splices it into the README)."""

from __future__ import annotations

from simgen.run.audit.run import TOLERANCE, AuditRecord, AuditResult

HEADER = ("target", "promise", "metric (chance)", "one frame, worst: linear", "one frame, worst: boosted",
          "all frames: linear", "all frames: boosted", "verdict")
PROMISE_WORDS = {"not_in_one_frame": "not in one frame", "one_frame_may": "one frame may give it",
                 "none": "none declared"}
# A kept promise of "not in one frame" certifies the target as a test of time (evaluate's verdict also asks
# the run's oracles); one that one frame may give is static, whatever the readings.
VERDICT_WORDS = {"not_in_one_frame": "pass: certified", "one_frame_may": "static", "none": "pass"}


def fmt(record: AuditRecord | None, with_frame: bool = False) -> str:
    if record is None:
        return "–"
    where = f" @{record.frame}" if with_frame else ""
    return f"{record.value:.3f} [{record.ci95[0]:.2f}, {record.ci95[1]:.2f}]{where}"


def worst(records: list[AuditRecord]) -> AuditRecord | None:
    """The record whose CI lower bound lies highest above its chance level (ties: the earlier frame)."""
    return max(records, key=lambda r: r.ci95[0] - r.chance, default=None)


def summary_rows(result: AuditResult) -> list[list[str]]:
    rows = []
    for target in dict.fromkeys(r.target for r in result.records):
        mine = [r for r in result.records if r.target == target]
        first = mine[0]

        def pick(source: str, probe: str) -> list[AuditRecord]:
            return [r for r in mine if r.source == source and r.probe == probe]  # noqa: B023

        verdict = "LEAK" if any(r.verdict == "leak" for r in mine) else VERDICT_WORDS[first.promise]
        rows.append([target, PROMISE_WORDS[first.promise], f"{metric_word(first.metric)} ({first.chance:.2f})",
                     fmt(worst(pick("one_frame", "linear")), True), fmt(worst(pick("one_frame", "boosted")), True),
                     fmt(worst(pick("all_frames", "linear"))), fmt(worst(pick("all_frames", "boosted"))), verdict])
    rows += [[target, "", "", f"not measured: {why}", "", "", "", ""] for target, why in result.skipped.items()]
    return rows


def metric_word(metric: str) -> str:
    return {"balanced_accuracy": "bal. acc.", "r2": "R²", "circular_r2": "circular R²"}[metric]


def markdown(result: AuditResult) -> str:
    """One spec's table, with the line that says what was run and how long it took."""
    lines = [f"**{result.spec}** (`{result.family}`): {result.clips:,} clips ({result.groups:,} groups), "
             f"frames {', '.join(map(str, measured_frames(result)))} of {result.frames}; "
             f"{result.seconds.get('total', 0):.0f} s ({result.seconds.get('simulate', 0):.0f} s simulating); "
             f"{len(result.leaks)} leak(s)", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in summary_rows(result)]
    return "\n".join(lines)


def measured_frames(result: AuditResult) -> list[int]:
    """The frames some target was read from (a target that one frame may give is read at three only)."""
    return sorted({r.frame for r in result.records if r.frame is not None})


def tolerance_line() -> str:
    return (f"A promise that no single frame gives a target fails (LEAK) when, at any audited frame, either probe's "
            f"95% CI lower bound exceeds chance + {TOLERANCE['balanced_accuracy']} (balanced accuracy) or "
            f"{TOLERANCE['r2']} (R², circular R²); kept, it certifies the target as a test of time. A target that "
            f"one frame may give is static, not certified. @k: the frame.")
