"""Weight-free baselines: ``pixels`` (downsampled frames stacked in time order; ``pool=trajectory``:
the five geometric signals of that path of frames, :mod:`evaluate.trajectory`) and ``motion``
(differences of consecutive downsampled frames, stacked). Plain numpy: no torch needed."""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluate.encoders.base import Encoder, register, resample_frames
from evaluate.errors import EncoderError
from evaluate.trajectory import TRAJECTORY, TRAJECTORY_HELP, trajectory_features


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
    host_numpy = True

    def __init__(self, spec, device="cpu"):
        super().__init__(spec, device)
        self.size = self.option("size", 16, int)
        self.frames = self.option("frames", None, int)

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "size": self.size, "frames": self.frames}

    def _features(self, small: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _embed(self, small_clips: list[np.ndarray]) -> np.ndarray:
        """The forward: (B, D) float32 features of downsampled clips, each (T, size, size, 3)."""
        with self.timed("forward_s"):
            out = [self._features(small).reshape(-1) for small in small_clips]
        self.timings["clips"] += len(out)
        if len({len(x) for x in out}) > 1:
            raise ValueError(f"{self.kind}: clips have different frame counts; pass {self.kind},frames=N")
        return np.stack(out).astype(np.float32)

    def encode(self, clips: list[np.ndarray]) -> np.ndarray:
        small = []
        for frames in clips:
            with self.timed("preprocess_s"):
                if self.frames:
                    frames = resample_frames(frames, self.frames)
                small.append(downsample(frames, self.size))
        return self._embed(small)

    builds_views = True

    def encode_views_async(self, clips, frames, needs, memo=None):
        """Each clip is downsampled once and its views are made from the small frames: selections of
        them (downsampling acts on each frame alone, so this is downsampling the view), and the mean
        of the raw frames, as evaluate.data.views makes it, downsampled. Bit-identical to making each view
        first (tested), with a fifth of the downsampling and none of the loader's view copies. With
        ``frames=N`` a view is resampled after it is made, so those go the default way."""
        from evaluate.data.views import frame_index, mean_frame, rows_by_view

        if self.frames:
            yield from super().encode_views_async(clips, frames, needs)
            return
        with self.timed("preprocess_s"):
            small = [downsample(raw, self.size) if set(need) - {"frame_mean"} else None
                     for raw, need in zip(frames, needs, strict=True)]
        for view, rows in rows_by_view(needs):
            with self.timed("preprocess_s"):
                if view == "frame_mean":
                    views = [np.repeat(downsample(mean_frame(frames[i])[None], self.size), len(frames[i]), axis=0)
                             for i in rows]
                else:
                    views = [small[i][frame_index(view, len(frames[i]), clips[i].clip_id)] for i in rows]
            result = self._embed(views)
            yield view, [clips[i] for i in rows], lambda result=result: result


@register
class Pixels(_Pixels):
    kind = "pixels"
    role = "pixels"
    description = "raw frames, downsampled and stacked in time order (no weights); pool=trajectory: their path's geometry"
    example = "pixels,size=16"
    option_help = {**_Pixels.option_help, "pool": "time (default: the frames stacked in time order) or "
                                                  + TRAJECTORY_HELP + " of the downsampled frames"}

    def __init__(self, spec, device="cpu"):
        super().__init__(spec, device)
        self.pool = self.option("pool", "time")
        if self.pool not in ("time", TRAJECTORY):
            raise EncoderError(f"{self.name}: pool={self.pool!r}; use pool=time or pool={TRAJECTORY}")

    def identity(self) -> dict[str, Any]:
        # pool=time leaves the identity (and the cache keys) as they were before pool= existed
        return {**super().identity(), **({"pool": self.pool} if self.pool != "time" else {})}

    def _features(self, small: np.ndarray) -> np.ndarray:
        return trajectory_features(small.reshape(len(small), -1)) if self.pool == TRAJECTORY else small


@register
class Motion(_Pixels):
    kind = "motion"
    role = "pixels"
    description = "differences of consecutive downsampled frames, stacked (no weights)"
    example = "motion,size=16"

    def _features(self, small: np.ndarray) -> np.ndarray:
        return np.diff(small, axis=0)
