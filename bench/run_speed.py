"""``evaluate run`` before and after issue 25, side by side on the same data: wall time, peak RSS and
whether the result rows are the same.

The code before is a git worktree of ``--base`` (default 604d18a, the commit before the change),
run with this venv and ``PYTHONPATH`` pointing at the worktree (each run first checks that it
imports ``evaluate`` from where it should). Each ``evaluate run`` is a fresh process with a fresh
embedding cache, launched from a small wrapper whose ``getrusage(RUSAGE_CHILDREN)`` is that run's peak
RSS alone. ``--repeat N`` alternates the two codes (base, new, new, base, ...) so that a load that
changes over time (the 2-core machine is shared) weighs on both alike; the ratio is of the sums.

    .venv/bin/python bench/run_speed.py --data /tmp/E_data            # the demo's six datasets
    .venv/bin/python bench/run_speed.py --data /tmp/E_data --memory /tmp/lights200 /tmp/lights2000

``--memory SMALL LARGE``: peak RSS of the new code's run on two renders of one family (e.g. 200 and
2,000 clips), with the demo's encoders; the goal is at most 1.2x growth.

Rows are compared field by field (numbers within 1e-6); a row that differs is listed with its
fields. Writes bench/results/run_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("falling_rising", "impact", "lights", "arrow_of_time", "gravity", "contact")
ENCODERS = ("pixels", "motion", "random-vjepa2:tiny", "random-image:tiny", "random-image:tiny,pool=trajectory",
            "oracle-static", "oracle-full", "track")
SECTIONS = ("results", "temporal_margins", "reversal_sensitivity", "identifiability", "layer_choices", "comparisons",
            "verdict")
VOLATILE = {"probe_params", "timings", "seconds"}  # not results: how long, or solver diagnostics
TOLERANCE = 1e-6

# Runs one command, then prints its wall time and the peak RSS of it and its children, as JSON.
WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
rc = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "w"), stderr=subprocess.STDOUT).returncode
print(json.dumps({"rc": rc, "wall_s": time.perf_counter() - start,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def worktree(base: str, where: Path) -> Path:
    """A checkout of ``base`` at ``where`` (made with ``git worktree add`` when absent)."""
    if not (where / "evaluate" / "__init__.py").is_file():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), base], check=True)
    head = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    if not head.stdout.startswith(base):
        raise SystemExit(f"{where} is at {head.stdout.strip()}, not {base}: remove it (git worktree remove) or pass "
                         f"another --worktree")
    return where


def code_env(code: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    found = subprocess.run([sys.executable, "-c", "import evaluate, simgen; print(evaluate.__file__, simgen.__file__)"],
                           cwd=code, env=env, capture_output=True, text=True, check=True).stdout.split()
    if not all(Path(f).resolve().is_relative_to(code.resolve()) for f in found):
        raise SystemExit(f"PYTHONPATH={code} imports {found}, not the code at {code}")
    return env


def evaluate_run(code: Path, datasets: list[Path], encoders: tuple[str, ...], out: Path, log: Path) -> dict:
    """One fresh ``evaluate run`` of ``code`` (its own cache): wall time, peak RSS, exit status."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "evaluate.cli", "run", *map(str, datasets),
               *[a for e in encoders for a in ("-e", e)], "--out", str(out)]
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(log), *command], cwd=code, env=code_env(code),
                          capture_output=True, text=True, check=True)
    measured = json.loads(done.stdout)
    if measured["rc"]:
        raise SystemExit(f"evaluate run of {code} failed (exit {measured['rc']}); its output is in {log}")
    return measured


def row_key(section: str, row: dict) -> str:
    """What names a row of a section: every field that is a name, not a number."""
    names = {k: v for k, v in row.items() if isinstance(v, str) or v is None or isinstance(v, bool)}
    return section + json.dumps(names, sort_keys=True)


def differences(a, b, path: str = "") -> list[str]:
    """Where two rows differ: numbers beyond TOLERANCE (NaN equals NaN), anything else unequal."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) if k not in VOLATILE
                for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        same = (a != a and b != b) or abs(a - b) <= TOLERANCE
        return [] if same else [f"{path}: {a} vs {b}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def compare_rows(base: dict, new: dict) -> dict:
    """Every section's rows matched by their names; counts, and the rows that differ with how (a results row
    with its probe's fitted parameters before and after: a C or solver that changed says why)."""
    report = {"rows": 0, "identical": 0, "differing": [], "only_before": [], "only_after": []}
    for section in SECTIONS:
        before = {row_key(section, r): r for r in base.get(section) or []}
        after = {row_key(section, r): r for r in new.get(section) or []}
        report["only_before"] += sorted(set(before) - set(after))
        report["only_after"] += sorted(set(after) - set(before))
        for key in sorted(set(before) & set(after)):
            report["rows"] += 1
            diff = differences(before[key], after[key])
            if not diff:
                report["identical"] += 1
                continue
            record = {"row": key, "fields": diff[:8]}
            if "probe_params" in before[key]:
                record["probe_params"] = {"before": before[key]["probe_params"], "after": after[key]["probe_params"]}
            report["differing"].append(record)
    return report


PREDICTION_ROW = ("dataset", "target", "encoder", "fit_view", "test_view", "probe", "layer")


def moved_predictions(before: Path, after: Path) -> list[dict]:
    """The prediction rows (one results row's test clips) whose predictions differ between two run folders'
    predictions.jsonl, each with how many of its test clips moved: what "at most one test clip's worth"
    is counted in."""
    def read(path: Path) -> dict[tuple, dict[str, object]]:
        rows: dict[tuple, dict[str, object]] = {}
        with open(path / "predictions.jsonl") as lines:
            for line in map(json.loads, lines):
                rows.setdefault(tuple(line[k] for k in PREDICTION_ROW), {})[line["clip_id"]] = line["y_pred"]
        return rows

    old, new = read(before), read(after)
    moved = []
    for key in sorted(set(old) & set(new), key=str):
        clips = [c for c in old[key] if differences(old[key][c], new[key].get(c))]
        if clips:
            moved.append({**dict(zip(PREDICTION_ROW, key, strict=True)), "moved": len(clips),
                          "test_clips": len(old[key]), "clips": clips})
    return moved


def compared(work: Path) -> dict:
    """The first before and after runs under ``work``: their rows compared, and the predictions that moved
    (printed too)."""
    rows = compare_rows(*(json.loads((work / f"{w}0" / "results.json").read_text()) for w in ("before", "after")))
    moved = moved_predictions(work / "before0", work / "after0")
    print(f"rows: {rows['identical']} of {rows['rows']} identical, {len(rows['differing'])} differ, "
          f"{len(rows['only_before'])} only before, {len(rows['only_after'])} only after")
    for m in moved:
        print(f"  predictions moved: {m['moved']} of {m['test_clips']} test clips of {m['dataset']}/{m['target']}, "
              f"{m['encoder']}, fitted on {m['fit_view']}, tested on {m['test_view']}")
    for d in rows["differing"]:
        if "probe_params" in d:
            print(f"  {d['row']}: probe {d['probe_params']['before']} -> {d['probe_params']['after']}")
    return {"rows": rows, "moved_predictions": moved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder holding the demo's six rendered datasets")
    parser.add_argument("--base", default="604d18a", help="the commit before the change (default 604d18a)")
    parser.add_argument("--worktree", type=Path, default=Path(tempfile.gettempdir()) / "E_base")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), metavar="NAME",
                        help="which of the demo's datasets under --data (default: all six)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each code, alternated (default 1)")
    parser.add_argument("--memory", type=Path, nargs=2, metavar=("SMALL", "LARGE"),
                        help="two renders of one family: the new code's peak RSS on each")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "run_speed")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "run_speed.json")
    parser.add_argument("--rows-only", action="store_true",
                        help="no runs: compare the rows and predictions of the runs already under --work, and update "
                             "those fields of --out")
    args = parser.parse_args()
    if args.rows_only:
        record = json.loads(args.out.read_text())
        record.update(compared(args.work))
        args.out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.out}")
        return
    codes = {"before": worktree(args.base, args.worktree.resolve()), "after": ROOT}
    datasets = [args.data.resolve() / name for name in args.datasets]  # the runs start in their code folder
    args.work.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    order = [("before", "after") if i % 2 == 0 else ("after", "before") for i in range(args.repeat)]
    for i, pair in enumerate(order):
        for which in pair:
            started = time.strftime("%H:%M:%S")
            measured = evaluate_run(codes[which], datasets, ENCODERS, args.work / f"{which}{i}",
                                    args.work / f"{which}{i}.log")
            print(f"{started} {which}: {measured['wall_s']:.1f} s, peak RSS {measured['peak_rss_mib']:.0f} MiB",
                  flush=True)
            runs[which].append(measured)
    wall = {w: sum(r["wall_s"] for r in runs[w]) for w in runs}
    record = {
        "base_commit": args.base,
        "after_commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                       text=True).stdout.strip(),
        "datasets": {name: sum(1 for _ in (args.data / name).glob("*/*.mp4")) for name in args.datasets},
        "encoders": list(ENCODERS), "cpus": os.cpu_count(), "runs": runs,
        "wall_ratio": wall["after"] / wall["before"], "goal_wall_ratio": 0.40,
        "peak_rss_mib": {w: max(r["peak_rss_mib"] for r in runs[w]) for w in runs},
        **compared(args.work),
    }
    print(f"wall-time ratio after/before: {record['wall_ratio']:.3f} (goal <= 0.40)")
    if args.memory:
        memory = {}
        for path in args.memory:
            measured = evaluate_run(ROOT, [path], ENCODERS, args.work / f"memory-{path.name}",
                                    args.work / f"memory-{path.name}.log")
            memory[path.name] = {"clips": sum(1 for _ in path.glob("*/*.mp4")), **measured}
            print(f"memory {path.name}: {measured['peak_rss_mib']:.0f} MiB in {measured['wall_s']:.0f} s", flush=True)
        small, large = (memory[p.name]["peak_rss_mib"] for p in args.memory)
        record["memory"] = {"runs": memory, "growth": large / small, "goal_growth": 1.2}
        print(f"peak RSS growth {args.memory[0].name} -> {args.memory[1].name}: {large / small:.2f}x (goal <= 1.2)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
