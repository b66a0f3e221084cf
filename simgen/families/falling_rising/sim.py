"""Falling vs rising, simulated: free vertical flight in PyBullet, and the rising twin.

The rising clip is the falling clip's frames in reverse order with velocities negated (see
params.py for why only the order tells them apart).
"""

from __future__ import annotations

import colorsys
import math
from typing import Any

import numpy as np

from simgen.families.base import Simulation
from simgen.physics import violations
from simgen.physics.shapes import half_height
from simgen.physics.time_reversal import speed_mid, time_reverse
from simgen.physics.trajectory import Clip, Trajectory
from simgen.physics.world import World
from simgen.spec.models import SceneSpec


class FallingRising(Simulation):
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

        frames = world.record(body, "object", render.frames, render.steps_per_frame, render.fps)
        if world.contact_count() != 0:
            raise RuntimeError("falling_rising: the object touched the floor; the clearance rule is broken")

        z = np.array([f.bodies["object"].position[2] for f in frames])
        vz = np.array([f.bodies["object"].linear_velocity[2] for f in frames])
        t = np.array([f.t for f in frames])
        accel = float(np.polyfit(t, vz, 1)[0]) if len(t) > 1 else -g
        targets = {"direction": "falling", "vz_start": float(vz[0]), "vz_end": float(vz[-1]),
                   "accel_z": accel, "height_start": float(z[0]), "speed_mid": speed_mid(vz)}
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

    def occluded_pair(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                      params: dict[str, Any]) -> tuple[Trajectory, Trajectory, str, float]:
        """Permanence: the fall with the object, and without it. Teleport: the same fall half the
        teleport distance lower and half higher (a free fall moved is a free fall), so the camera, aimed
        at the original's middle, frames both; the lower one must stay clear of the floor."""
        radius = half_height(params["shape"], params["size"])
        if kind == "permanence":
            return trajectory, violations.vanish(trajectory, "object", 0), "object", radius
        if kind == "teleport":
            half = violation["distance"] / 2
            lowest = min(f.bodies["object"].position[2] for f in trajectory.frames) - radius
            if lowest - half < 0.02:
                raise ValueError(f"falling_rising teleport: half the distance ({half:.2f} m) puts the object "
                                 f"into the floor; give params.clearance_end at least violations.distance / 2 "
                                 f"+ 0.02 m (the lowest clearance drawn here is {lowest:.2f} m)")
            return (violations.teleport(trajectory, "object", 0, (0.0, 0.0, -half)),
                    violations.teleport(trajectory, "object", 0, (0.0, 0.0, half)), "object", radius)
        raise ValueError(f"falling_rising cannot render occluded violation {kind!r}")

    def make_clips(self, trajectory: Trajectory, frames: np.ndarray, states: list[dict[str, Any]]) -> list[Clip]:
        falling = trajectory.targets
        reversed_states = time_reverse(states)
        # speed_mid is measured on the rising clip's own states: equal to the falling one's by symmetry.
        rising = {"direction": "rising", "vz_start": -falling["vz_end"], "vz_end": -falling["vz_start"],
                  "accel_z": falling["accel_z"], "height_start": states[-1]["bodies"]["object"]["position"][2],
                  "speed_mid": speed_mid([s["bodies"]["object"]["linear_velocity"][2] for s in reversed_states])}
        return [Clip("falling", frames, states, falling, []),
                Clip("rising", frames[::-1], reversed_states, rising, [])]


def _rgba(h: float, s: float, v: float) -> tuple[float, float, float, float]:
    return (*colorsys.hsv_to_rgb(h, s, v), 1.0)
