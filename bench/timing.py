"""Timing for the benchmarks: a method timed from outside (the code measured stays as it ships), and
a forward pass timed on a pre-made batch, with the peak memory of the device."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def calls_timed(owner: Any, name: str, record: Callable[[float, float], None]) -> Iterator[None]:
    """While inside, each call of ``owner.name`` (a class's method, or one instance's) is followed by
    ``record(start, seconds)``; ``start`` is when the call began. Restored on the way out."""
    original = getattr(owner, name)
    own = name in vars(owner)  # an instance usually has none: it reads its class's

    def call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            record(start, time.perf_counter() - start)

    setattr(owner, name, call)
    try:
        yield
    finally:
        if own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)


def sync(device: str) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if str(device).startswith("cuda") else None


def forward_throughput(forward: Callable, x: Any, device: str, *, seconds: float, max_iters: int = 200) -> dict:
    """clips/s of ``forward(x)`` + mean pooling + copy of the result to the host (the host waits for
    each), after two warm-up calls; also the first call's seconds (compiling, for a compiled forward),
    the iterations and the peak memory of the device (GiB)."""
    import torch

    reset_peak(device)
    with torch.inference_mode():
        t0 = time.perf_counter()
        forward(x).mean(dim=1).float().cpu()
        first = time.perf_counter() - t0
        forward(x).mean(dim=1).float().cpu()  # kernels chosen, memory pools filled
        sync(device)
        iters, start = 0, time.perf_counter()
        while iters < max_iters and (iters < 3 or time.perf_counter() - start < seconds):
            forward(x).mean(dim=1).float().cpu()
            iters += 1
        sync(device)
        wall = time.perf_counter() - start
    return {"clips_per_s": iters * len(x) / wall, "seconds": wall, "iters": iters, "first_call_s": first,
            "peak_gib": peak_gib(device)}
