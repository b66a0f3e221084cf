"""Where the full embedding path loses time against the bare forward: host-side stage times and a
torch.profiler table of one `evaluate run`-style pass (one view and all five), on a carried dataset.

    python3 bench/profile_embed.py --data bench/gpu_data/falling_rising_16      # on the GPU box
    python bench/profile_embed.py --data DIR --size tiny --device cpu          # smoke run here
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--size", default="large")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) - 2)))
    p.add_argument("--profile-clips", type=int, default=64, help="clips in the profiled pass")
    p.add_argument("--out", default=os.environ.get("OUT") or "/tmp")
    args = p.parse_args()

    import embed
    import torch
    from timing import calls_timed

    from evaluate.data.dataset import open_dataset
    from evaluate.data.views import VIEWS
    from evaluate.embed.cache import EmbeddingCache
    from evaluate.encoders import build_encoder

    encoder = build_encoder(f"random-vjepa2:{args.size}", args.device)
    dataset = open_dataset(args.data)
    x = embed.premade_batch(encoder, args.batch, dataset.frames, dataset)
    bare = embed.bare_forward(encoder, x, "bf16" if encoder.dtype == torch.bfloat16 else "fp32", seconds=2)
    print(f"bare: {bare['clips_per_s']:.1f} clips/s", flush=True)
    report = {"bare_clips_per_s": bare["clips_per_s"], "passes": []}
    for views in (["original"], list(VIEWS)):
        puts: list[float] = []  # seconds of each cache write
        with calls_timed(EmbeddingCache, "put", lambda _, seconds, puts=puts: puts.append(seconds)):
            row = embed.full_path(encoder, dataset, args.batch, "torch", args.workers, repeat=1, views=views)
        row["host_s"] = {"put": sum(puts)}
        row["efficiency"] = row["clips_per_s"] / bare["clips_per_s"]
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
        report["passes"].append(row)
    # The profiled pass is short (--profile-clips): tracing and its table cost minutes on a whole pass.
    activities = [torch.profiler.ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    subset = dataclasses.replace(dataset, clips=dataset.clips[:args.profile_clips])
    start = time.perf_counter()
    with torch.profiler.profile(activities=activities) as prof:
        embed.full_path(encoder, subset, args.batch, "torch", args.workers, repeat=1, views=list(VIEWS))
    wall = time.perf_counter() - start
    averages = prof.key_averages()
    # Kernel time over wall time: how much of the pass the GPU was busy (1.0 = never idle).
    device_s = sum(getattr(e, "self_device_time_total", 0) for e in averages) / 1e6
    report["profiled"] = {"clips": len(subset.clips), "wall_s": wall, "device_busy_s": device_s,
                          "device_busy_fraction": device_s / wall}
    print(json.dumps(report["profiled"]), flush=True)
    table = averages.table(sort_by="self_cpu_time_total", row_limit=30, max_name_column_width=60)
    print(table)
    Path(args.out, "profile_embed.txt").write_text(table + "\n" + json.dumps(report, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
