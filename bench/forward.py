"""The V-JEPA 2 forward alone: simgen's (evaluate/encoders/fast_vjepa2.py) against transformers' own
``VJEPA2Model`` on the same weights and the same inputs, side by side in one run; ViT-g's speed,
peak memory and largest batch.

    python bench/forward.py                  # on a GPU: ViT-L and ViT-g, 16 and 64 frames, bf16
    python bench/forward.py --quick          # tiny model on the CPU (a smoke run of this script)

Weights are random (drawn on the device: only speed and memory are measured here); inputs are
normal noise at the model's crop size, never zeros. Each figure is clips/s of forward + mean
pooling + copy of the result to the host, one forward at a time (the host waits for each result),
which is how bench/embed.py times its bare forward. Also: the relative error of simgen's forward
against transformers' on the same input (bf16 tolerance is ~1e-2), and which SDPA kernel each calls
(read off PyTorch's profiler). Writes bench/results/forward[-quick].json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from timing import forward_throughput, peak_gib, reset_peak

ROOT = Path(__file__).resolve().parents[1]


def build(size: str, device: str, dtype) -> tuple[Any, Any]:
    """(transformers VJEPA2Model, simgen's forward over the same weights), random weights drawn on
    ``device`` (seconds for ViT-g on a GPU, where drawing on the CPU takes a minute)."""
    from evaluate.encoders.fast_vjepa2 import FastVJEPA2Encoder
    from evaluate.encoders.vjepa2 import random_config, random_model

    model = random_model(random_config(size), seed=0, device=device).to(dtype)
    return model, FastVJEPA2Encoder(model)


def transformers_forward(model) -> Callable:
    return lambda x: model(pixel_values_videos=x, skip_predictor=True).last_hidden_state


def relative_error(a, b) -> float:
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm())


def vit_l(args, device: str, dtype, log) -> list[dict]:
    """transformers' forward against simgen's (and simgen's compiled, at one shape) on each shape."""
    import torch

    from evaluate.encoders.fast_vjepa2 import FastVJEPA2Encoder, attention_kernels

    model, fast = build(args.size, device, dtype)
    crop = model.config.crop_size
    theirs = transformers_forward(model)
    compiled = FastVJEPA2Encoder(model, compile=True) if args.compile_shapes else None
    rows = []
    for frames, batch in args.shapes:
        x = torch.randn(batch, frames, 3, crop, crop, device=device).to(dtype)
        with torch.inference_mode():
            error = relative_error(fast(x[:2]), theirs(x[:2]))
            one = x[:1]
            kernels = {"transformers": attention_kernels(lambda: theirs(one)),  # noqa: B023
                       "simgen": attention_kernels(lambda: fast(one))}  # noqa: B023
        row = {"model": args.size, "frames": frames, "batch": batch, "dtype": str(dtype).removeprefix("torch."),
               "relative_error": error, "attention_kernels": kernels}
        row["transformers"] = forward_throughput(theirs, x, device, seconds=args.seconds)
        row["simgen"] = forward_throughput(fast, x, device, seconds=args.seconds)
        row["speedup"] = row["simgen"]["clips_per_s"] / row["transformers"]["clips_per_s"]
        if (frames, batch) in args.compile_shapes:
            try:
                row["simgen_compiled"] = forward_throughput(compiled, x, device, seconds=args.seconds)
                row["compiled_speedup"] = row["simgen_compiled"]["clips_per_s"] / row["transformers"]["clips_per_s"]
                with torch.inference_mode():
                    row["compiled_relative_error"] = relative_error(compiled(x[:2]), theirs(x[:2]))
            except Exception as e:  # noqa: BLE001 — no compiler toolchain, say: the other figures stand
                row["compiled_error"] = f"{type(e).__name__}: {str(e)[:300]}"
        log(_line(row))
        rows.append(row)
    return rows  # the model's memory is freed with this frame, before ViT-g is built


def largest_batch(fast, frames: int, crop: int, device: str, dtype, fit: list[tuple[int, float]], log) -> dict:
    """The largest batch whose forward fits in the device's memory: predicted from peak memory at two
    batch sizes (peak = a + b * batch), then checked by running the patch embedding, the first block
    and the final norm at that batch, with every weight resident. In inference the blocks run one after
    another and each frees its activations, so one block's peak is the whole forward's (the check runs
    1/L of the work). One batch past the predicted one is tried too; it should not fit."""
    import torch

    (b1, p1), (b2, p2) = fit
    per_clip = (p2 - p1) / (b2 - b1)
    base = p1 - per_clip * b1
    total = torch.cuda.get_device_properties(device).total_memory / 2**30
    predicted = int((total * 0.97 - base) / per_clip)  # 3% for the allocator's own rounding

    def one_block(batch: int) -> float | None:
        reset_peak(device)
        try:
            x = torch.randn(batch, frames, 3, crop, crop, device=device, dtype=dtype)
            with torch.inference_mode():
                h = fast.embed(x)
                del x
                cos, sin = fast.tables(h.shape[1], h.dtype, h.device)
                h = fast.block(h, cos, sin, *fast.layers[0], heads=fast.heads, eps=fast.eps, scale=fast.scale)
                fast.norm(h).mean(dim=1).float().cpu()
            return peak_gib(device)
        except torch.cuda.OutOfMemoryError:
            return None
        finally:
            reset_peak(device)

    at_predicted = one_block(predicted)
    past = one_block(int(predicted * 1.1) + 1)
    result = {"frames": frames, "gib_per_clip": per_clip, "gib_fixed": base, "device_gib": total,
              "predicted_largest_batch": predicted, "fits_at_predicted": at_predicted is not None,
              "peak_gib_at_predicted": at_predicted, "fits_at_110_percent": past is not None}
    log(f"  largest batch at {frames} frames: {predicted} ({per_clip:.3f} GiB a clip over {base:.1f} GiB; "
        f"ran: {at_predicted is not None}, peak {at_predicted or 0:.1f} GiB; +10% fits: {past is not None})")
    return result


def vit_g(args, device: str, dtype, log) -> dict:
    import torch

    from evaluate.encoders.fast_vjepa2 import FastVJEPA2Encoder

    model, fast = build("giant", device, dtype)
    compiled = FastVJEPA2Encoder(model, compile=True) if args.compile_giant else None
    crop = model.config.crop_size
    rows, limits = [], []
    for frames, batches in args.giant:
        fit = []
        for batch in batches:
            x = torch.randn(batch, frames, 3, crop, crop, device=device).to(dtype)
            row = {"model": "giant", "frames": frames, "batch": batch, "dtype": str(dtype).removeprefix("torch."),
                   "simgen": forward_throughput(fast, x, device, seconds=args.seconds)}
            if batch == batches[-1] and args.compile_giant:
                try:
                    row["simgen_compiled"] = forward_throughput(compiled, x, device, seconds=args.seconds)
                except Exception as e:  # noqa: BLE001 — the eager figure stands
                    row["compiled_error"] = f"{type(e).__name__}: {str(e)[:300]}"
            del x
            fit.append((batch, row["simgen"]["peak_gib"] or 0.0))
            log(_line(row))
            rows.append(row)
        if device.startswith("cuda") and len(fit) >= 2:
            limits.append(largest_batch(fast, frames, crop, device, dtype, fit[-2:], log))
    weights_gib = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**30
    del model, fast
    reset_peak(device)
    return {"rows": rows, "largest_batch": limits, "weights_gib": weights_gib}


def _line(row: dict) -> str:
    parts = [f"  {row['model']} T={row['frames']:<3d} B={row['batch']:<3d} {row['dtype']}:"]
    for key in ("transformers", "simgen", "simgen_compiled"):
        if key in row:
            peak = row[key]["peak_gib"]
            parts.append(f"{key} {row[key]['clips_per_s']:8.2f} clips/s" + (f" ({peak:.1f} GiB)" if peak else ""))
    if "speedup" in row:
        parts.append(f"× {row['speedup']:.2f}; error {row['relative_error']:.1e}; attention "
                     f"{'/'.join(row['attention_kernels']['simgen'])}")
    if "compiled_error" in row:
        parts.append(f"compile failed: {row['compiled_error'][:120]}")
    if "compiled_speedup" in row:
        parts.append(f"compiled × {row['compiled_speedup']:.2f} (first call {row['simgen_compiled']['first_call_s']:.0f} s)")
    return " ".join(parts)


def parser() -> argparse.ArgumentParser:
    def shapes(text: str) -> list[tuple[int, int]]:  # "16x8,16x32,64x4": frames x batch
        return [tuple(int(v) for v in s.split("x")) for s in text.split(",") if s]

    def giant(text: str) -> list[tuple[int, list[int]]]:  # "16:8/32,64:4/8": frames: batches
        return [(int(f), [int(b) for b in bs.split("/")]) for f, bs in (s.split(":") for s in text.split(",") if s)]

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--size", default="large", help="random-vjepa2 size compared against transformers")
    p.add_argument("--shapes", type=shapes, default=shapes("16x8,16x32,64x8"), help="frames x batch")
    p.add_argument("--compile-shapes", type=shapes, default=shapes("16x8,16x32,64x8"),
                   help="shapes also measured with compile=1 (each compiles once; '' for none)")
    p.add_argument("--compile-giant", action=argparse.BooleanOptionalAction, default=True,
                   help="also measure ViT-g compiled, at the largest batch of each frame count")
    p.add_argument("--giant", type=giant, default=giant("16:8/32,64:2/8"),
                   help="ViT-g frames: batch sizes ('' to skip); the last two give the memory fit")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--quick", action="store_true", help="tiny model on the CPU")
    return p


def apply_quick(args) -> None:
    args.size, args.device, args.seconds = "tiny", "cpu" if args.device == "auto" else args.device, 0.5
    args.shapes, args.compile_shapes, args.giant, args.compile_giant = [(8, 2), (16, 2)], [], [], False


def run(args, log=print) -> dict:
    import torch

    from evaluate.encoders.hf import model_dtype, pick_device

    device = pick_device(args.device)
    dtype = model_dtype(device)
    t0 = time.perf_counter()
    payload: dict[str, Any] = {"benchmark": "forward", "device": torch.cuda.get_device_name(device)
                               if device.startswith("cuda") else "CPU", "torch": torch.__version__}
    payload["vit_l"] = vit_l(args, device, dtype, log)
    reset_peak(device)
    payload["vit_g"] = vit_g(args, device, dtype, log) if args.giant else None
    payload["wall_s"] = time.perf_counter() - t0
    return payload


def write(payload: dict, name: str) -> Path:
    path = ROOT / "bench" / "results" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(path)
    return path


def main() -> None:
    import sys

    sys.path.insert(0, str(ROOT))
    args = parser().parse_args()
    if args.quick:
        apply_quick(args)
    payload = run(args)
    print(f"wrote {write(payload, 'forward-quick.json' if args.quick else 'forward.json')}")


if __name__ == "__main__":
    main()
