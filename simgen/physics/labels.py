"""A clip's ground truth as JSON data: what its ``<clip_id>.json`` holds (contract in the README)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from simgen.physics.trajectory import Clip, Frame

if TYPE_CHECKING:
    from simgen.render.renderer import Camera


def physics_settings(params: dict[str, Any]) -> dict[str, Any]:
    keys = ("gravity", "linear_damping", "angular_damping")
    return {k: params[k] for k in keys if k in params}


def clip_labels(clip_id: str, clip: Clip, common: dict[str, Any]) -> dict[str, Any]:
    return {"clip_id": clip_id, "variant": clip.variant, **common, "targets": clip.targets,
            "frames": clip.states, "events": clip.events}


def frame_record(frame: Frame, camera: Camera) -> dict[str, Any]:
    """A frame's states as JSON data, with pixel positions of every body and light."""
    names = list(frame.bodies)
    lights = frame.lights
    points = [frame.bodies[n].position for n in names] + [v["position"] for v in lights.values()]
    xy = camera.project(np.asarray(points)) if points else np.empty((0, 2))
    bodies = {}
    for i, name in enumerate(names):
        b = frame.bodies[name]
        bodies[name] = {"position": list(b.position), "orientation": list(b.orientation),
                        "linear_velocity": list(b.linear_velocity), "angular_velocity": list(b.angular_velocity),
                        "image_xy": _xy(xy[i])}
        if not b.visible:
            bodies[name]["visible"] = False
    light_records = {name: {**light, "position": list(light["position"]), "image_xy": _xy(xy[len(names) + j])}
                     for j, (name, light) in enumerate(lights.items())}
    record: dict[str, Any] = {"t": frame.t, "bodies": bodies}
    if light_records:
        record["lights"] = light_records
    return record


def _xy(v: np.ndarray) -> list[float] | None:
    return None if np.isnan(v).any() else [float(v[0]), float(v[1])]
