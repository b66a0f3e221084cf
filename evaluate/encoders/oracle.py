"""Ground-truth oracles: ``oracle-static`` and ``oracle-full`` read a clip's labels (its json), not
its pixels. Run through the same views and probes as any encoder, they measure, per target, how
much of it one frame's complete state gives (``oracle-static``) and how much all frames' states
give (``oracle-full``): the identifiability table.

**A frame's state** is a fixed-size vector, the same layout for every clip of a dataset:

- the scene, static: camera eye (3), camera target (3), field of view (1), backdrop colour (3:
  lights' sky, the floor elsewhere);
- then one block per body or light slot (:data:`ENTITY_FEATURES`, 27 numbers): present, is a light,
  position (3), orientation quaternion (4), image_xy (2, divided by the width and height), in view,
  shape (one-hot over simgen's shapes), texture (one-hot: none, checker, stripes), size and its
  log, colour (r, g, b) and its hue (cos, sin), light brightness. A slot the clip lacks is zeros.

Slots, looks and backdrop come from the family's declaration (``FamilyInfo.looks``, a
:class:`simgen.families.base.Looks` in its params.py, no PyBullet): falling_rising ``object``; impact
``object``, ``target`` (absent on the floor), coloured by density; lights ``light``, then ``star_0`` ... up
to the most distractors the dataset's spec allows. A family that declares no slots gets the bodies
and lights of each clip's first frame in their order, up to :data:`GENERIC_SLOTS`. Shape, size and
colour come from the clip's ``params`` through the family's ``appearance``; a light's colour and
brightness from each frame.

**Nothing that encodes motion**: no velocities, no times, no blink or speed parameters. One frame
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
``frame_index("single_frame", T, clip_id)``), so its score is what that frame's complete state gives.
"""

from __future__ import annotations

import colorsys
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.encoders.base import Encoder, odometers, register
from evaluate.errors import EncoderError
from simgen.families import FAMILIES
from simgen.shapes import SHAPES, TEXTURES

ENTITY_FEATURES = (
    "present", "is_light", "px", "py", "pz", "qx", "qy", "qz", "qw", "image_x", "image_y", "in_view",
    *(f"shape_{s}" for s in SHAPES), *(f"texture_{t}" for t in ("none", *TEXTURES)),
    "size", "log_size", "r", "g", "b", "hue_cos", "hue_sin", "brightness",
)
SCENE_FEATURES = ("eye_x", "eye_y", "eye_z", "target_x", "target_y", "target_z", "fov", "bg_r", "bg_g", "bg_b")
GENERIC_SLOTS = 8
_INDEX = {name: i for i, name in enumerate(ENTITY_FEATURES)}

@cache
def dataset_spec(root: Path) -> dict[str, Any]:
    from simgen.dataset import read_info

    return read_info(root).spec


def entity_vector(body: dict | None, light: dict | None, look: dict[str, Any], width: int, height: int) -> np.ndarray:
    out = np.zeros(len(ENTITY_FEATURES))
    state = body or light
    if state is None:
        return out
    out[_INDEX["present"]] = 1.0
    out[_INDEX["is_light"]] = float(light is not None)
    out[_INDEX["px"]:_INDEX["pz"] + 1] = state["position"]
    if body is not None:
        out[_INDEX["qx"]:_INDEX["qw"] + 1] = body["orientation"]
    else:
        out[_INDEX["qw"]] = 1.0
    xy = state.get("image_xy")
    if xy is not None:
        out[_INDEX["image_x"]], out[_INDEX["image_y"]] = xy[0] / width, xy[1] / height
        out[_INDEX["in_view"]] = float(0 <= xy[0] < width and 0 <= xy[1] < height)
    if look.get("shape") in SHAPES:
        out[_INDEX[f"shape_{look['shape']}"]] = 1.0
    texture = look.get("texture")
    if texture is not None and f"texture_{texture}" in _INDEX:
        out[_INDEX[f"texture_{texture}"]] = 1.0
    if look.get("size"):
        out[_INDEX["size"]], out[_INDEX["log_size"]] = look["size"], math.log(look["size"])
    rgb = look.get("rgb") or (light or {}).get("color")
    if rgb is not None:
        out[_INDEX["r"]:_INDEX["b"] + 1] = rgb[:3]
        hue = colorsys.rgb_to_hsv(*rgb[:3])[0]
        out[_INDEX["hue_cos"]], out[_INDEX["hue_sin"]] = math.cos(2 * math.pi * hue), math.sin(2 * math.pi * hue)
    if light is not None:
        out[_INDEX["brightness"]] = light["brightness"]
    return out


def frame_states(label: dict[str, Any], slots: list[str] | None) -> np.ndarray:
    """(T, D) float64: each frame's state (the module doc's layout) from a clip's json."""
    family, params, camera = label["family"], label["params"], label["camera"]
    width, height = camera["width"], camera["height"]
    frames = label["frames"]
    if slots is None:
        first = frames[0]
        slots = list(dict.fromkeys([*first.get("bodies", {}), *(first.get("lights") or {})]))[:GENERIC_SLOTS]
        slots += [""] * (GENERIC_SLOTS - len(slots))
    family_looks = FAMILIES[family].looks
    scene = np.array([*camera["eye"], *camera["target"], camera["fov_deg"], *family_looks.backdrop(params)], float)
    looks = {name: family_looks.appearance(params, name) if name else {} for name in slots}
    out = np.empty((len(frames), len(scene) + len(slots) * len(ENTITY_FEATURES)))
    for t, frame in enumerate(frames):
        bodies, lights = frame.get("bodies") or {}, frame.get("lights") or {}
        out[t] = np.concatenate([scene, *(entity_vector(bodies.get(name), lights.get(name), looks[name], width, height)
                                          for name in slots)])
    return out


class _Oracle(Encoder):
    """Reads each clip's json; the decoded frames it is handed are used for nothing but their count."""

    example = ""
    version = 1
    builds_views = True

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

    def encode_views_async(self, clips, frames, needs):
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
    description = ("ground truth, not pixels: every frame's complete visible state (bodies' and lights' position, "
                   "orientation, image_xy, size, colour, brightness; no velocities) in the view's frame order, "
                   "with odometers")
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
    description = ("ground truth, not pixels: the complete visible state of one seeded frame (the one single_frame "
                   "shows), whatever the view: what one frame could give")
    example = "oracle-static"

    def view_vector(self, states: np.ndarray, view: str, clip_id: str) -> np.ndarray:
        from evaluate.data.views import frame_index

        return states[int(frame_index("single_frame", len(states), clip_id)[0])]
