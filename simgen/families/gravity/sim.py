"""Gravity, simulated: the with-gravity fall and the against-gravity rise, each in PyBullet, and
their time reversals (see params.py for the design).

One trajectory of 2T frames is rendered per group, so all four clips share the camera: frames
0..T-1 are the fall under gravity -g, frames T..2T-1 the rise in the same world emptied
(``World.reset``) and refilled with gravity +g, started from the fall's first state mirrored in z
about the aim height H. ``make_clips`` cuts it in two and adds each half's exact time reversal.
"""

from __future__ import annotations

import colorsys
import dataclasses
import math
from typing import Any

import numpy as np

from simgen.families.base import Simulation
from simgen.families.gravity.params import backdrop_rgb
from simgen.physics import violations
from simgen.physics.shapes import half_height
from simgen.physics.time_reversal import speed_mid, time_reverse
from simgen.physics.trajectory import Clip, Trajectory
from simgen.physics.world import World
from simgen.spec.models import SceneSpec


def aim_frame(aim: float, frames: int) -> int:
    """The frame whose position the camera aims at: uniform over the frames when ``aim`` is uniform in [0, 1]."""
    return min(int(math.floor(aim * frames)), frames - 1)


def start_height(params: dict[str, Any], frames: int, steps_per_frame: int, timestep: float) -> float:
    """The with-gravity fall's first height, so that it is at ``aim_height`` at the aim frame.

    PyBullet integrates semi-implicitly (v += a·dt, then z += v·dt), so after n steps from (z0, v0)
    under acceleration a: z_n = z0 + v0·n·dt + a·dt²·n(n+1)/2 (tests/simgen/test_gravity.py checks it)."""
    n = aim_frame(params["aim"], frames) * steps_per_frame
    v0, a = -params["speed_start"], -params["gravity"]
    return params["aim_height"] - (v0 * n * timestep + a * timestep**2 * n * (n + 1) / 2)


class Gravity(Simulation):
    def simulate(self, spec: SceneSpec, params: dict[str, Any], world: World) -> Trajectory:
        render = spec.render
        duration = (render.frames - 1) / render.fps
        g, h = params["gravity"], params["aim_height"]
        z0 = start_height(params, render.frames, render.steps_per_frame, render.timestep)
        heading = math.radians(params["drift_heading"])
        drift = params["drift_speed"] * np.array([math.cos(heading), math.sin(heading)])
        x0, y0 = -drift * duration / 2  # centre the drift on the camera's aim
        spin = np.asarray(params["spin_axis"]) * params["spin"]

        # With gravity: the world as built (gravity -g along z), falling from z0 at speed_start.
        body = self._add_object(world, params, (x0, y0, z0))
        world.set_velocity(body, (drift[0], drift[1], -params["speed_start"]), spin)
        with_g = world.record(body, "object", render.frames, render.steps_per_frame, render.fps)
        # Against gravity: the same world emptied, gravity +g, the first state mirrored in z about h.
        world.reset()
        world.set_gravity((0.0, 0.0, g))
        body = self._add_object(world, params, (x0, y0, 2 * h - z0))
        world.set_velocity(body, (drift[0], drift[1], params["speed_start"]), spin)
        against_g = world.record(body, "object", render.frames, render.steps_per_frame, render.fps)
        if world.contact_count() != 0:
            raise RuntimeError("gravity: the object touched something; the world should hold it alone")

        targets = clip_targets([{"t": f.t, "bodies": {"object": {"linear_velocity": f.bodies["object"].linear_velocity}}}
                                for f in with_g], physical=True)
        return Trajectory(with_g + against_g, {"object": body}, targets, focus=(0.0, 0.0, h),
                          background=backdrop_rgb(params))

    @staticmethod
    def _add_object(world: World, params: dict[str, Any], position) -> int:
        texture = None if params["texture"] == "none" else params["texture"]
        return world.add_body(params["shape"], params["size"], mass=params["mass"], position=position,
                              orientation=params["orientation"], texture=texture,
                              rgba=(*colorsys.hsv_to_rgb(params["hue"], params["saturation"], params["value"]), 1.0),
                              linear_damping=params["linear_damping"], angular_damping=params["angular_damping"])

    def occluded_pair(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                      params: dict[str, Any]) -> tuple[Trajectory, Trajectory, str, float]:
        """gravity_change: A is the with-gravity fall (the group's first clip); B is the free flight under
        ``speed_factor`` times A's acceleration (a fall where gravity is weaker: possible on its own) that
        has A's height and velocity half a frame before the frame the occluder is centred on. The splices,
        cut behind the panel, keep the height and the speed (to ½·Δa·(half a frame)², about a millimetre)
        and change the acceleration. Meeting between frames, no frame of A and B coincides, so the states
        differ from whichever switch frame the pixels allow."""
        if kind != "gravity_change":
            raise ValueError(f"gravity cannot render occluded violation {kind!r}")
        n = spec.render.frames
        fall = dataclasses.replace(trajectory, frames=trajectory.frames[:n])
        k = violations.violation_frame(violation["at"], n)
        other = violations.vertical_acceleration_change(fall, "object", violations.meeting_time(fall, k),
                                                         violation["speed_factor"])
        return fall, other, "object", half_height(params["shape"], params["size"])

    def make_clips(self, trajectory: Trajectory, frames: np.ndarray, states: list[dict[str, Any]]) -> list[Clip]:
        n = len(states) // 2
        clips = []
        for (forward, backward), physical, part in ((("down_with_g", "up_with_g"), True, slice(0, n)),
                                                     (("up_against_g", "down_against_g"), False, slice(n, 2 * n))):
            clip_states, clip_frames = states[part], frames[part]
            targets = clip_targets(clip_states, physical)
            reversed_states = time_reverse(clip_states)
            reversed_targets = {**targets, "direction": "up" if targets["direction"] == "down" else "down",
                                "vz_start": -targets["vz_end"], "vz_end": -targets["vz_start"],
                                "speed_mid": speed_mid(vz_series(reversed_states))}
            clips += [Clip(forward, clip_frames, clip_states, targets, []),
                      Clip(backward, clip_frames[::-1], reversed_states, reversed_targets, [])]
        return clips


def vz_series(states: list[dict[str, Any]]) -> list[float]:
    return [s["bodies"]["object"]["linear_velocity"][2] for s in states]


def clip_targets(states: list[dict[str, Any]], physical: bool) -> dict[str, Any]:
    """A clip's targets from its own states (``physical`` is how it was simulated)."""
    vz = np.array(vz_series(states))
    t = np.array([s["t"] for s in states])
    accel = float(np.polyfit(t, vz, 1)[0]) if len(t) > 1 else float("nan")
    return {"physical": "true" if physical else "false", "direction": "down" if vz.mean() < 0 else "up",
            "accel_z": accel, "vz_start": float(vz[0]), "vz_end": float(vz[-1]), "speed_mid": speed_mid(vz)}
