"""Views: the temporal controls. Each maps (T, H, W, 3) uint8 frames to frames of the same shape.

- ``original``: as rendered.
- ``shuffled``: frames permuted, with a fixed seed per clip.
- ``reversed``: frames in reverse order.
- ``single_frame``: one frame, drawn with a seed per clip, repeated T times.
- ``frame_mean``: the average frame (rounded to uint8), repeated T times.

``single_frame`` and ``frame_mean`` carry no order at all: they are the static views against
which the temporal margin is measured.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

VIEWS = ("original", "shuffled", "reversed", "single_frame", "frame_mean")
STATIC_VIEWS = ("single_frame", "frame_mean")
VIEW_HELP = {
    "original": "the clip as rendered",
    "shuffled": "frames permuted (fixed seed per clip)",
    "reversed": "frames in reverse order",
    "single_frame": "one frame (seeded per clip) repeated to the clip length",
    "frame_mean": "the average frame repeated to the clip length",
}


def clip_rng(view: str, clip_id: str, seed: int = 0) -> np.random.Generator:
    """A generator seeded from (seed, view, clip id): stable across runs, machines and clip order."""
    digest = hashlib.sha256(f"{seed}/{view}/{clip_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _original(frames: np.ndarray, clip_id: str) -> np.ndarray:
    return frames


def _shuffled(frames: np.ndarray, clip_id: str) -> np.ndarray:
    return frames[clip_rng("shuffled", clip_id).permutation(len(frames))]


def _reversed(frames: np.ndarray, clip_id: str) -> np.ndarray:
    return frames[::-1].copy()


def _single_frame(frames: np.ndarray, clip_id: str) -> np.ndarray:
    index = int(clip_rng("single_frame", clip_id).integers(len(frames)))
    return np.repeat(frames[index:index + 1], len(frames), axis=0)


def _frame_mean(frames: np.ndarray, clip_id: str) -> np.ndarray:
    # Integer sum: the mean does not depend on frame order, so a clip and its time reversal agree bit for bit.
    total = frames.astype(np.int64).sum(axis=0)
    mean = np.floor_divide(2 * total + len(frames), 2 * len(frames)).astype(np.uint8)  # round half up
    return np.repeat(mean[None], len(frames), axis=0)


_VIEW_FUNCS: dict[str, Callable[[np.ndarray, str], np.ndarray]] = {
    "original": _original, "shuffled": _shuffled, "reversed": _reversed,
    "single_frame": _single_frame, "frame_mean": _frame_mean,
}


def check_views(views: list[str]) -> list[str]:
    from evaluate.registry import did_you_mean

    for v in views:
        if v not in _VIEW_FUNCS:
            raise ValueError(f"unknown view {v!r}{did_you_mean(v, VIEWS)}; views: {', '.join(VIEWS)}")
    return list(dict.fromkeys(views))


def apply_view(view: str, frames: np.ndarray, clip_id: str) -> np.ndarray:
    """The frames of one clip under ``view``; same shape and dtype as the input."""
    check_views([view])
    return _VIEW_FUNCS[view](frames, clip_id)
