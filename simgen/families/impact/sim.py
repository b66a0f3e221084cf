"""Impact, simulated: the approach, the impact and the rebound, with measured impulses.

Mass is visible through a documented material palette (declared in params.py, without PyBullet):
the colour's hue encodes density (:func:`density_rgba`), and the size is visible, so mass = density ×
volume can be read from the video. Restitution is *measured* from the simulated first impact
(relative normal velocity after / before): PyBullet's effective restitution differs from the
coefficient set and varies from impact to impact with where in the step the contact was detected.

Impulses come from :class:`simgen.physics.events.ContactAccumulator`, which aggregates PyBullet's
per-step contacts into collision events; every event is written to the clip json.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from simgen.families.base import Simulation
from simgen.physics import violations
from simgen.physics.events import ContactAccumulator
from simgen.physics.materials import density_rgba, floor_rgba, volume
from simgen.physics.shapes import half_height
from simgen.physics.trajectory import BodyFrame, Frame, Trajectory
from simgen.physics.world import World
from simgen.spec.models import SceneSpec


class Impact(Simulation):
    def simulate(self, spec: SceneSpec, params: dict[str, Any], world: World,
                 intervene: tuple[int, Callable[[World, dict[str, int]], None]] | None = None) -> Trajectory:
        """Simulate a clip; ``intervene = (k, fn)`` calls ``fn(world, bodies)`` right after frame k-1
        is recorded, so frames before k are those of the undisturbed clip (a violation)."""
        render = spec.render
        g = params["gravity"]
        shape, size = params["shape"], params["size"]
        orientation = _tilt(params["tilt_axis"], params["tilt"]) if shape == "box" else (0.0, 0.0, 0.0, 1.0)
        lowest = size if shape == "sphere" else size * float(np.abs(_rot(orientation)[2]).sum())

        floor = world.add_floor(floor_rgba(params["floor_value"]), restitution=1.0, lateral_friction=params["lateral_friction"])
        bodies: dict[str, int] = {}
        impact_xy = np.zeros(2)
        surface_z = 0.0
        if params["surface"] == "object":
            ts = params["target_size"]
            surface_z = 2 * ts
            centre = impact_xy - np.asarray(params["target_offset_dir"]) * params["target_offset"] * ts
            # Restitution 1, so the pair's restitution (PyBullet multiplies the two) is the object's.
            target = world.add_body("box", ts, mass=params["target_mass"], position=(*centre, ts),
                                    rgba=density_rgba(params["target_mass"] / volume("box", ts)),
                                    restitution=1.0, lateral_friction=params["lateral_friction"])

        # Ballistic time to reach the surface fixes where the throw starts so it lands at impact_xy.
        h, vz = params["height"], params["vz_start"]
        t_hit = (vz + math.sqrt(vz * vz + 2 * g * h)) / g
        heading = math.radians(params["heading"])
        v_xy = params["horizontal_speed"] * np.array([math.cos(heading), math.sin(heading)])
        start = (*(impact_xy - v_xy * t_hit), surface_z + lowest + h)
        obj = world.add_body(shape, size, mass=params["mass"], position=start, orientation=orientation,
                             rgba=density_rgba(params["mass"] / volume(shape, size)),
                             restitution=params["restitution"], lateral_friction=params["lateral_friction"])
        world.set_velocity(obj, (v_xy[0], v_xy[1], vz))
        bodies["object"] = obj
        if params["surface"] == "object":
            bodies["target"] = target

        acc = ContactAccumulator(world, {**bodies, "floor": floor}, gravity=g, fps=render.fps)
        frames = []
        for i in range(render.frames):
            if intervene and i == intervene[0]:
                intervene[1](world, {**bodies, "floor": floor})
            if i:
                acc.step(render.steps_per_frame)
            frames.append(Frame(t=i / render.fps, bodies={name: _body_frame(world, bid)
                                                          for name, bid in bodies.items()}))
        events = acc.finish()
        first = next((e for e in events if "object" in e.bodies), None)
        if first is None and intervene:  # an impossible twin may never land
            return Trajectory(frames, bodies, {}, focus=(0.0, 0.0, 0.0), events=[e.to_dict() for e in events])
        if first is None:
            raise RuntimeError(f"impact: no impact within the clip (ballistic time to impact {t_hit:.2f} s, "
                               f"clip {(render.frames - 1) / render.fps:.2f} s); lower params.height or "
                               "raise render.frames")
        bounces = sum(1 for e in events if "object" in e.bodies and e.separation_speed > params["bounce_speed"])
        targets = {
            "impact_impulse": first.normal_impulse,
            "impact_speed": first.approach_speed,
            "peak_force": first.peak_normal_force,
            "restitution": max(first.restitution, 0.0),
            "n_bounces": bounces,
            "mass": float(params["mass"]),
            "impact_time": first.t_start,
            "surface": "floor" if "floor" in first.bodies else "object",
            "delta_v": first.normal_impulse / float(params["mass"]),
            "impulse_given_mass": first.normal_impulse,
        }
        return Trajectory(frames, bodies, targets, focus=camera_focus(spec), events=[e.to_dict() for e in events])


    def violate(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                params: dict[str, Any], world: World) -> tuple[Trajectory, int]:
        """Re-simulate with physics broken at frame k: the object passes through what it would hit,
        gravity flips before the impact, or it teleports sideways; or it vanishes.

        Re-simulating (rather than editing states) keeps everything after k physical: a teleported
        object still lands and bounces, with its collision events."""
        n = len(trajectory.frames)
        impact = min(max(math.ceil(trajectory.targets["impact_time"] * spec.render.fps - 1e-9), 1), n - 1)
        k = violations.violation_frame(violation["at"], n)
        if kind == "vanish":
            return violations.vanish(trajectory, "object", k), k
        if kind == "through_floor":
            k = impact  # the last frame before contact is k - 1: from then on nothing stops the object

            def intervention(w: World, bodies: dict[str, int]) -> None:
                for other in ("floor", "target"):
                    if other in bodies:
                        w.disable_collision(bodies["object"], bodies[other])
        elif kind == "gravity_reversal":
            k = min(k, impact)

            def intervention(w: World, bodies: dict[str, int]) -> None:
                w.set_gravity((0.0, 0.0, params["gravity"]))
        elif kind == "teleport":
            heading = math.radians(violation["heading"])
            offset = violation["distance"] * np.array([math.cos(heading), math.sin(heading), 0.0])

            def intervention(w: World, bodies: dict[str, int]) -> None:
                s = w.state(bodies["object"])
                w.set_pose(bodies["object"], tuple(np.asarray(s.position) + offset), s.orientation)
        else:
            raise ValueError(f"impact cannot render violation {kind!r}")
        world.reset()
        impossible = self.simulate(spec, params, world, intervene=(k, intervention))
        return dataclasses.replace(impossible, targets=trajectory.targets, focus=trajectory.focus), k

    def occluded_pair(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                      params: dict[str, Any]) -> tuple[Trajectory, Trajectory, str, float]:
        """Permanence: the drop with the object, and the same scene without it (the box it may land on
        stays). A hidden switch from one to the other takes the object's collisions with it."""
        if kind != "permanence":
            raise ValueError(f"impact cannot render occluded violation {kind!r}")
        return (trajectory, violations.vanish(trajectory, "object", 0), "object",
                half_height(params["shape"], params["size"]))


def _body_frame(world: World, body: int) -> BodyFrame:
    s = world.state(body)
    return BodyFrame(s.position, s.orientation, s.linear_velocity, s.angular_velocity)


def _tilt(axis: list[float], degrees: float) -> tuple[float, float, float, float]:
    half = math.radians(degrees) / 2
    return (axis[0] * math.sin(half), axis[1] * math.sin(half), axis[2] * math.sin(half), math.cos(half))


def _rot(q: tuple[float, float, float, float]) -> np.ndarray:
    x, y, z, w = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def camera_focus(spec: SceneSpec) -> tuple[float, float, float]:
    """Where the camera looks: a third of the way up the highest point any clip of the spec can reach, the same
    for every clip. Aimed at each clip's own trajectory, the framing told one frame the drop height
    and the impact speed (oracle-static read R² 0.21 on impact_speed from the camera alone)."""
    p = spec.params
    size, height, vz, target = (p.size.support()[1], p.height.support()[1], max(map(abs, p.vz_start.support())),
                                p.target_size.support()[1])
    g = p.gravity.support()[0]
    top = 2 * target + height + 2 * size + vz * vz / (2 * g)  # the box, the gap, the object, a throw's rise
    return (0.0, 0.0, top / 3)  # low: most frames show the object near the floor
