"""Peak memory of `simgen render` and `evaluate run` at 100 and at 1,000 clips (target: ≤ 20% growth).

    python bench/memory.py [--small 100] [--large 1000] [--size 128]

Each command runs in its own process; its peak RSS is the largest resident set of that process
or of any of its workers (ru_maxrss of the children, read by a fresh wrapper per command). The
peak of ``evaluate run`` varies by ±10% from run to run (thread timing and heap fragmentation), so
every command runs ``--repeat`` times (fresh output each time) and the median is compared; the
minimum and maximum are kept. Writes bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

_WRAPPER = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # KiB on Linux
"""


def peak_rss_mib(cmd: list[str]) -> float:
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def tiny_spec(path: Path, size: int) -> Path:
    raw = yaml.safe_load((ROOT / "scenes" / "falling_rising.yaml").read_text())
    raw["render"].update(width=size, height=size)
    path.write_text(yaml.safe_dump(raw))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    rows, spread = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        spec = tiny_spec(Path(tmp) / "spec.yaml", args.size)
        for n in (args.small, args.large):
            out = Path(tmp) / f"ds{n}"
            commands = {
                f"simgen render ({n} clips)": lambda i, n=n, out=out: [
                    str(bin_dir / "simgen"), "render", str(spec), "--out", str(out if i == 0 else f"{out}-{i}"),
                    "-n", str(n), "--workers", str(args.workers)],
                f"evaluate run ({n} clips)": lambda i, n=n, out=out: [
                    str(bin_dir / "evaluate"), "run", str(out), "--encoder", "pixels", "--encoder", "motion",
                    "--out", str(Path(tmp) / f"run{n}-{i}")],
            }
            for name, command in commands.items():
                peaks = sorted(peak_rss_mib(command(i)) for i in range(args.repeat))
                rows[name], spread[name] = statistics.median(peaks), [peaks[0], peaks[-1]]
    growth = {cmd: rows[f"{cmd} ({args.large} clips)"] / rows[f"{cmd} ({args.small} clips)"] - 1
              for cmd in ("simgen render", "evaluate run")}
    table = Table(title=f"peak RSS (MiB), median of {args.repeat}")
    for col in ("command", f"{args.small} clips", f"{args.large} clips", "growth"):
        table.add_column(col, justify="right")
    for cmd, g in growth.items():
        small, large = f"{cmd} ({args.small} clips)", f"{cmd} ({args.large} clips)"
        table.add_row(cmd, f"{rows[small]:.0f} ({spread[small][0]:.0f}–{spread[small][1]:.0f})",
                      f"{rows[large]:.0f} ({spread[large][0]:.0f}–{spread[large][1]:.0f})", f"{100 * g:+.1f}%")
    Console().print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps({"peak_rss_mib_median": rows, "min_max": spread, "growth": growth,
                                                     "repeat": args.repeat, "size": args.size}, indent=1) + "\n")


if __name__ == "__main__":
    main()
