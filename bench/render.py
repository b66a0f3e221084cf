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

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table
from timing import calls_timed

from simgen.render.renderer import Renderer
from simgen.run.engine import plan
from simgen.run.parallel import chunk_tasks, render_dataset, render_task
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


def _pipeline(spec, out: Path, tasks, *, layered: bool) -> dict:
    """One pass over ``tasks``: wall time per clip, and the time inside getCameraImage."""
    captures: list[float] = []  # seconds inside Renderer.capture (the getCameraImage call), per call
    before, Renderer.layered = Renderer.layered, layered
    try:
        with calls_timed(Renderer, "capture", lambda _, seconds: captures.append(seconds)):
            start = time.perf_counter()
            clips = sum(len(render_task(str(out), spec, task)) for task in tasks)
            total = time.perf_counter() - start
    finally:
        Renderer.layered = before
    camera = sum(captures)
    return {"clips": clips, "camera_calls": len(captures), "total_s_per_clip": total / clips,
            "camera_s_per_clip": camera / clips, "camera_ms_per_call": 1000 * camera / len(captures)}


def overhead(spec, workdir: Path) -> dict:
    """Whole pipeline per clip (simulate, label, render, encode, write) ÷ the bare getCameraImage time
    of the same frames, drawn whole (``overhead_ratio``, the issue's measure), side by side with
    the plain pipeline. ``own_calls_ratio``: the same pipeline ÷ the getCameraImage calls it makes
    itself, which are cheaper when it draws the floor once a clip (simgen.render.renderer.Renderer)."""
    out = workdir / "overhead"
    shutil.rmtree(out, ignore_errors=True)
    render_dataset(spec, out, workers=1, force=True)  # creates the layout; warms caches
    tasks = plan(spec)
    plain = _pipeline(spec, out, tasks, layered=False)
    layered = _pipeline(spec, out, tasks, layered=True)
    bare = plain["camera_s_per_clip"]  # every frame drawn whole: the renderer's own cost
    return {"clips": layered["clips"], "frames_rendered": plain["camera_calls"],
            "total_s_per_clip": layered["total_s_per_clip"], "bare_render_s_per_clip": bare,
            "overhead_ratio": layered["total_s_per_clip"] / bare,
            "own_calls_ratio": layered["total_s_per_clip"] / layered["camera_s_per_clip"],
            "plain_total_s_per_clip": plain["total_s_per_clip"],
            "plain_overhead_ratio": plain["total_s_per_clip"] / bare,
            "bare_ms_per_frame": plain["camera_ms_per_call"], "plain": plain, "layered": layered}


def scaling(spec, workdir: Path, workers: list[int]) -> dict:
    """Wall time of a whole render at each worker count, and how long the pool took to get going.

    ``startup_s`` is when the first chunk of groups finished (a worker takes several at a time on
    big runs, simgen.run.parallel.chunk_tasks), less that many groups' time in the single-process run:
    spawning the workers and importing simgen, numpy, pydantic and pybullet in each (~0.25 s here). It
    is paid once per render, so it weighs on short runs only.
    """
    times, firsts = {}, {}
    for n in workers:
        out = workdir / f"scale-{n}"
        shutil.rmtree(out, ignore_errors=True)
        done_at: list[float] = []

        def progress(done: int, _total: int, done_at=done_at) -> None:
            if done:
                done_at.append(time.perf_counter())

        start = time.perf_counter()
        summary = render_dataset(spec, out, workers=n, on_progress=progress)
        times[n], firsts[n] = summary.seconds, done_at[0] - start
    base = times[workers[0]]
    tasks = plan(spec)
    group_s = base / len(tasks)
    first_chunk = {n: 1 if n == 1 else len(chunk_tasks(tasks, n)[0]) for n in times}
    return {str(n): {"seconds": t, "speedup": base / t, "startup_s": max(0.0, firsts[n] - first_chunk[n] * group_s)}
            for n, t in times.items()}


def clips_per_second(spec, workdir: Path) -> float:
    out = workdir / "cps"
    shutil.rmtree(out, ignore_errors=True)
    summary = render_dataset(spec, out, workers=1)
    return summary.clips_rendered / summary.seconds


def _middle(vertices: list, middles: dict, a: int, b: int) -> int:
    """Index of the unit vector halfway between vertices a and b, added once per edge."""
    key = (min(a, b), max(a, b))
    if key not in middles:
        m = vertices[a] + vertices[b]
        vertices.append(m / np.linalg.norm(m))
        middles[key] = len(vertices) - 1
    return middles[key]


def icosphere(subdivisions: int) -> tuple[list[list[float]], list[int]]:
    """A unit icosphere: 20 · 4**subdivisions triangles."""
    t = (1 + 5 ** 0.5) / 2
    points = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
              (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    vertices = [np.asarray(v, float) / np.linalg.norm(v) for v in points]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
             (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11),
             (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    for _ in range(subdivisions):
        middles: dict[tuple[int, int], int] = {}
        split = []
        for a, b, c in faces:
            ab, bc, ca = (_middle(vertices, middles, i, j) for i, j in ((a, b), (b, c), (c, a)))
            split += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = split
    return [list(map(float, v)) for v in vertices], [i for f in faces for i in f]


def scene_costs(size: int = 256, frames: int = 30) -> dict[str, float]:
    """ms per getCameraImage of controlled scenes through simgen's World and Renderer, with
    falling_rising's camera (5.5 m away, level, 45°) and its largest object (0.3 m): what the
    pixels, the meshes' triangles, textures and shadows each cost."""
    from simgen.physics.bullet import p
    from simgen.physics.world import World
    from simgen.render.renderer import Camera

    settings = spec_for("falling_rising", groups=1, size=size).render
    camera = Camera((0.0, -5.5, 1.0), (0.0, 0.0, 1.0), 45.0, size, size)
    renderer = Renderer(settings, camera)
    shadowed = Renderer(settings.model_copy(update={"shadows": True}), camera)
    grey, red = (0.5, 0.5, 0.5, 1.0), (0.8, 0.2, 0.2, 1.0)

    def mesh(world: World, subdivisions: int) -> None:
        vertices, indices = icosphere(subdivisions)
        shape = p.createVisualShape(p.GEOM_MESH, vertices=vertices, indices=indices, meshScale=[0.3] * 3,
                                    rgbaColor=red, physicsClientId=world.client)
        p.createMultiBody(0, -1, shape, [0, 0, 1.0], physicsClientId=world.client)

    scenes: dict[str, tuple] = {"clear only (nothing drawn)": (lambda w: None, renderer),
                                "floor": (lambda w: w.add_floor(grey), renderer)}
    for shape in ("sphere", "box", "cylinder", "capsule"):
        scenes[f"floor + {shape}"] = (lambda w, s=shape: (w.add_floor(grey), w.add_body(
            s, 0.3, mass=1.0, position=(0, 0, 1.0), rgba=red)), renderer)
    scenes["floor + sphere, checker texture"] = (lambda w: (w.add_floor(grey), w.add_body(
        "sphere", 0.3, mass=1.0, position=(0, 0, 1.0), rgba=red, texture="checker")), renderer)
    scenes["floor + sphere, shadows on"] = (lambda w: (w.add_floor(grey), w.add_body(
        "sphere", 0.3, mass=1.0, position=(0, 0, 1.0), rgba=red)), shadowed)
    for level in range(6):
        scenes[f"floor + icosphere, {20 * 4 ** level} triangles"] = (
            lambda w, k=level: (w.add_floor(grey), mesh(w, k)), renderer)
    costs = {}
    for name, (build, camera_renderer) in scenes.items():
        with World() as world:
            build(world)
            camera_renderer.grab(world)  # first frame: TinyRenderer converts the shapes
            start = time.perf_counter()
            for _ in range(frames):
                camera_renderer.grab(world)
            costs[name] = 1000 * (time.perf_counter() - start) / frames
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=12, help="groups per measurement")
    parser.add_argument("--families", nargs="*", default=None)
    parser.add_argument("--scaling-seconds", type=float, default=30.0,
                        help="single-worker work of each scaling run (s)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run, not a measurement)")
    args = parser.parse_args()
    from simgen.families import FAMILIES

    families = args.families or FAMILIES.names()
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

        report["scene_costs_ms_per_frame"] = scene_costs(64 if args.quick else 256, frames=5 if args.quick else 30)

    table = Table(title=f"simgen render benchmark ({cores} cores, {groups} groups)")
    for col in ("family", "ms/clip total", "ms/clip bare render", "overhead ratio", "plain pipeline ratio",
                "÷ own camera calls", "speed-up 1→N", "pool start-up s", "shadows ×"):
        table.add_column(col, justify="right")
    for family, e in report["families"].items():
        o, s = e["overhead"], e["scaling"]
        table.add_row(family, f"{1000 * o['total_s_per_clip']:.1f}", f"{1000 * o['bare_render_s_per_clip']:.1f}",
                      f"{o['overhead_ratio']:.3f}", f"{o['plain_overhead_ratio']:.3f}",
                      f"{o['own_calls_ratio']:.3f}",
                      f"{s[str(cores)]['speedup']:.2f}×",
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
    costs = Table(title=f"what a frame costs, {64 if args.quick else 256}² (falling_rising's camera)")
    for col in ("scene", "ms a frame"):
        costs.add_column(col, justify="right")
    for scene, ms in report["scene_costs_ms_per_frame"].items():
        costs.add_row(scene, f"{ms:.2f}")
    console.print(costs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("render-quick.json" if args.quick else "render.json")
    path.write_text(json.dumps(report, indent=1) + "\n")
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
