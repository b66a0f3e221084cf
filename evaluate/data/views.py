"""Views: the temporal controls. Each maps (T, H, W, 3) uint8 frames to frames of the same shape.

- ``original``: as rendered.
- ``shuffled``: frames permuted, with a fixed seed per clip. The **order** control: the same
  frames, order destroyed.
- ``reversed``: frames in reverse order.
- ``single_frame``: one frame, drawn with a seed per clip, repeated T times. The **static**
  control: what one frame gives.
- ``frame_mean``: the average frame (rounded to uint8), repeated T times. Not a static control: a
  long exposure, which keeps motion blur (a moving light leaves a streak) and integrated brightness
  (a blinking light averages to a level a steady one never shows), but loses order.

The margins subtract a control: static margin = original − max(chance, single_frame), order margin
= original − max(chance, shuffled).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from simgen.spec.registry import Registry


def clip_rng(view: str, clip_id: str, seed: int = 0) -> np.random.Generator:
    """A generator seeded from (seed, view, clip id): stable across runs, machines and clip order."""
    digest = hashlib.sha256(f"{seed}/{view}/{clip_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def mean_frame(frames: np.ndarray) -> np.ndarray:
    """The (H, W, 3) uint8 average of (T, H, W, 3) frames, rounded half up."""
    # Integer sum: the mean does not depend on frame order, so a clip and its time reversal agree bit for bit.
    # uint16 holds the sum of up to 257 frames, and summing into it skips an int64 copy of the clip
    # (0.18 against 1.5 ms for 16 frames of 256²).
    total = np.add.reduce(frames, axis=0, dtype=np.uint16 if len(frames) <= 257 else np.int64).astype(np.int64)
    return np.floor_divide(2 * total + len(frames), 2 * len(frames)).astype(np.uint8)


@dataclass(frozen=True)
class View:
    """A view of a clip: which frames it shows (``select``), or how it summarises them (``make``)."""

    help: str
    control: str | None  # "static" or "order": the margin this view is the control of
    select: Callable[[int, str], np.ndarray] | None = None  # (n frames, clip id) -> frame indices
    make: Callable[[np.ndarray], np.ndarray] | None = None  # frames -> frames, when not a selection


VIEW_REGISTRY: Registry[View] = Registry("view")
VIEW_REGISTRY.register("original", View("the clip as rendered", None, lambda n, _: np.arange(n)))
VIEW_REGISTRY.register("shuffled", View("frames permuted (fixed seed per clip): the order control", "order",
                                        lambda n, clip_id: clip_rng("shuffled", clip_id).permutation(n)))
VIEW_REGISTRY.register("reversed", View("frames in reverse order", None, lambda n, _: np.arange(n)[::-1]))
VIEW_REGISTRY.register("single_frame", View(
    "one frame (seeded per clip) repeated to the clip length: the static control", "static",
    lambda n, clip_id: np.full(n, int(clip_rng("single_frame", clip_id).integers(n)))))
VIEW_REGISTRY.register("frame_mean", View("the average frame repeated to the clip length: a long exposure (keeps blur and "
                                          "integrated brightness, loses order)", None,
                                          make=lambda frames: np.repeat(mean_frame(frames)[None], len(frames), axis=0)))

VIEWS = tuple(VIEW_REGISTRY)
# margin type -> the view it subtracts
CONTROL_VIEWS = {view.control: name for name, view in VIEW_REGISTRY.items() if view.control}
VIEW_HELP = {name: view.help for name, view in VIEW_REGISTRY.items()}


def frame_index(view: str, n_frames: int, clip_id: str) -> np.ndarray | None:
    """The frames of ``view`` as indices into the clip's frames; None for a view that is not a
    selection (``frame_mean``). One definition for the numpy views here and the views an encoder
    builds itself from one copy of the original frames (on its device in evaluate.encoders.vjepa2,
    from the downsampled frames in evaluate.encoders.pixels)."""
    select = VIEW_REGISTRY[view].select
    return None if select is None else select(n_frames, clip_id)


def rows_by_view(needs: Sequence[Sequence[str]]) -> Iterator[tuple[str, list[int]]]:
    """Each view, in VIEWS order, with the positions of the clips whose ``needs`` name it; a view
    that no clip needs is left out. How an encoder that builds views walks a batch."""
    for view in VIEWS:
        rows = [i for i, need in enumerate(needs) if view in need]
        if rows:
            yield view, rows


def check_views(views: list[str]) -> list[str]:
    """``views`` without repeats; an unknown name raises with the names that exist."""
    for v in views:
        VIEW_REGISTRY[v]
    return list(dict.fromkeys(views))


def apply_view(view: str, frames: np.ndarray, clip_id: str) -> np.ndarray:
    """The frames of one clip under ``view``; same shape and dtype as the input."""
    if view == "original":
        return frames
    spec = VIEW_REGISTRY[view]
    return spec.make(frames) if spec.make else frames[spec.select(len(frames), clip_id)]
