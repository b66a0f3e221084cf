"""Views made on the device from one preprocessed copy of a batch's original frames.

Every view but ``frame_mean`` is a selection of the clip's frames, and every encoder's preprocessing
(resize, crop, normalisation) acts on each frame alone. So the original frames are copied to the
device and preprocessed once, and each view is a gather of those preprocessed frames: the same
tensor as preprocessing the view's frames, at a fifth of the cost with the five default views
(tested bit for bit in tests/evaluate/test_views.py). ``frame_mean`` (the integer mean of the raw
frames, as :mod:`evaluate.data.views`) is preprocessed on its own, one frame per clip.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from evaluate.encoders.batch_memo import remembered
from evaluate.encoders.hf import to_device


def device_views(clips: list, frames: np.ndarray, needs: list[tuple[str, ...]], device: str,
                 per_frame: Callable[[Any], Any], timed: Callable[[], AbstractContextManager],
                 memo: dict | None = None, key: Hashable = None) -> Iterator[tuple[str, list[int], Any]]:
    """For a stacked (B, T, H, W, 3) uint8 batch of original ``frames``: yields (view, its rows, the
    view's (n, T, ...) preprocessed frames) for each view that ``needs`` names, in the run's view order.
    ``per_frame`` maps a (B, T, H, W, 3) uint8 tensor to (B, T, ...) preprocessed frames; ``timed()``
    is the context its time (and the gathers') is counted under. ``memo`` (the batch's, shared by the
    run's encoders) keeps the device copy and the preprocessed frames under ``key``, which names every
    parameter of ``per_frame`` (:func:`evaluate.encoders.hf.preprocessing_key`): an encoder whose
    preprocessing is the same as one before it in the batch (the demo's tiny V-JEPA 2 and album) reads them
    from there."""
    import torch

    from evaluate.data.views import frame_index, rows_by_view

    def make() -> tuple[Any, Any]:
        raw = to_device(frames, device)
        return raw, per_frame(raw)

    with timed():
        raw, x = remembered(memo, None if key is None else ("device_views", device, key), make)
    n_clips, n_frames = raw.shape[:2]
    for view, rows in rows_by_view(needs):
        with timed():
            # Indices go to the device as pinned non-blocking copies (see hf.py): no wait on a GPU.
            everyone = len(rows) == n_clips
            if view == "frame_mean":
                picked = raw if everyone else raw.index_select(0, to_device(np.array(rows), device))
                total = frame_sum(picked)
                mean = torch.div(2 * total + n_frames, 2 * n_frames, rounding_mode="floor").to(torch.uint8)
                xv = per_frame(mean[:, None]).expand(-1, n_frames, *x.shape[2:])
            elif view == "original" and everyone:
                xv = x
            else:  # one gather of (clip, frame) pairs
                flat = np.stack([i * n_frames + frame_index(view, n_frames, clips[i].clip_id) for i in rows])
                xv = x.flatten(0, 1).index_select(0, to_device(flat.ravel(), device))
                xv = xv.view(len(rows), n_frames, *x.shape[2:])
        yield view, rows, xv


def stacked_as_is(frames: Any, select: Callable[[np.ndarray], np.ndarray]) -> bool:
    """Whether ``frames`` is one stacked (B, T, H, W, 3) batch whose clips the encoder reads as they are
    (``select``, its frame selection, returns a clip itself): only then do its views commute with it."""
    if not (isinstance(frames, np.ndarray) and frames.ndim == 5):
        return False
    first = frames[0]  # one view object: each frames[0] is a new one, and `is` compares objects
    return select(first) is first


def frame_sum(frames: Any) -> Any:
    """(B, T, H, W, 3) uint8 tensor -> (B, H, W, 3) int32 sum over time. T in-place adds into an int16
    (int32 past 128 frames) accumulator: torch's ``sum(dim=1, dtype=torch.int32)`` runs ~20x slower
    on a CPU (28.8 against 1.2 ms for 8 clips of 16 frames at 256²)."""
    import torch

    n_frames = frames.shape[1]
    total = frames[:, 0].to(torch.int16 if 255 * n_frames <= torch.iinfo(torch.int16).max else torch.int32)
    for i in range(1, n_frames):
        total += frames[:, i]
    return total.to(torch.int32)
