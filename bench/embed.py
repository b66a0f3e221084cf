"""Embedding benchmark: evaluate's full path against the bare model forward, side by side.

    python bench/embed.py --data DIR [--size large] [--batch-sizes 8,16,32] [--dtypes bf16,fp16,fp32]
    python bench/embed.py --quick            # tiny random V-JEPA 2 on the CPU, renders its own data

**Pipeline efficiency** = clips/s of the full path (decode, views, preprocess, forward, pool, cache
write: ``evaluate.embed.local.embed_work``, the code ``evaluate run`` runs) ÷ clips/s of the bare
forward of the same model on pre-made tensors of the same batch shape, on the same device, in the
same process. Weights are random (``random-vjepa2:<size>``): the compute is that of the real
checkpoint. Both count clip-views: a clip embedded under five views counts five. The full path is
measured with one view per clip (a decode and a host→device copy per forward: the hardest case) and
with all five (the default of ``evaluate run``), and each also without the loader's start-up.
Writes bench/results/embed[-quick].json and prints a table.

Needs torch and transformers, not pybullet: ``--data`` takes a dataset rendered elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from forward import transformers_forward
from timing import calls_timed, forward_throughput, peak_gib, reset_peak, sync

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def machine(device: str) -> dict[str, Any]:
    import torch

    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "device": device}
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        pass
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    else:
        info["gpu"] = None
    return info


def premade_batch(encoder, batch: int, frames: int, dataset=None):
    """A preprocessed (B, T, 3, h, w) float32 tensor on the device: real clips of ``dataset`` when it has
    this frame count (random weights on random-noise inputs can run slower on CPUs: denormals),
    else uniform uint8 noise, both through evaluate's own preprocessing."""
    import numpy as np

    from evaluate.data.decode import read_clip
    from evaluate.encoders.hf import preprocess

    if dataset is not None and dataset.frames == frames:
        clips = [read_clip(dataset, dataset.clips[i % len(dataset.clips)]) for i in range(batch)]
    else:
        rng = np.random.default_rng(0)
        clips = [rng.integers(0, 256, (frames, 256, 256, 3), dtype=np.uint8) for _ in range(batch)]
    import torch

    return preprocess(clips, encoder.prep, encoder.device, torch.float32)


def model_forward(encoder, dtype: str):
    """The encoder's own forward (simgen's fast V-JEPA 2 forward, or transformers' with
    forward=transformers) as a function of a pre-made batch, in ``dtype``: another dtype runs on a
    copy of the model, since casting bf16 weights to fp16 and back would change them."""
    import copy

    import torch

    torch_dtype = getattr(torch, DTYPES[dtype])
    if torch_dtype == encoder.dtype:
        return encoder._forward
    model = copy.deepcopy(encoder.model).to(torch_dtype)
    if getattr(encoder, "fast", None) is not None:
        from evaluate.encoders.fast_vjepa2 import FastVJEPA2Encoder

        return FastVJEPA2Encoder(model)
    return transformers_forward(model)


def bare_forward(encoder, x, dtype: str, *, seconds: float, max_iters: int = 200) -> dict:
    """clips/s of the encoder's forward + mean pooling + copy to the host, on a pre-made tensor."""
    import torch

    x = x.to(getattr(torch, DTYPES[dtype]))
    timed = forward_throughput(model_forward(encoder, dtype), x, encoder.device, seconds=seconds,
                               max_iters=max_iters)
    return {"kind": "bare", "batch": len(x), "frames": x.shape[1], "dtype": dtype, "clips": timed["iters"] * len(x),
            "seconds": timed["seconds"], "clips_per_s": timed["clips_per_s"], "peak_gib": timed["peak_gib"]}


def sync_points(encoder, dataset, batch: int) -> list[str]:
    """Where queueing one batch, all five views, makes the host wait for the GPU (CUDA only; torch's
    sync-debug mode): each such wait idles the GPU while the host launches the next forward."""
    import warnings

    import numpy as np
    import torch

    from evaluate.data.decode import read_clip
    from evaluate.data.views import VIEWS

    if not str(encoder.device).startswith("cuda"):
        return []
    refs = [dataset.clips[i % len(dataset.clips)] for i in range(batch)]
    frames = np.stack([read_clip(dataset, c) for c in refs])
    needs = [VIEWS] * batch
    for _, _, wait in encoder.encode_views_async(refs, frames, needs):  # warm-up: kernels, constants
        wait()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            waits = [wait for _, _, wait in encoder.encode_views_async(refs, frames, needs)]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    for wait in waits:
        wait()
    return sorted({f"{Path(w.filename).name}:{w.lineno}: {str(w.message).splitlines()[0]}" for w in caught})


def full_path(encoder, dataset, batch: int, loader: str, workers: int, *, repeat: int, views: list[str],
              queue_depth: int = 1) -> dict:
    """clip-views per second of embed_work over ``repeat`` passes of the dataset, cache included, and
    the same without the loader's start-up (up to the first batch reaching the encoder)."""
    from evaluate.data.dataset import clip_identity
    from evaluate.embed.cache import EmbeddingCache
    from evaluate.embed.local import embed_work

    clips = [c for c in dataset.clips]
    work = [(c, views) for _ in range(repeat) for c in clips]
    # When the encoder is first handed a batch: the loader's start-up (worker processes, the first
    # batch decoded) is then told apart from the steady state.
    calls: list[float] = []
    with (tempfile.TemporaryDirectory() as tmp,
          calls_timed(encoder, "encode_async", lambda start, _: calls.append(start)),
          calls_timed(encoder, "encode_views_async", lambda start, _: calls.append(start))):
        cache = EmbeddingCache(tmp)
        groups = {v: cache.group_dir(encoder.kind, encoder.identity(), v, dataset.fingerprint) for v in views}
        idents = {c.clip_id: clip_identity(c) for c in clips}
        reset_peak(encoder.device)
        before = dict(encoder.timings)
        start = time.perf_counter()
        waited = embed_work(encoder, dataset, work, groups, idents, cache, batch_size=batch, workers=workers,
                            loader=loader, skip_bad=False, bad={}, log=lambda _: None, queue_depth=queue_depth)
        sync(encoder.device)
        wall = time.perf_counter() - start
    n = len(work) * len(views)
    startup = min(calls) - start
    spent = {k: encoder.timings[k] - before[k] for k in ("preprocess_s", "forward_s")}
    return {"kind": "full", "batch": batch, "frames": dataset.frames, "dtype": str(encoder.dtype).removeprefix("torch."),
            "loader": loader, "workers": workers, "views": len(views), "queue_depth": queue_depth, "clips": n,
            "seconds": wall,
            "clips_per_s": n / wall, "startup_s": startup,
            "steady_clips_per_s": n / (wall - startup),
            "decode_wait_s": waited, **spent, "peak_gib": peak_gib(encoder.device)}


def loader_startup(dataset, batch: int, workers: int, loaders: list[str], pin_memory: bool) -> list[dict]:
    """Seconds from asking each loader for batches to the first and the fourth batch, in this process
    (which holds the model: the torch loader forks its workers from it)."""
    from evaluate.data.loader import iter_view_batches

    rows = []
    work = [(c, ("original",)) for c in dataset.clips[:batch * 4]]
    for loader in loaders:
        start = time.perf_counter()
        batches = iter_view_batches(dataset, work, batch_size=batch, workers=workers, loader=loader,
                                    pin_memory=pin_memory)
        marks = [time.perf_counter() - start for _ in batches]
        rows.append({"loader": loader, "workers": workers, "batch": batch, "frames": dataset.frames,
                     "first_batch_s": marks[0], "fourth_batch_s": marks[-1]})
    return rows


def render_dataset_here(out: Path, clips: int, frames: int, size: int) -> Path:
    """A falling_rising dataset for the benchmark (needs simgen's renderer, i.e. pybullet)."""
    import yaml

    from simgen.run.parallel import render_dataset
    from simgen.spec import parse_spec

    raw = yaml.safe_load((ROOT / "scenes" / "falling_rising.yaml").read_text())
    raw["render"].update(width=size, height=size, frames=frames, fps=24 if frames <= 16 else 80)
    val = test = max(2, clips // 8) // 2 * 2
    raw["counts"] = {"train": clips - val - test, "val": val, "test": test}
    render_dataset(parse_spec(raw), out, workers=os.cpu_count() or 1)
    return out


def short_dtype(name: str) -> str:
    return {v: k for k, v in DTYPES.items()}.get(name, name)


def run_benchmark(args: argparse.Namespace, log=print) -> dict[str, Any]:
    from evaluate.data.dataset import open_dataset
    from evaluate.data.views import VIEWS
    from evaluate.encoders import build_encoder

    t0 = time.perf_counter()
    spec = f"random-vjepa2:{args.size}" + (f",{args.options}" if args.options else "")
    encoder = build_encoder(spec, args.device)
    device = encoder.device
    log(f"{spec} on {device} ({short_dtype(str(encoder.dtype).removeprefix('torch.'))}), "
        f"built in {time.perf_counter() - t0:.1f} s")
    datasets = {}
    for path in args.data:
        ds = open_dataset(path)
        datasets[ds.frames] = ds
    model_dtype = short_dtype(str(encoder.dtype).removeprefix("torch."))
    rows: list[dict] = []
    efficiency: list[dict] = []
    # The frame counts of the bare sweep: each dataset's, plus any asked for without a dataset.
    frame_counts = sorted(set(args.frames) | set(datasets))
    for frames in frame_counts:
        ds = datasets.get(frames)
        sizes = args.batch_sizes if frames <= 16 else args.batch_sizes_long
        for batch in sizes:
            x = premade_batch(encoder, batch, frames, ds)
            bare = {}
            for dtype in args.dtypes:
                if dtype != model_dtype and batch != sizes[0]:
                    continue  # other dtypes at the first batch size only
                bare[dtype] = bare_forward(encoder, x, dtype, seconds=args.seconds)
                rows.append(bare[dtype])
                log(_line(bare[dtype]))
            if ds is None or model_dtype not in bare:
                continue
            # One view (the worst case: a decode and a copy per forward), then all five, as `evaluate
            # run` embeds by default (one decode and one copy serve five forwards).
            # One view with the first loader; all views with each loader; other queue depths at the
            # largest batch only (each path costs a full pass and a bare forward of device time).
            paths = [(args.loaders[0], ["original"], args.repeat, 1)] if args.loaders else []
            if args.all_views:
                paths += [(loader, list(VIEWS), args.repeat_all_views, 1) for loader in args.loaders]
                if args.loaders and batch == sizes[-1]:
                    paths += [(args.loaders[0], list(VIEWS), args.repeat_all_views, depth)
                              for depth in args.queue_depths if depth != 1]
            for loader, views, repeat, depth in paths:
                try:
                    full = full_path(encoder, ds, batch, loader, args.workers, repeat=repeat, views=views,
                                     queue_depth=depth)
                except Exception as e:  # noqa: BLE001 — one failing path must not cost the others' figures
                    log(f"  full B={batch} T={frames} {len(views)} view(s) {loader}: failed: {type(e).__name__}: {e}")
                    continue
                # Bare again right after: the ratio uses the mean of the two, so drift (clocks, other
                # processes on the machine) between the measurements cancels to first order.
                again = bare_forward(encoder, x, model_dtype, seconds=args.seconds)
                reference = (bare[model_dtype]["clips_per_s"] + again["clips_per_s"]) / 2
                full["efficiency"] = full["clips_per_s"] / reference
                full["steady_efficiency"] = full["steady_clips_per_s"] / reference
                full["bare_clips_per_s"] = [bare[model_dtype]["clips_per_s"], again["clips_per_s"]]
                rows.append(full)
                efficiency.append({"frames": frames, "batch": batch, "dtype": model_dtype, "loader": loader,
                                   "views": len(views), "queue_depth": depth, "full_clips_per_s": full["clips_per_s"],
                                   "bare_clips_per_s": reference, "efficiency": full["efficiency"],
                                   "steady_efficiency": full["steady_efficiency"], "startup_s": full["startup_s"]})
                log(_line(full))
            del x
    try:
        syncs = sync_points(encoder, next(iter(datasets.values())), args.batch_sizes[0]) if datasets else []
    except Exception as e:  # a diagnostic: the figures above still count
        syncs = [f"the check failed: {type(e).__name__}: {e}"]
    log(f"host waits for the GPU while queueing a batch: {len(syncs)}" + "".join(f"\n  {w}" for w in syncs))
    startup = []
    if datasets and args.loaders:
        first = datasets[min(datasets)]
        startup = loader_startup(first, args.batch_sizes[-1], args.workers, args.loaders,
                                 pin_memory=str(device).startswith("cuda"))
        for row in startup:
            log(f"loader start-up, {row['loader']}×{row['workers']}, B={row['batch']} T={row['frames']}: first batch "
                f"{row['first_batch_s']:.3f} s, fourth {row['fourth_batch_s']:.3f} s")
    return {"benchmark": "embed", "encoder": spec, "machine": machine(device),
            "args": {k: v for k, v in vars(args).items() if k != "func"}, "rows": rows, "efficiency": efficiency,
            "sync_points": syncs, "loader_startup": startup,
            "wall_s": time.perf_counter() - t0}


def _line(row: dict) -> str:
    extra = (f" {row['views']} view(s) {row['loader']}×{row['workers']} depth {row['queue_depth']}"
             f" eff {row['efficiency']:.2f}"
             f" (start-up {row['startup_s']:.2f} s; without it {row['steady_efficiency']:.2f})"
             if row["kind"] == "full" else "")
    peak = f" peak {row['peak_gib']:.1f} GiB" if row.get("peak_gib") else ""
    return (f"  {row['kind']:4s} B={row['batch']:<3d} T={row['frames']:<3d} {short_dtype(row['dtype'])}: "
            f"{row['clips_per_s']:8.2f} clips/s{extra}{peak}")


def table(payload: dict):
    from rich.table import Table

    m = payload["machine"]
    t = Table(title=f"embedding: {payload['encoder']} on {m['gpu'] or 'CPU'} ({m['cpus']} CPUs); "
                    f"efficiency = full path ÷ bare forward, same batch shape")
    for col in ("frames", "batch", "dtype", "path", "clip-views/s", "efficiency", "start-up s",
                "efficiency after start-up", "decode wait s", "peak GPU GiB"):
        t.add_column(col, justify="right")
    for r in payload["rows"]:
        full = r["kind"] == "full"
        path = (f"full, {r['views']} view(s) ({r['loader']}×{r['workers']}, depth {r['queue_depth']})" if full
                else "bare forward")
        t.add_row(str(r["frames"]), str(r["batch"]), short_dtype(r["dtype"]), path, f"{r['clips_per_s']:.2f}",
                  *((f"{r['efficiency']:.2f}", f"{r['startup_s']:.2f}", f"{r['steady_efficiency']:.2f}",
                     f"{r['decode_wait_s']:.2f}") if full else ("",) * 4),
                  f"{r['peak_gib']:.2f}" if r.get("peak_gib") else "")
    return t


def write(payload: dict, name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(path)
    return path


def parser() -> argparse.ArgumentParser:
    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x]

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", action="append", default=[], help="dataset dir (repeat: e.g. 16- and 64-frame ones)")
    p.add_argument("--size", default=None, help="random-vjepa2 size: tiny, small, base, large (default large; "
                                                "tiny with --quick)")
    p.add_argument("--device", default="auto")
    p.add_argument("--options", default="", help="encoder options, e.g. compile=1 or forward=transformers")
    p.add_argument("--batch-sizes", type=ints, default=[8, 16, 32], help="for clips of ≤16 frames")
    p.add_argument("--batch-sizes-long", type=ints, default=[4, 8], help="for longer clips")
    p.add_argument("--frames", type=ints, default=[16, 64], help="bare-forward frame counts")
    p.add_argument("--dtypes", default="bf16,fp16,fp32", type=lambda s: s.split(","))
    p.add_argument("--loaders", default="torch,threads", type=lambda s: s.split(","))
    p.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) - 2)))
    p.add_argument("--repeat", type=int, default=2, help="passes over the dataset in each full-path measurement")
    p.add_argument("--all-views", action=argparse.BooleanOptionalAction, default=True,
                   help="also measure all five views per clip, as `evaluate run` embeds by default")
    p.add_argument("--repeat-all-views", type=int, default=1, help="passes over the dataset with all views")
    p.add_argument("--queue-depths", type=ints, default=[1, 2],
                   help="forwards queued ahead of the one being fetched, each measured with all views")
    p.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds per bare measurement")
    p.add_argument("--quick", action="store_true", help="tiny model on the CPU, small sweeps, renders its own data")
    p.add_argument("--out", default=None, help="results file name under bench/results/")
    return p


def apply_quick(args: argparse.Namespace) -> None:
    args.size, args.device = args.size or "tiny", "cpu" if args.device == "auto" else args.device
    args.batch_sizes, args.batch_sizes_long, args.frames = [4, 8], [4], [16]
    args.dtypes, args.seconds, args.repeat, args.workers = ["fp32", "bf16"], 1.0, 1, 2


def main() -> None:
    from rich.console import Console

    args = parser().parse_args()
    if args.quick:
        apply_quick(args)
    args.size = args.size or "large"
    console = Console(width=max(Console().width, 120))
    with tempfile.TemporaryDirectory() as tmp:
        if not args.data:
            console.print("no --data: rendering a 64-clip, 16-frame, 128² falling_rising dataset")
            args.data = [str(render_dataset_here(Path(tmp) / "falling_rising", 64, 16, 128))]
        payload = run_benchmark(args, log=lambda s: console.print(s, highlight=False))
    console.print(table(payload))
    path = write(payload, args.out or ("embed-quick.json" if args.quick else "embed.json"))
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
