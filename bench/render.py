"""Rendering benchmark: overhead over the bare renderer, worker scaling, cost by settings.

Everything is measured side by side in one run on this machine, so ratios are comparable:

    python bench/render.py [--groups 12] [--families falling_rising ...] [--quick]

Writes bench/results/render.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table
from timing import calls_timed

from simgen.engine import plan
from simgen.parallel import render_dataset, render_task
from simgen.render import Renderer
from simgen.spec import parse_spec

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def spec_for(family: str, *, groups: int, size: int = 256, frames: int | None = None, fps: int | None = None,
             shadows: bool | None = None):
    raw = yaml.safe_load((ROOT / "scenes" / f"{family}.yaml").read_text())
    raw["render"].update(width=size, height=size)
    if frames:
        raw["render"]["frames"] = frames
    if fps:
        raw["render"]["fps"] = fps
    if shadows is not None:
        raw["render"]["shadows"] = shadows
    raw["counts"] = {"train": groups * parse_spec(raw).clips_per_group, "val": 0, "test": 0}
    return parse_spec(raw)


def overhead(spec, workdir: Path) -> dict:
    """Whole pipeline per clip (simulate, label, render, encode, write) ÷ bare getCameraImage time."""
    out = workdir / "overhead"
    shutil.rmtree(out, ignore_errors=True)
    render_dataset(spec, out, workers=1, force=True)  # creates the layout; warms caches
    tasks = plan(spec)
    grabs: list[float] = []  # seconds inside Renderer.grab (the bare getCameraImage call), per frame
    with calls_timed(Renderer, "grab", lambda _, seconds: grabs.append(seconds)):
        start = time.perf_counter()
        clips = sum(len(render_task(str(out), spec, task)) for task in tasks)
        total = time.perf_counter() - start
    bare = sum(grabs)
    return {"clips": clips, "frames_rendered": len(grabs), "total_s_per_clip": total / clips,
            "bare_render_s_per_clip": bare / clips, "overhead_ratio": total / bare,
            "bare_ms_per_frame": 1000 * bare / len(grabs)}


def scaling(spec, workdir: Path, workers: list[int]) -> dict:
    """Wall time of a whole render at each worker count, and how long the pool took to get going.

    ``startup_s`` is when the first group finished, less one group's time in the single-process run:
    spawning the workers and importing simgen, numpy, pydantic and pybullet in each (~0.25 s here). It
    is paid once per render, so it weighs on short runs only.
    """
    times, firsts = {}, {}
    for n in workers:
        out = workdir / f"scale-{n}"
        shutil.rmtree(out, ignore_errors=True)
        done_at: list[float] = []
        start = time.perf_counter()
        summary = render_dataset(spec, out, workers=n,
                                 on_progress=lambda done, _, done_at=done_at: done and done_at.append(time.perf_counter()))
        times[n], firsts[n] = summary.seconds, done_at[0] - start
    base = times[workers[0]]
    group_s = base / len(plan(spec))
    return {str(n): {"seconds": t, "speedup": base / t, "startup_s": max(0.0, firsts[n] - group_s)}
            for n, t in times.items()}


def clips_per_second(spec, workdir: Path) -> float:
    out = workdir / "cps"
    shutil.rmtree(out, ignore_errors=True)
    summary = render_dataset(spec, out, workers=1)
    return summary.clips_rendered / summary.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=12, help="groups per measurement")
    parser.add_argument("--families", nargs="*", default=None)
    parser.add_argument("--scaling-seconds", type=float, default=30.0,
                        help="single-worker work of each scaling run (s)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run, not a measurement)")
    args = parser.parse_args()
    from simgen.families import family_names

    families = args.families or family_names()
    groups = 2 if args.quick else args.groups
    cores = os.cpu_count() or 1
    console = Console()
    report: dict = {"machine": {"cpu_count": cores, "platform": platform.platform(),
                                "processor": platform.processor() or platform.machine()},
                    "groups": groups, "families": {}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for family in families:
            base = spec_for(family, groups=groups, size=64 if args.quick else 256)
            entry = {"overhead": overhead(base, workdir)}
            # Scaling on ~30 s of single-worker work (2 s with --quick), so the pool's start-up
            # (reported beside it) weighs about as little as in a real render.
            per_group = entry["overhead"]["total_s_per_clip"] * base.clips_per_group
            scale_groups = max(2 * cores, math.ceil((2.0 if args.quick else args.scaling_seconds) / per_group))
            entry["scaling"] = scaling(spec_for(family, groups=scale_groups, size=base.render.width), workdir,
                                       sorted({1, cores}))
            entry["scaling_clips"] = scale_groups * base.clips_per_group
            sizes = [64] if args.quick else [64, 128, 256]
            # 16 and 64 frames; impact needs its default 40 frames to reach the impact at all.
            frame_counts = (base.render.frames, 64) if family == "impact" else (16, 64)
            entry["clips_per_second_per_core"] = {
                f"{s}px_{f}f": clips_per_second(spec_for(family, groups=groups, size=s, frames=f,
                                                         fps=80 if f == 64 and family == "falling_rising" else None),
                                                workdir)
                for s in sizes for f in frame_counts}
            entry["shadows_cost_ratio"] = (
                clips_per_second(spec_for(family, groups=groups, size=base.render.width, shadows=False), workdir)
                / clips_per_second(spec_for(family, groups=groups, size=base.render.width, shadows=True), workdir))
            report["families"][family] = entry
            console.print(f"[dim]{family} done[/dim]")

    table = Table(title=f"simgen render benchmark ({cores} cores, {groups} groups)")
    for col in ("family", "ms/clip total", "ms/clip bare render", "overhead ratio", "speed-up 1→N",
                "pool start-up s", "shadows ×"):
        table.add_column(col, justify="right")
    for family, e in report["families"].items():
        o, s = e["overhead"], e["scaling"]
        table.add_row(family, f"{1000 * o['total_s_per_clip']:.1f}", f"{1000 * o['bare_render_s_per_clip']:.1f}",
                      f"{o['overhead_ratio']:.3f}", f"{s[str(cores)]['speedup']:.2f}×",
                      f"{s[str(cores)]['startup_s']:.2f}",
                      f"{e['shadows_cost_ratio']:.2f}")
    console.print(table)
    cps = Table(title="clips per second per core")
    for col in ("family", "setting", "clips/s"):
        cps.add_column(col, justify="right")
    for family, e in report["families"].items():
        for setting, value in e["clips_per_second_per_core"].items():
            cps.add_row(family, setting, f"{value:.1f}")
    console.print(cps)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("render-quick.json" if args.quick else "render.json")
    path.write_text(json.dumps(report, indent=1) + "\n")
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
