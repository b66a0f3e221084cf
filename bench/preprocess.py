"""The host side of embedding, side by side in one run: preprocessing a batch whole against in chunks
of frames (``evaluate.encoders.hf.resize_float``), and ``track``'s segmentation against the per-pixel
versions it replaced, with their outputs compared bit for bit.

    python bench/preprocess.py [--clips 8] [--frames 48] [--repeat 5]

Preprocessing: 8 clips of 48 frames at 256² (lights' shape), one torch thread (a lane of the demo's run),
the batch's float32 copy made whole (chunk = every frame) against ``CPU_RESIZE_CHUNK`` frames at a time,
to the demo's 32² and to R3D's 112². ``track``: a clip's foreground, colour cuts and blobs by the
reference functions below (the code before the change, kept here to compare) against the encoder's.
Writes bench/results/preprocess.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reference_foreground(frames: np.ndarray, bg_frac: float, tol: int) -> np.ndarray:
    """The whole-clip gather through (T, H, W) int64 offsets that ``track.foreground`` replaced."""
    from evaluate.encoders.track import backdrop_tables

    t = len(frames)
    lut = backdrop_tables(frames, bg_frac, tol)
    offset = (np.arange(t, dtype=np.intp) * 768)[:, None, None]
    flat = lut.reshape(-1)
    near = flat[frames[..., 0] + offset]
    near &= flat[frames[..., 1] + (offset + 256)]
    near &= flat[frames[..., 2] + (offset + 512)]
    return near == 0


def reference_colour_edges(frames: np.ndarray, fg: np.ndarray, max_angle: float) -> np.ndarray:
    """The dense version ``track.colour_edges`` replaced: every pixel of the foreground's box compared."""
    if max_angle >= 180 or not fg.any():
        return fg
    rows, cols = np.flatnonzero(fg.any(axis=(0, 2))), np.flatnonzero(fg.any(axis=(0, 1)))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    box = fg[:, r0:r1, c0:c1]
    v = frames[:, r0:r1, c0:c1].astype(np.float32) + 1.0
    v /= np.sqrt((v * v).sum(axis=-1, keepdims=True))
    limit = np.float32(np.cos(np.radians(max_angle)))
    cut = np.zeros_like(box)
    cut[:, :, :-1] |= ((v[:, :, 1:] * v[:, :, :-1]).sum(axis=-1) < limit) & box[:, :, 1:]
    cut[:, :-1] |= ((v[:, 1:] * v[:, :-1]).sum(axis=-1) < limit) & box[:, 1:]
    out = fg.copy()
    out[:, r0:r1, c0:c1] &= ~cut
    return out


def synthetic_clip(rng: np.random.Generator, frames: int) -> np.ndarray:
    """A flat sky and floor with two touching boxes of different colours moving across: what track segments."""
    clip = np.empty((frames, 256, 256, 3), np.uint8)
    clip[:, :160] = (200, 220, 245)
    clip[:, 160:] = (120, 110, 100)
    for t in range(frames):
        x = 20 + 4 * t
        clip[t, 120:170, x:x + 40] = (rng.integers(150, 200), 40, 40)
        clip[t, 120:170, x + 40:x + 70] = (40, 40, rng.integers(150, 200))
    return clip


def main() -> None:
    import torch

    from evaluate.encoders import hf, track

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    batch = torch.from_numpy(rng.integers(0, 256, (args.clips * args.frames, 256, 256, 3), dtype=np.uint8))
    frames = batch.permute(0, 3, 1, 2)
    rows = []
    chunk = hf.CPU_RESIZE_CHUNK
    for size, antialias in (((32, 32), True), ((112, 112), False), ((224, 224), True)):
        hf.CPU_RESIZE_CHUNK = len(frames)
        whole_out = hf.resize_float(frames, size, antialias)
        whole = best_of(args.repeat, lambda size=size, antialias=antialias: hf.resize_float(frames, size, antialias))
        hf.CPU_RESIZE_CHUNK = chunk
        chunked_out = hf.resize_float(frames, size, antialias)
        chunked = best_of(args.repeat, lambda size=size, antialias=antialias: hf.resize_float(frames, size, antialias))
        rows.append({"what": f"resize {len(frames)} frames 256² -> {size[0]}² (antialias {antialias})",
                     "before_s": whole, "after_s": chunked, "ratio": chunked / whole,
                     "identical": bool(torch.equal(whole_out, chunked_out))})
    clips = [synthetic_clip(rng, args.frames) for _ in range(4)]

    def reference(clip):
        fg = reference_foreground(clip, 0.02, 4)
        return track.blob_features(clip, reference_colour_edges(clip, fg, 3.0), 11)

    def current(clip):
        fg = track.foreground(clip, 0.02, 4)
        return track.blob_features(clip, track.colour_edges(clip, fg, 3.0), 11)

    same = all(np.array_equal(reference(c), current(c)) for c in clips)
    before = best_of(args.repeat, lambda: [reference(c) for c in clips])
    after = best_of(args.repeat, lambda: [current(c) for c in clips])
    rows.append({"what": f"track: foreground and colour cuts (then the same blobs) of 4 clips of {args.frames} frames at 256²",
                 "before_s": before, "after_s": after, "ratio": after / before, "identical": same})
    for row in rows:
        print(f"{row['what']}: {row['before_s']:.3f} s -> {row['after_s']:.3f} s, ratio {row['ratio']:.2f}, "
              f"identical {row['identical']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "preprocess.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
