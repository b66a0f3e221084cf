"""Ground-truth oracles: ``oracle-static`` and ``oracle-full`` read a clip's labels (its json), not
its pixels. Run through the same views and probes as any encoder, they measure, per target, how
much of it one frame's visible state gives (``oracle-static``) and how much all frames' visible states
give (``oracle-full``): the identifiability table.

**A frame's visible state** is :func:`simgen.render.visible.frame_states`, defined once for the oracles and
``simgen audit``: the scene (camera, backdrop), then per body or light slot its position, image_xy,
shape, texture, size, colour, light brightness, and its orientation only where its looks show it (a
textured body or a shape other than a sphere; a plain sphere's turn is invisible, so it reads the
identity). Nothing that encodes motion: no velocities, no times, no blink or speed parameters. One frame
cannot show a velocity, so ``oracle-static`` reads what one frame could show, complete and exact.

**Views.** ``oracle-full`` is the frames' states in the view's frame order
(:func:`evaluate.data.views.frame_index`), concatenated, so ``reversed`` and ``shuffled`` permute
them just as they permute pixels; ``frame_mean`` is the mean state, repeated.

**Odometers** (``oracle-full,odometer=1``, the default): each frame's state is followed by Σ|Δ| of
every feature over the view's frames so far, as ``track`` does. Without them a linear probe cannot
read how much anything changed: a static and a moving light have the same state distribution at
every frame, so the classes have the same feature means, and "moves", "blinks" or a speed are
magnitudes (|v|, not v), which no linear function of the stacked states gives. On the demo lights
dataset the states alone score chance on ``moves`` and ``blinks`` and R² 0 on ``speed_px`` with the
linear probe: the table would call them hopeless from the states. The odometers are computed from
the frames the view shows, in its order, so ``single_frame`` (one frame repeated) gets zeros, and the
total over a clip is the same for a clip and its time reversal. ``odometer=0``: the states alone. ``oracle-static`` is
one frame's state under every view: the frame that ``single_frame`` shows (the seeded
``frame_index("single_frame", T, clip_id)``), so its score is what that frame's visible state gives.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.encoders.base import Encoder, odometers, register
from evaluate.errors import EncoderError
from simgen.families import FAMILIES
from simgen.render.visible import ENTITY_FEATURES, SCENE_FEATURES, frame_states

__all__ = ["ENTITY_FEATURES", "SCENE_FEATURES", "OracleFull", "OracleStatic", "frame_states"]


@cache
def dataset_spec(root: Path) -> dict[str, Any]:
    from simgen.dataset.format import read_info

    return read_info(root).spec


class _Oracle(Encoder):
    """Reads each clip's json, never its pixels: the run hands it its clips without decoding them."""

    example = ""
    version = 2  # 2: orientation only where the looks show it (simgen.render.visible)
    builds_views = True
    needs_pixels = False  # evaluate.embed.shared: fed ClipRefs only

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version}

    def states(self, clip) -> np.ndarray:
        label = json.loads(Path(clip.label_path).read_text())
        spec = dataset_spec(Path(clip.root).resolve())
        return frame_states(label, FAMILIES[label["family"]].looks.slots(spec))

    def view_vector(self, states: np.ndarray, view: str, clip_id: str) -> np.ndarray:
        raise NotImplementedError

    def encode(self, clips: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError(f"{self.kind} reads the clips' labels: it needs their ClipRefs "
                                  f"(encode_views_async)")

    def encode_views_async(self, clips, frames, needs, memo=None):
        from evaluate.data.views import rows_by_view

        with self.timed("preprocess_s"):
            states = [self.states(clip) for clip in clips]
        for view, rows in rows_by_view(needs):
            with self.timed("forward_s"):
                result = np.stack([self.view_vector(states[i], view, clips[i].clip_id) for i in rows]).astype(np.float32)
            self.timings["clips"] += len(rows)
            yield view, [clips[i] for i in rows], lambda result=result: result


@register
class OracleFull(_Oracle):
    kind = "oracle-full"
    role = "control"
    description = ("ground truth, not pixels: every frame's visible state (bodies' and lights' position, "
                   "orientation where it shows, image_xy, size, colour, brightness; no velocities) in the view's "
                   "frame order, with odometers")
    example = "oracle-full,odometer=0"
    option_help = {"odometer": "1 (default): add, per frame, Σ|Δ| of each state feature over the view's frames so "
                               "far; 0: the frames' states alone"}

    def __init__(self, spec, device="cpu"):
        super().__init__(spec, device)
        self.odometer = self.option("odometer", 1, int)
        if self.odometer not in (0, 1):
            raise EncoderError(f"encoder {self.name!r}: odometer must be 0 or 1")

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "odometer": self.odometer}

    def view_vector(self, states: np.ndarray, view: str, clip_id: str) -> np.ndarray:
        from evaluate.data.views import frame_index

        index = frame_index(view, len(states), clip_id)
        if index is None:  # frame_mean: the mean state, repeated
            shown = np.repeat(states.mean(axis=0, keepdims=True), len(states), axis=0)
        else:
            shown = states[index]
        if not self.odometer:
            return shown.reshape(-1)
        return np.concatenate([shown, odometers(shown)], axis=1).reshape(-1)


@register
class OracleStatic(_Oracle):
    kind = "oracle-static"
    role = "control"
    description = ("ground truth, not pixels: the visible state of one seeded frame (the one single_frame "
                   "shows), whatever the view: what one frame could give")
    example = "oracle-static"

    def view_vector(self, states: np.ndarray, view: str, clip_id: str) -> np.ndarray:
        from evaluate.data.views import frame_index

        return states[int(frame_index("single_frame", len(states), clip_id)[0])]
