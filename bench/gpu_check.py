"""The GPU check: simgen's V-JEPA 2 forward against transformers' (ViT-L, and ViT-g's speed, memory and
largest batch), pipeline efficiency at 16 and 64 frames (bf16), and end-to-end ``evaluate run``s with
``random-vjepa2`` (ViT-L), on datasets carried over.

    bash bench/gpu_check.sh                 # on the GPU box (its own python3; see the .sh)
    python bench/gpu_check.py --render bench/gpu_data     # beforehand, where pybullet is (~30 MB)
    python bench/gpu_check.py --quick --simulate-gpu-box  # here: tiny model, CPU, GPU-box imports

Uses the runner API, not the typer CLI: the GPU box may lack typer, pydantic, pybullet and PyAV.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
DATASETS = {"falling_rising_16": (320, 16), "falling_rising_64": (48, 64)}  # name: (clips, frames), 256²
ABSENT_ON_GPU_BOX = ("typer", "click", "pydantic", "pybullet", "av", "imageio_ffmpeg", "cv2")  # yaml: transformers needs it


class _Blocker(importlib.abc.MetaPathFinder):
    """Makes ``names`` unimportable, as on a machine that lacks them."""

    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (blocked: --simulate-gpu-box)")
        return None


def simulate_gpu_box() -> None:
    """Block what the GPU box may not have. Decoding then needs an ffmpeg binary: imageio-ffmpeg's,
    located before it is blocked (what $SIMGEN_FFMPEG or PATH would give there)."""
    if not os.environ.get("SIMGEN_FFMPEG"):
        import imageio_ffmpeg

        os.environ["SIMGEN_FFMPEG"] = imageio_ffmpeg.get_ffmpeg_exe()
    for name in ABSENT_ON_GPU_BOX:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
    sys.meta_path.insert(0, _Blocker(ABSENT_ON_GPU_BOX))
    real = importlib.util.find_spec
    importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] in ABSENT_ON_GPU_BOX else real(name, *a)


def render(out: Path) -> None:
    from embed import render_dataset_here

    for name, (clips, frames) in DATASETS.items():
        path = render_dataset_here(out / name, clips, frames, 256)
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        print(f"{path}: {clips} clips, {frames} frames, 256²: {size / 2**20:.1f} MiB")


class Phases:
    """Runs the check's phases in order; a phase that fails is logged and the next one still runs, and
    the results so far are written after each (to bench/results and $OUT), so a run cut short at its
    time limit still leaves every finished figure."""

    def __init__(self, name: str, out_root: Path, log):
        self.name, self.out_root, self.log = name, out_root, log
        self.payload: dict = {"phases": {}, "errors": {}}
        self.started = time.perf_counter()

    def run(self, phase: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        self.log(f"[bold]── {phase}[/bold] (at {t0 - self.started:.0f} s)")
        try:
            result = fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 — a diagnostic run: record it and go on
            import traceback

            self.payload["errors"][phase] = f"{type(e).__name__}: {e}"
            self.log(f"[red]{phase} failed[/red]: {type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}")
            result = None
        self.payload["phases"][phase] = round(time.perf_counter() - t0, 1)
        self.save()
        return result

    def save(self) -> Path:
        import embed

        self.payload["total_wall_s"] = round(time.perf_counter() - self.started, 1)
        path = embed.write(self.payload, self.name)
        (self.out_root / self.name).write_text(json.dumps(self.payload, indent=1) + "\n")
        return path


def timed_run(datasets: list[str], encoders: list[str], out_root: Path, name: str, *, batch_size, workers: int,
              device: str, bootstrap: int, log) -> dict:
    """One `evaluate run` (through the runner: the GPU box may lack typer) from a bare cache, timed.
    The run folder is temporary; its report.md is kept as OUT_ROOT/NAME_report.md (the device tool
    brings back 8 files at most)."""
    import shutil

    from evaluate.config import RunConfig
    from evaluate.tasks.probe import run

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / name
        t0 = time.perf_counter()
        result = run(RunConfig(datasets=datasets, encoders=encoders, out=str(out), cache=str(Path(tmp) / "cache"), n_bootstrap=bootstrap,
                               batch_size=batch_size, workers=workers, device=device), log=log).row()
        wall = time.perf_counter() - t0
        try:
            from evaluate.report.probe import write_reports

            md, _ = write_reports(out)
            shutil.copy(md, out_root / f"{name}_report.md")
        except ImportError as e:  # matplotlib absent: results.json is still there
            log(f"report skipped ({e})")
    timings = {e["encoder"]: e["timings"] for e in result["encoders"]}
    return {"datasets": [Path(d).name for d in datasets], "encoders": encoders, "wall_s": round(wall, 1),
            "timings": timings, "results": len(result["results"])}


def summarise(payload: dict, e2e: dict | None) -> dict:
    eff = payload["efficiency"]
    bare = [r for r in payload["rows"] if r["kind"] == "bare"]
    model_dtype = eff[0]["dtype"] if eff else "bf16"
    return {
        "device": payload["machine"]["gpu"] or "CPU", "encoder": payload["encoder"],
        "pipeline_efficiency": {f"T={e['frames']} B={e['batch']} {e['views']}view {e['loader']} depth {e['queue_depth']}":
                                [round(e["efficiency"], 3), round(e["steady_efficiency"], 3)] for e in eff},
        "pipeline_efficiency_is": "[whole run, after the loader's start-up]",
        "best_efficiency": {f"T={t} {views} view(s)": max((e["efficiency"] for e in eff
                                                           if e["views"] == views and e["frames"] == t), default=None)
                            for t in sorted({e["frames"] for e in eff}) for views in sorted({e["views"] for e in eff})},
        "bare_clips_per_s": {f"T={r['frames']} B={r['batch']} {r['dtype']}": round(r["clips_per_s"], 2)
                             for r in bare},
        "best_bare_clips_per_s": {f"T={t}": max((r["clips_per_s"] for r in bare if r["frames"] == t and
                                                 r["dtype"] == model_dtype), default=None)
                                  for t in sorted({r["frames"] for r in bare})},
        "host_waits_for_gpu_while_queueing": payload["sync_points"],
        "loader_startup": payload.get("loader_startup"),
        "peak_gpu_gib": max((r["peak_gib"] or 0 for r in payload["rows"]), default=0) or None,
        "e2e": e2e,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT / "bench" / "gpu_data"), help="folder holding the carried datasets")
    p.add_argument("--datasets", nargs="*", default=None,
                   help="dataset dirs for the pipeline (16 and 64 frames); default: those under --data")
    p.add_argument("--demo", nargs="*", default=[],
                   help="the demo's datasets: time `make demo`'s evaluate step with random-vjepa2 (ViT-L)")
    p.add_argument("--render", metavar="DIR", help="render the carried datasets into DIR and stop (needs pybullet)")
    p.add_argument("--quick", action="store_true", help="tiny model on the CPU (a smoke run of this script)")
    p.add_argument("--simulate-gpu-box", action="store_true", help="block " + ", ".join(ABSENT_ON_GPU_BOX))
    p.add_argument("--out", default=os.environ.get("OUT") or None, help="copy results here (default: $OUT)")
    p.add_argument("--loaders", default="threads,torch",
                   help="decoding loaders: the first (the default, threads) measured with one view and all five, "
                        "the others with all five")
    p.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) - 2)))
    p.add_argument("--skip", default="", help="phases to skip: forward,pipeline,e2e,demo")
    args = p.parse_args()
    if args.render:
        render(Path(args.render))
        return
    if args.simulate_gpu_box:
        simulate_gpu_box()

    from rich.console import Console

    console = Console(width=max(Console().width, 120))

    def log(s):
        console.print(s, highlight=False)

    present = {m: importlib.util.find_spec(m) is not None
               for m in ("torch", "transformers", "sklearn", "scipy", "matplotlib", *ABSENT_ON_GPU_BOX)}
    log("modules: " + ", ".join(f"{m} {'yes' if ok else 'no'}" for m, ok in present.items()))
    from evaluate.data.decode import video_decoder
    from evaluate.errors import EvaluateError

    try:
        decoder = video_decoder()
        log(f"video decoder: {decoder}")
    except EvaluateError as e:  # still measure the bare forward, which needs no decoding
        decoder = None
        log(f"[red]{e}[/red]: measuring the forward only (no pipeline, no evaluate run)")
    assert "pybullet" not in sys.modules, "evaluate imported pybullet"

    import embed
    import forward

    skip = set(args.skip.split(","))
    out_root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="gpu_check-"))
    out_root.mkdir(parents=True, exist_ok=True)
    phases = Phases("gpu_check-quick.json" if args.quick else "gpu_check.json", out_root, log)
    result = phases.payload

    # 1. The forward alone: simgen's against transformers', ViT-L and ViT-g.
    if "forward" not in skip:
        fargs = forward.parser().parse_args([])
        if args.quick:
            forward.apply_quick(fargs)
        result["forward"] = phases.run("forward", forward.run, fargs, log=log)

    # 2. The pipeline: evaluate's full path against the bare forward, one and five views.
    data = Path(args.data)
    dirs = args.datasets or [str(data / name) for name in DATASETS if (data / name / "dataset.json").is_file()]
    payload = None
    if "pipeline" not in skip and decoder is not None and dirs:
        bench_args = embed.parser().parse_args(["--workers", str(args.workers), "--seconds", "2", "--repeat", "1",
                                                "--batch-sizes", "32", "--batch-sizes-long", "8",
                                                "--dtypes", "bf16", "--loaders", args.loaders,
                                                "--queue-depths", "1"])
        bench_args.data = dirs
        if args.quick:
            embed.apply_quick(bench_args)
            bench_args.loaders = args.loaders.split(",")
        bench_args.size = bench_args.size or "large"
        payload = phases.run("pipeline", embed.run_benchmark, bench_args, log=log)
        if payload:
            result["pipeline"] = payload
            console.print(embed.table(payload))

    # 3. An end-to-end `evaluate run` (all five views, linear probes) on the 16-frame dataset.
    spec = "random-vjepa2:tiny" if args.quick else "random-vjepa2"
    device = "cpu" if args.quick else "auto"
    e2e = None
    if "e2e" not in skip and decoder is not None and dirs:
        e2e = phases.run("e2e", timed_run, [dirs[0]], [spec], out_root, "evaluate_run", batch_size=None,
                         workers=args.workers, device=device, bootstrap=200, log=log)
        result["e2e"] = e2e

    # 4. `make demo`'s evaluate step with ViT-L in place of :tiny (same datasets, encoders, bootstrap).
    if args.demo and "demo" not in skip and decoder is not None:
        result["demo"] = phases.run("demo", timed_run, args.demo, ["pixels", "motion", spec],
                                    out_root, "demo_run", batch_size=None, workers=args.workers, device=device,
                                    bootstrap=1000, log=log)

    if payload:
        result["summary"] = summarise(payload, e2e)
        console.print_json(json.dumps(result["summary"]))
    path = phases.save()
    log(f"phases (s): {result['phases']}; errors: {result['errors'] or 'none'}")
    log(f"wrote {path} and {out_root / phases.name}")


if __name__ == "__main__":
    main()
