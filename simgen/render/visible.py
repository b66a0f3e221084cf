"""Visible state, defined once: what a camera can see of a clip's bodies and lights, frame by frame, as a
fixed-size vector per frame. Pure data from a clip's json record (no PyBullet), so that evaluate's
ground-truth oracles (``oracle-static``, ``oracle-full``) and ``simgen audit`` read the same thing.

**A frame's visible state** has the same layout for every clip of a dataset:

- the scene, static: camera eye (3), camera target (3), field of view (1), backdrop colour (3: lights'
  sky, the floor elsewhere);
- then one block per body or light slot (:data:`ENTITY_FEATURES`, 27 numbers): present, is a light,
  position (3), orientation quaternion (4), image_xy (2, divided by the width and height), in view,
  shape (one-hot over simgen's shapes), texture (one-hot: none, checker, stripes), size and its log,
  colour (r, g, b) and its hue (cos, sin), light brightness. A slot the clip lacks is zeros.

**Orientation only where the looks show it** (:func:`orientation_visible`): a textured body, or any shape
but a sphere. A plain sphere looks the same however it is turned, so its quaternion is replaced by the
identity: a camera cannot see it, and a reader of it would learn what no pixel shows (a ball that starts
unrotated and rolls without slipping carries its heading in its orientation). A body whose shape the
family does not declare is treated the same way: nothing says its turn shows. Lights have no orientation.

**Nothing that encodes motion**: no velocities, no times, no blink or speed parameters. One frame cannot
show a velocity.

Slots, looks and backdrop come from the family's declaration (``FamilyInfo.looks``, a
:class:`simgen.families.base.Looks`): falling_rising ``object``; impact ``object``, ``target`` (absent
on the floor); lights ``light``, then ``star_0`` ... up to the most distractors the spec allows. A family
that declares no slots gets the bodies and lights of each clip's first frame in their order, up to
:data:`GENERIC_SLOTS`. Shape, texture, size and colour come from the clip's ``params`` through the
family's ``appearance``; a light's colour and brightness from each frame.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from simgen.families import FAMILIES
from simgen.physics.shapes import SHAPES, TEXTURES

ENTITY_FEATURES = (
    "present", "is_light", "px", "py", "pz", "qx", "qy", "qz", "qw", "image_x", "image_y", "in_view",
    *(f"shape_{s}" for s in SHAPES), *(f"texture_{t}" for t in ("none", *TEXTURES)),
    "size", "log_size", "r", "g", "b", "hue_cos", "hue_sin", "brightness",
)
SCENE_FEATURES = ("eye_x", "eye_y", "eye_z", "target_x", "target_y", "target_z", "fov", "bg_r", "bg_g", "bg_b")
GENERIC_SLOTS = 8
IDENTITY = (0.0, 0.0, 0.0, 1.0)
_INDEX = {name: i for i, name in enumerate(ENTITY_FEATURES)}


def orientation_visible(look: Mapping[str, Any]) -> bool:
    """Whether a body that looks like ``look`` (its family's ``appearance``) shows how it is turned: a
    textured body, or a shape other than a sphere. An undeclared shape does not."""
    shape, texture = look.get("shape"), look.get("texture")
    if texture not in (None, "none"):
        return True
    return shape in SHAPES and shape != "sphere"


def entity_vector(body: Mapping | None, light: Mapping | None, look: Mapping[str, Any], width: int,
                  height: int) -> np.ndarray:
    """One slot's :data:`ENTITY_FEATURES` from a frame's body or light record; zeros when absent."""
    out = np.zeros(len(ENTITY_FEATURES))
    state = body or light
    if state is None:
        return out
    out[_INDEX["present"]] = 1.0
    out[_INDEX["is_light"]] = float(light is not None)
    out[_INDEX["px"]:_INDEX["pz"] + 1] = state["position"]
    shown = body["orientation"] if body is not None and orientation_visible(look) else IDENTITY
    out[_INDEX["qx"]:_INDEX["qw"] + 1] = shown
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


def frame_states(label: Mapping[str, Any], slots: list[str] | None) -> np.ndarray:
    """(T, D) float64: each frame's visible state (the module doc's layout) from a clip's json record
    (``family``, ``params``, ``camera`` and ``frames``); ``slots`` from the family's ``looks.slots``."""
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


def feature_names(n_slots: int) -> list[str]:
    """The column names of :func:`frame_states` with ``n_slots`` slots (``slot<k>.<feature>``)."""
    return [*SCENE_FEATURES, *(f"slot{k}.{f}" for k in range(n_slots) for f in ENTITY_FEATURES)]
