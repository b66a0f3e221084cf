"""The GPU check: pipeline efficiency, V-JEPA 2 ViT-L clips/s at 16 and 64 frames (bf16), peak GPU
memory, and an end-to-end ``evaluate run`` with ``random-vjepa2``, on a dataset carried over.

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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT / "bench" / "gpu_data"), help="folder holding the carried datasets")
    p.add_argument("--render", metavar="DIR", help="render the carried datasets into DIR and stop (needs pybullet)")
    p.add_argument("--quick", action="store_true", help="tiny model on the CPU (a smoke run of this script)")
    p.add_argument("--simulate-gpu-box", action="store_true", help="block " + ", ".join(ABSENT_ON_GPU_BOX))
    p.add_argument("--out", default=os.environ.get("OUT") or None, help="copy results here (default: $OUT)")
    p.add_argument("--loaders", default="torch", help="decoding loaders for the full path, e.g. torch,threads "
                                                      "(CUDA runs use torch; see bench/embed.py)")
    p.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) - 2)))
    args = p.parse_args()
    if args.render:
        render(Path(args.render))
        return
    if args.simulate_gpu_box:
        simulate_gpu_box()
    started = time.perf_counter()

    from rich.console import Console

    console = Console(width=max(Console().width, 120))
    present = {m: importlib.util.find_spec(m) is not None
               for m in ("torch", "transformers", "sklearn", "scipy", "matplotlib", *ABSENT_ON_GPU_BOX)}
    console.print("modules: " + ", ".join(f"{m} {'yes' if ok else 'no'}" for m, ok in present.items()))
    from evaluate.data import video_decoder
    from evaluate.errors import EvaluateError

    try:
        decoder = video_decoder()
        console.print(f"video decoder: {decoder}")
    except EvaluateError as e:  # still measure the bare forward, which needs no decoding
        decoder = None
        console.print(f"[red]{e}[/red]: measuring the bare forward only (no efficiency, no evaluate run)")
    assert "pybullet" not in sys.modules, "evaluate imported pybullet"

    import embed

    data = Path(args.data)
    dirs = [str(data / name) for name in DATASETS if (data / name / "dataset.json").is_file()]
    if not dirs:
        raise SystemExit(f"no datasets under {data}; render them first: python bench/gpu_check.py --render {data}")
    bench_args = embed.parser().parse_args(["--workers", str(args.workers), "--seconds", "2", "--repeat", "4",
                                            "--batch-sizes", "8,16,32", "--batch-sizes-long", "4,8",
                                            "--dtypes", "bf16,fp32", "--loaders", args.loaders])
    bench_args.data = dirs
    if args.quick:
        embed.apply_quick(bench_args)
    if decoder is None:
        bench_args.loaders = []
    bench_args.size = bench_args.size or "large"
    payload = embed.run_benchmark(bench_args, log=lambda s: console.print(s, highlight=False))
    console.print(embed.table(payload))

    # The end-to-end run, through the runner (what `evaluate run` calls), all five views, linear probe.
    from evaluate.runner import RunConfig, run

    spec = "random-vjepa2:tiny" if args.quick else "random-vjepa2"
    out_root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="gpu_check-"))
    if decoder is None:
        path = embed.write(payload, "gpu_check.json")
        (out_root / "gpu_check.json").write_text(json.dumps(payload, indent=1) + "\n")
        raise SystemExit(f"no video decoder: wrote the bare-forward figures to {path}")
    run_dir = out_root / "evaluate_run"
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        result = run(RunConfig([dirs[0]], [spec], str(run_dir), cache=cache, n_bootstrap=200,
                               batch_size=16 if not args.quick else 8, workers=args.workers,
                               device="cpu" if args.quick else "auto"),
                     log=lambda s: console.print(s, highlight=False))
        e2e_wall = time.perf_counter() - t0
    try:
        from evaluate.report import rich_tables, write_reports

        for t in rich_tables(result):
            console.print(t)
        write_reports(run_dir)
    except ImportError as e:  # matplotlib absent: results.json is still there
        console.print(f"report skipped ({e})")
    timings = result["encoders"][0]["timings"]

    eff = payload["efficiency"]
    bare = [r for r in payload["rows"] if r["kind"] == "bare"]
    model_dtype = eff[0]["dtype"] if eff else "bf16"
    summary = {
        "device": payload["machine"]["gpu"] or "CPU", "encoder": payload["encoder"],
        "pipeline_efficiency": {f"T={e['frames']} B={e['batch']} {e['views']}view {e['loader']} depth {e['queue_depth']}":
                                [round(e["efficiency"], 3), round(e["steady_efficiency"], 3)] for e in eff},
        "pipeline_efficiency_is": "[whole run, after the loader's start-up]",
        "best_efficiency": {f"{views} view(s)": max((e["efficiency"] for e in eff
                                                     if e["loader"] == "torch" and e["views"] == views), default=None)
                            for views in sorted({e["views"] for e in eff})},
        "bare_clips_per_s": {f"T={r['frames']} B={r['batch']} {r['dtype']}": round(r["clips_per_s"], 2)
                             for r in bare},
        "best_bare_clips_per_s": {f"T={t}": max((r["clips_per_s"] for r in bare if r["frames"] == t and
                                                 r["dtype"] == model_dtype), default=None)
                                  for t in sorted({r["frames"] for r in bare})},
        "host_waits_for_gpu_while_queueing": payload["sync_points"],
        "peak_gpu_gib": max((r["peak_gib"] or 0 for r in payload["rows"]), default=0) or None,
        "e2e": {"dataset": dirs[0], "encoder": spec, "wall_s": round(e2e_wall, 1),
                "embed_clip_views_per_s": round(timings["clips"] / timings["embed_wall_s"], 2),
                "results": len(result["results"])},
        "total_wall_s": round(time.perf_counter() - started, 1),
    }
    payload["summary"] = summary
    name = "gpu_check-quick.json" if args.quick else "gpu_check.json"
    path = embed.write(payload, name)
    (out_root / name).write_text(json.dumps(payload, indent=1) + "\n")
    console.print_json(json.dumps(summary))
    console.print(f"wrote {path} and {out_root / name}; evaluate run in {run_dir}")


if __name__ == "__main__":
    main()
