"""Weight-free baselines: ``pixels`` (downsampled frames stacked in time order) and ``motion``
(differences of consecutive downsampled frames, stacked). Plain numpy: no torch needed."""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluate.encoders.base import Encoder, register, resample_frames


def downsample(frames: np.ndarray, size: int) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, size, size, 3) float32 in [0, 1], by block averaging
    (area resampling; H and W are first cropped to a multiple of ``size`` at most a few pixels)."""
    t, h, w, c = frames.shape
    if size > min(h, w):
        raise ValueError(f"pixels/motion size={size} is larger than the frames ({h}x{w})")
    bh, bw = h // size, w // size
    x = np.ascontiguousarray(frames[:, : bh * size, : bw * size])
    # Exact integer sums, rows of each block first (contiguous memory), then columns: ~10x faster
    # than a float mean over two strided axes.
    rows = x.reshape(t, size, bh, bw * size * c).sum(axis=2, dtype=np.uint32)
    blocks = rows.reshape(t, size, size, bw, c).sum(axis=3, dtype=np.uint32)
    return blocks.astype(np.float32) / np.float32(255.0 * bh * bw)


class _Pixels(Encoder):
    option_help = {"size": "side of the downsampled frame in pixels (default 16)",
                   "frames": "resample every clip to this many frames (default: the clip's own)"}
    version = 1

    def __init__(self, spec, device="cpu"):
        super().__init__(spec, device)
        self.size = self.option("size", 16, int)
        self.frames = self.option("frames", None, int)

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "size": self.size, "frames": self.frames}

    def _features(self, small: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def encode(self, clips: list[np.ndarray]) -> np.ndarray:
        out = []
        for frames in clips:
            with self.timed("preprocess_s"):
                if self.frames:
                    frames = resample_frames(frames, self.frames)
                small = downsample(frames, self.size)
            with self.timed("forward_s"):
                out.append(self._features(small).reshape(-1))
            self.timings["clips"] += 1
        lengths = {len(x) for x in out}
        if len(lengths) > 1:
            raise ValueError(f"{self.kind}: clips have different frame counts; pass {self.kind},frames=N")
        return np.stack(out).astype(np.float32)


@register
class Pixels(_Pixels):
    kind = "pixels"
    description = "raw frames, downsampled and stacked in time order (no weights)"
    example = "pixels,size=16"

    def _features(self, small: np.ndarray) -> np.ndarray:
        return small


@register
class Motion(_Pixels):
    kind = "motion"
    description = "differences of consecutive downsampled frames, stacked (no weights)"
    example = "motion,size=16"

    def _features(self, small: np.ndarray) -> np.ndarray:
        return np.diff(small, axis=0)
