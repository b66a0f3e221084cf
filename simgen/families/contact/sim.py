"""Contact, simulated: the ball rolls, the camera films until the cut, the world runs on unfilmed.

One World per clip: the visible frames are recorded every ``steps_per_frame`` physics steps up to the
last frame (the cut), then the same world keeps stepping for ``params.horizon`` s without recording
frames. Every step, the ball-cube contact points are read: the first step with one gives
``time_to_contact`` (from the last visible frame) and ``contact_offset``; any before the cut raises
(the spec's ranges must keep time_to_face_plane after the cut; tests check it). The collision events (simgen/physics/events.py) of the whole
run, past the cut included, go into the clip's labels.

The ball is launched rolling without slipping (ω = ẑ × v / r) on a floor with no rolling resistance and
no damping: its speed stays constant (tests check it against the closed form), so an aimed ball never
stops short. The cube is static (mass 0): a hit does not move it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simgen.families.base import Simulation
from simgen.families.contact import geometry, violations
from simgen.families.contact.params import ball_rgb, floor_rgb, target_rgb
from simgen.physics.events import ContactAccumulator
from simgen.physics.trajectory import BodyFrame, Frame, Trajectory
from simgen.physics.world import World
from simgen.spec.models import SceneSpec

BALL_MASS = 1.0  # kg; nothing the clip shows or the targets measure depends on it
IDENTITY = (0.0, 0.0, 0.0, 1.0)


class Contact(Simulation):
    def simulate(self, spec: SceneSpec, params: dict[str, Any], world: World) -> Trajectory:
        render = spec.render
        size, radius = params["target_size"], params["radius"]
        plan = roll_plan(spec, params)
        friction = params["lateral_friction"]
        world.add_floor((*floor_rgb(params), 1.0), lateral_friction=friction)
        target = world.add_body("box", size, mass=0.0, position=(0.0, 0.0, size), rgba=(*target_rgb(params), 1.0),
                                lateral_friction=friction)
        ball = world.add_body("sphere", radius, mass=BALL_MASS, position=(*plan.start, radius),
                              orientation=params.get("orientation", IDENTITY), rgba=(*ball_rgb(params), 1.0),
                              texture="checker", lateral_friction=friction)
        vx, vy = plan.velocity
        world.set_velocity(ball, (vx, vy, 0.0), (-vy / radius, vx / radius, 0.0))  # rolling: ω = ẑ × v / r
        bodies = {"ball": ball, "target": target}

        acc = ContactAccumulator(world, bodies, gravity=params["gravity"], fps=render.fps)
        visible_steps = (render.frames - 1) * render.steps_per_frame
        total_steps = visible_steps + int(round(params["horizon"] / world.timestep))
        frames = [_frame(world, bodies, 0.0)]
        touch: tuple[int, np.ndarray] | None = None
        for step in range(1, total_steps + 1):
            acc.step(1)
            if touch is None:
                point = _touch(world, ball, target)
                if point is not None:
                    touch = (step, point)
            if step <= visible_steps and step % render.steps_per_frame == 0:
                frames.append(_frame(world, bodies, step / render.steps_per_frame / render.fps))
        events = acc.finish()
        if touch is not None and touch[0] <= visible_steps:
            raise RuntimeError(f"contact: the ball touched the cube at step {touch[0]}, before the cut "
                               f"(step {visible_steps}); the plan forbids it")
        touched = None if touch is None else ((touch[0] - visible_steps) * world.timestep, touch[1])
        return Trajectory(frames, bodies, contact_targets(plan, size, radius, touched), focus=camera_focus(spec),
                          events=[e.to_dict() for e in events])

    def closed_form(self, spec: SceneSpec, params: dict[str, Any]) -> Trajectory:
        """The straight roll at constant speed, turning as it rolls without slipping, and the targets from
        ``geometry.first_contact``: what ``simulate`` records, within the bounds the tests check (positions
        within 2 mm, the same outcome, the contact's time within -1/2 to +2 physics steps and place within
        1 cm). No events."""
        render = spec.render
        size, radius = params["target_size"], params["radius"]
        plan = roll_plan(spec, params)
        vx, vy = plan.velocity
        spin = np.array([-vy / radius, vx / radius, 0.0])  # rolling: ω = ẑ × v / r
        q0 = params.get("orientation", IDENTITY)
        target = BodyFrame((0.0, 0.0, size), IDENTITY, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
        frames = []
        for k in range(render.frames):
            t = k / render.fps
            x, y = plan.start + plan.velocity * t
            ball = BodyFrame((float(x), float(y), radius), rotate(q0, spin * t), (float(vx), float(vy), 0.0),
                             tuple(float(w) for w in spin))
            frames.append(Frame(t=t, bodies={"ball": ball, "target": target}))
        cut = (render.frames - 1) / render.fps
        hit = geometry.first_contact(plan.start, plan.velocity, size, radius)
        touched = None
        if hit is not None and hit <= cut + params["horizon"]:
            touched = (hit - cut, geometry.contact_point(plan.start, plan.velocity, size, radius, hit))
        return Trajectory(frames, {"ball": -1, "target": -1}, contact_targets(plan, size, radius, touched),
                          focus=camera_focus(spec))

    def occluded_pair(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                      params: dict[str, Any]) -> tuple[Trajectory, Trajectory, str, float]:
        """The occluded violation hook: simgen/families/contact/violations.py."""
        return violations.occluded_pair(kind, trajectory, violation, spec, params)


def roll_plan(spec: SceneSpec, params: dict[str, Any]) -> geometry.Plan:
    """The clip's straight roll, from its drawn outcome, margin and geometry."""
    duration = (spec.render.frames - 1) / spec.render.fps  # the last visible frame: the cut
    clearance = params["margin"] if params["outcome"] == "miss" else -params["margin"]
    return geometry.plan_roll(params["target_size"], params["radius"], clearance, params["distance_mid"],
                              params["bearing"], params["speed"], duration)


def contact_targets(plan: geometry.Plan, size: float, radius: float,
                    touched: tuple[float, np.ndarray] | None) -> dict[str, Any]:
    """The clip's targets; ``touched``: (time from the cut, the point on the cube) of the first contact."""
    return {
        "will_contact": "true" if touched is not None else "false",
        # Placeholders where undefined (defined_when will_contact true): never scored.
        "time_to_contact": touched[0] if touched else 0.0,
        "contact_offset": float(touched[1][1] + size) if touched else 0.0,
        "clearance": geometry.path_clearance(plan.start, plan.velocity, size, radius),
        "speed": float(np.linalg.norm(plan.velocity)),
    }


def rotate(q: tuple[float, ...], rotation_vector: np.ndarray) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) ``q`` turned, in the world frame, by ``rotation_vector`` (axis × angle, rad)."""
    angle = float(np.linalg.norm(rotation_vector))
    if angle == 0.0:
        return tuple(float(c) for c in q)
    ax, ay, az = np.asarray(rotation_vector) / angle * math.sin(angle / 2)
    aw = math.cos(angle / 2)
    bx, by, bz, bw = q
    return (float(aw * bx + ax * bw + ay * bz - az * by), float(aw * by - ax * bz + ay * bw + az * bx),
            float(aw * bz + ax * by - ay * bx + az * bw), float(aw * bw - ax * bx - ay * by - az * bz))


def _frame(world: World, bodies: dict[str, int], t: float) -> Frame:
    out = {}
    for name, bid in bodies.items():
        s = world.state(bid)
        out[name] = BodyFrame(s.position, s.orientation, s.linear_velocity, s.angular_velocity)
    return Frame(t=t, bodies=out)


def _touch(world: World, ball: int, target: int) -> np.ndarray | None:
    """Where the ball touches the cube after the last step (the point on the cube), or None. A contact is a
    manifold point at zero or negative distance, or one carrying a normal force."""
    for c in world.contact_points():
        if {c.body_a, c.body_b} == {ball, target} and (c.distance <= 0 or c.normal_force > 0):
            return np.asarray(c.position_on_b if c.body_b == target else c.position_on_a)
    return None


def camera_focus(spec: SceneSpec) -> tuple[float, float, float]:
    """Where the camera looks, the same for every clip of a spec (aimed at each clip's own layout, the
    framing would tell one frame about it): the middle, along x, of the span from the ball's first-frame
    position to the cube's far face, for the middle of every range; along y, halfway between the ball's
    middle-frame position and the cube's centre."""
    p = spec.params

    def mid(dist) -> float:
        lo, hi = dist.support()
        return (lo + hi) / 2

    size, rho, beta = mid(p.target_size), mid(p.distance_mid), math.radians(mid(p.bearing))
    ball = geometry.corner(size) + rho * np.array([-math.cos(beta), math.sin(beta)])
    first_x = ball[0] - mid(p.speed) * (spec.render.frames - 1) / spec.render.fps / 2
    return (float((first_x + size) / 2), float(ball[1] / 2), float(size / 2))
