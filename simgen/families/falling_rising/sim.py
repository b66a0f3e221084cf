"""Falling vs rising: one object in free vertical flight, and its exact time reversal.

Each group simulates one falling clip (released from rest or thrown down, accelerating
down). Its ``rising`` twin is the same frames in reverse order with velocities negated: a
body thrown up and slowing under the same gravity. The two clips hold the same set of
frames, so no single frame and no frame average can tell them apart; only the order can.
"""

from __future__ import annotations

import colorsys
import math
from typing import Any, ClassVar, Literal

import numpy as np

from simgen import violations
from simgen.families import register
from simgen.families.base import BodyFrame, Clip, Family, Frame, TargetInfo, Trajectory
from simgen.spec import AnyDist, Params, SceneSpec, dist_field
from simgen.world import SHAPES, TEXTURES, World, half_height


class FallingRisingParams(Params):
    shape: AnyDist = dist_field({"choice": list(SHAPES)}, options=list(SHAPES))
    size: AnyDist = dist_field({"uniform": [0.15, 0.3]}, gt=0, le=2, unit="m",
                               description="radius, or half-extent of a box")
    mass: AnyDist = dist_field({"uniform": [0.2, 2.0]}, gt=0, unit="kg")
    hue: AnyDist = dist_field({"uniform": [0.0, 1.0]}, ge=0, le=1)
    saturation: AnyDist = dist_field({"uniform": [0.5, 1.0]}, ge=0, le=1)
    value: AnyDist = dist_field({"uniform": [0.6, 1.0]}, ge=0, le=1)
    texture: AnyDist = dist_field({"choice": ["none", "checker", "stripes"], "weights": [2, 1, 1]},
                                  options=["none", *TEXTURES])
    speed_start: AnyDist = dist_field({"uniform": [0.0, 1.5]}, ge=0, le=50, unit="m/s",
                                      description="downward speed at the falling clip's first frame; 0 = from rest")
    clearance_end: AnyDist = dist_field({"uniform": [0.15, 0.8]}, ge=0.01, unit="m",
                                        description="gap between the object and the floor at the lowest frame")
    drift_speed: AnyDist = dist_field({"uniform": [0.0, 0.3]}, ge=0, le=5, unit="m/s",
                                      description="constant horizontal velocity")
    drift_heading: AnyDist = dist_field({"uniform": [0.0, 360.0]}, unit="deg")
    spin: AnyDist = dist_field({"uniform": [0.0, 4.0]}, ge=0, le=50, unit="rad/s")
    gravity: AnyDist = dist_field(9.81, gt=0, le=100, unit="m/s^2")
    linear_damping: AnyDist = dist_field(0.0, ge=0, le=1, description="PyBullet linearDamping; 0 = no drag")
    angular_damping: AnyDist = dist_field(0.0, ge=0, le=1)
    floor_hue: AnyDist = dist_field({"uniform": [0.0, 1.0]}, ge=0, le=1)
    floor_value: AnyDist = dist_field({"uniform": [0.25, 0.6]}, ge=0, le=1)


class FallingRisingSpec(SceneSpec):
    family: Literal["falling_rising"]
    params: FallingRisingParams = FallingRisingParams()


@register
class FallingRising(Family):
    name = "falling_rising"
    description = "one object in free vertical flight; the rising clip is the falling clip's exact time reversal"
    spec_model = FallingRisingSpec
    variants = ("falling", "rising")
    violation_kinds = ("teleport", "vanish", "gravity_reversal")
    targets: ClassVar[dict[str, TargetInfo]] = {
        "direction": TargetInfo("class", "vertical direction of travel", classes=("falling", "rising")),
        "vz_start": TargetInfo("regression", "vertical velocity at the first frame (signed, z up)", "m/s"),
        "vz_end": TargetInfo("regression", "vertical velocity at the last frame (signed, z up)", "m/s"),
        "accel_z": TargetInfo("regression", "vertical acceleration, least-squares fit to recorded velocities",
                              "m/s^2"),
        "height_start": TargetInfo("regression", "height of the object's centre above the floor at the first frame",
                                   "m"),
    }

    def sample(self, spec: SceneSpec, rng: np.random.Generator) -> dict[str, Any]:
        params = spec.params.sample(rng)
        # A uniformly random orientation (normalised 4-D Gaussian).
        q = rng.normal(size=4)
        params["orientation"] = (q / np.linalg.norm(q)).tolist()
        axis = rng.normal(size=3)
        params["spin_axis"] = (axis / np.linalg.norm(axis)).tolist()
        return params

    def simulate(self, spec: SceneSpec, params: dict[str, Any], world: World) -> Trajectory:
        render = spec.render
        duration = (render.frames - 1) / render.fps
        g, v0 = params["gravity"], params["speed_start"]
        # Start high enough that the lowest frame keeps the requested clearance: no contact, ever.
        drop = v0 * duration + 0.5 * g * duration**2
        z0 = params["clearance_end"] + half_height(params["shape"], params["size"]) + drop
        heading = math.radians(params["drift_heading"])
        drift = params["drift_speed"] * np.array([math.cos(heading), math.sin(heading)])
        x0, y0 = -drift * duration / 2  # centre the drift on the camera's focus

        world.add_floor(_rgba(params["floor_hue"], 0.25, params["floor_value"]))
        texture = None if params["texture"] == "none" else params["texture"]
        body = world.add_body(params["shape"], params["size"], mass=params["mass"], position=(x0, y0, z0),
                              orientation=params["orientation"], texture=texture,
                              rgba=_rgba(params["hue"], params["saturation"], params["value"]),
                              linear_damping=params["linear_damping"], angular_damping=params["angular_damping"])
        world.set_velocity(body, (drift[0], drift[1], -v0), np.asarray(params["spin_axis"]) * params["spin"])

        frames = []
        for i in range(render.frames):
            if i:
                world.step(render.steps_per_frame)
            s = world.state(body)
            frames.append(Frame(t=i / render.fps, bodies={"object": BodyFrame(
                s.position, s.orientation, s.linear_velocity, s.angular_velocity)}))
        if world.contact_count() != 0:
            raise RuntimeError("falling_rising: the object touched the floor; the clearance rule is broken")

        z = np.array([f.bodies["object"].position[2] for f in frames])
        vz = np.array([f.bodies["object"].linear_velocity[2] for f in frames])
        t = np.array([f.t for f in frames])
        accel = float(np.polyfit(t, vz, 1)[0]) if len(t) > 1 else -g
        targets = {"direction": "falling", "vz_start": float(vz[0]), "vz_end": float(vz[-1]),
                   "accel_z": accel, "height_start": float(z[0])}
        return Trajectory(frames, {"object": body}, targets, focus=(0.0, 0.0, float((z.max() + z.min()) / 2)))

    def violate(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                params: dict[str, Any], world: World) -> tuple[Trajectory, int]:
        """The falling clip, broken at frame k: it jumps up, vanishes, or starts falling upward."""
        k = violations.violation_frame(violation["at"], len(trajectory.frames))
        if kind == "teleport":  # upward, so the object can never end up inside the floor
            return violations.teleport(trajectory, "object", k, (0.0, 0.0, violation["distance"])), k
        if kind == "vanish":
            return violations.vanish(trajectory, "object", k), k
        if kind == "gravity_reversal":  # the measured downward acceleration, flipped
            up = -trajectory.targets["accel_z"]
            return violations.ballistic(trajectory, "object", k, (0.0, 0.0, up)), k
        raise ValueError(f"falling_rising cannot render violation {kind!r}")

    def make_clips(self, trajectory: Trajectory, frames: np.ndarray, states: list[dict[str, Any]]) -> list[Clip]:
        falling = trajectory.targets
        rising = {"direction": "rising", "vz_start": -falling["vz_end"], "vz_end": -falling["vz_start"],
                  "accel_z": falling["accel_z"], "height_start": states[-1]["bodies"]["object"]["position"][2]}
        return [Clip("falling", frames, states, falling, []),
                Clip("rising", frames[::-1], time_reverse(states), rising, [])]


def time_reverse(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Frame states in reverse order, velocities negated, times kept ascending."""
    out = []
    for t_state, state in zip(states, reversed(states), strict=True):
        bodies = {name: {**b, "linear_velocity": [-v for v in b["linear_velocity"]],
                         "angular_velocity": [-v for v in b["angular_velocity"]]}
                  for name, b in state["bodies"].items()}
        out.append({**state, "t": t_state["t"], "bodies": bodies})
    return out


def _rgba(h: float, s: float, v: float) -> tuple[float, float, float, float]:
    return (*colorsys.hsv_to_rgb(h, s, v), 1.0)
