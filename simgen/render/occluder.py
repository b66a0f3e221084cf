"""An occluder: a tall panel that slides across the view between the camera and the object, so
that for a few frames the object is hidden. The occluded violation design (simgen/run/variants.py)
splices two renders at a frame where it hides the object in both, as IntPhys does.

The panel stands at a fraction of the way from the camera to the object (at the switch frame),
faces the camera, is taller than the view, and moves along the image's horizontal axis at a
constant speed, centred on the object's line of sight at the switch frame. Its width is the
object's bounding-sphere diameter as seen at that depth plus the distance the panel travels in
``hides`` frames, so it covers the whole sphere (any orientation of the object) for that long.
Whether it hides the object, frame by frame, is measured on the rendered pixels.
"""

from __future__ import annotations

import colorsys
import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simgen.physics.trajectory import BodyFrame, Trajectory

if TYPE_CHECKING:
    from simgen.physics.world import World
    from simgen.render.renderer import Camera

OCCLUDER = "occluder"


@dataclass(frozen=True)
class OccluderPlan:
    """What a group draws for its occluder (``violations.occluder_*`` in the spec, plus a side and a colour)."""

    hides: float  # frames the panel covers the object's whole bounding sphere
    speed: float  # image widths per second
    depth: float  # fraction of the way from the camera to the object
    direction: int  # +1: moves to the image's right, -1: to its left
    hue: float

    @staticmethod
    def draw(rng: np.random.Generator) -> dict[str, Any]:
        """What a group draws beside the spec's ``occluder_*`` distributions: the side and the colour."""
        return {"occluder_direction": 1 if rng.uniform() < 0.5 else -1, "occluder_hue": float(rng.uniform())}

    @classmethod
    def of(cls, violation: dict[str, Any]) -> OccluderPlan:
        """The plan a group's drawn ``violation`` (its params) records."""
        return cls(violation["occluder_hides"], violation["occluder_speed"], violation["occluder_depth"],
                   violation["occluder_direction"], violation["occluder_hue"])


def camera_axes(camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The camera's forward, right (the image's x) and up (the image's -y) unit vectors."""
    forward = np.subtract(camera.target, camera.eye)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, camera.up)
    right /= np.linalg.norm(right)
    return forward, right, np.cross(right, forward)


def matrix_quaternion(m: np.ndarray) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of the rotation matrix ``m`` (columns: the body's axes in the world)."""
    w = math.sqrt(max(0.0, 1 + m[0, 0] + m[1, 1] + m[2, 2])) / 2
    x = math.copysign(math.sqrt(max(0.0, 1 + m[0, 0] - m[1, 1] - m[2, 2])) / 2, m[2, 1] - m[1, 2])
    y = math.copysign(math.sqrt(max(0.0, 1 - m[0, 0] + m[1, 1] - m[2, 2])) / 2, m[0, 2] - m[2, 0])
    z = math.copysign(math.sqrt(max(0.0, 1 - m[0, 0] - m[1, 1] + m[2, 2])) / 2, m[1, 0] - m[0, 1])
    return (x, y, z, w)


def add_occluder(world: World, trajectories: list[Trajectory], camera: Camera, body: str, radius: float, k: int,
                 plan: OccluderPlan) -> list[Trajectory]:
    """Each trajectory with the occluder added (one panel in ``world``, the same poses in all of them),
    centred at frame ``k`` on the line of sight to ``body`` in the first trajectory. ``radius``: the
    body's bounding-sphere radius (m)."""
    forward, right, up = camera_axes(camera)
    eye = np.asarray(camera.eye, float)
    seen = np.asarray(trajectories[0].frames[k].bodies[body].position, float) - eye
    depth_object = float(seen @ forward)
    depth = plan.depth * depth_object
    half_view_height = depth * math.tan(math.radians(camera.fov_deg) / 2)
    half_view_width = half_view_height * camera.width / camera.height
    speed = plan.speed * 2 * half_view_width  # m/s in the panel's plane
    frame_s = trajectories[0].frames[1].t - trajectories[0].frames[0].t
    # Half-width at the panel's depth: the bounding sphere, scaled to that depth, plus half the travel.
    half_width = radius * depth / depth_object + speed * plan.hides * frame_s / 2
    centre_k = eye + depth * forward + (depth / depth_object) * ((seen @ right) * right + (seen @ up) * up)
    velocity = plan.direction * speed * right
    half_extents = (0.01, half_width, 2.0 * half_view_height)  # thin, and taller than the view
    orientation = matrix_quaternion(np.column_stack([forward, -right, up]))  # a right-handed frame
    rgba = (*colorsys.hsv_to_rgb(plan.hue, 0.35, 0.75), 1.0)
    panel = world.add_panel(half_extents, rgba=rgba, position=tuple(centre_k), orientation=orientation)
    t_k = trajectories[0].frames[k].t
    states = [BodyFrame(tuple(float(x) for x in centre_k + velocity * (frame.t - t_k)), orientation,
                        tuple(float(v) for v in velocity), (0.0, 0.0, 0.0))
              for frame in trajectories[0].frames]
    return [dataclasses.replace(
        trajectory, body_ids={**trajectory.body_ids, OCCLUDER: panel},
        frames=[dataclasses.replace(frame, bodies={**frame.bodies, OCCLUDER: state})
                for frame, state in zip(trajectory.frames, states, strict=True)])
        for trajectory in trajectories]


def hidden_switch(a: np.ndarray, b: np.ndarray, k: int) -> tuple[int, int]:
    """The switch and onset frames of two renders ``a`` and ``b`` (T, H, W, 3) that differ only in the
    object: the frame nearest ``k`` at which they are identical (the object hidden in both) and after
    which they differ again within the clip, and the first such frame (the reveal). The switch is
    at least frame 1, so the splices share a first frame. ValueError when no frame qualifies."""
    same = np.array([np.array_equal(x, y) for x, y in zip(a, b, strict=True)])
    differs_later = np.flip(np.logical_or.accumulate(np.flip(~same)))  # some frame from here on differs
    candidates = [i for i in range(1, len(a) - 1) if same[i] and differs_later[i + 1]]
    if not candidates:
        raise ValueError("the occluder never hides the object before a frame that shows it again: change "
                         "violations.occluder_hides, or move violations.at")
    switch = min(candidates, key=lambda i: (abs(i - k), i))
    onset = switch + 1 + int(np.flatnonzero(~same[switch + 1:])[0])
    return switch, onset
