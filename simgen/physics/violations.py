"""Edits that break physics from a known frame on, for a family's ``violate`` (the impossible
twin of simgen/run/variants.py's :class:`~simgen.run.variants.ViolationTwins`).

A violation is an edit of a simulated trajectory's recorded states from frame ``k`` on; frames
before ``k`` are untouched, so the twins share their first ``k`` frames exactly. Ballistic edits
(gravity reversal, passing through the floor) are exact closed-form continuations of the state
at ``k``, so the impossible clip is smooth everywhere except for the law it breaks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from simgen.physics.trajectory import BodyFrame, Trajectory


def violation_frame(at: float, frames: int) -> int:
    """Frame index for a fraction of the clip: at least 1, so the twins share a first frame."""
    return int(min(max(round(at * (frames - 1)), 1), frames - 1))


def edit_body(trajectory: Trajectory, body: str, k: int, edit: Callable[[int, BodyFrame], BodyFrame]) -> Trajectory:
    """A copy of ``trajectory`` whose ``body`` state at frames ≥ k is ``edit(i, state)``."""
    frames = list(trajectory.frames[:k])
    for i, frame in enumerate(trajectory.frames[k:], start=k):
        bodies = dict(frame.bodies)
        bodies[body] = edit(i, frame.bodies[body])
        frames.append(dataclasses.replace(frame, bodies=bodies))
    events = [e for e in trajectory.events if e.get("frame", 0) < k]
    return dataclasses.replace(trajectory, frames=frames, events=events)


def teleport(trajectory: Trajectory, body: str, k: int, offset) -> Trajectory:
    offset = np.asarray(offset, float)
    return edit_body(trajectory, body, k, lambda _, s: dataclasses.replace(
        s, position=tuple(float(x) for x in np.asarray(s.position) + offset)))


def vanish(trajectory: Trajectory, body: str, k: int) -> Trajectory:
    return edit_body(trajectory, body, k, lambda _, s: dataclasses.replace(s, visible=False))


def ballistic(trajectory: Trajectory, body: str, k: int, acceleration) -> Trajectory:
    """From frame k on, ``body`` flies freely with constant ``acceleration`` (m/s²) and spin."""
    a = np.asarray(acceleration, float)
    start = trajectory.frames[k - 1].bodies[body]
    t0 = trajectory.frames[k - 1].t
    p0, v0, w = (np.asarray(x, float) for x in (start.position, start.linear_velocity, start.angular_velocity))

    def edit(i: int, s: BodyFrame) -> BodyFrame:
        dt = trajectory.frames[i].t - t0
        return dataclasses.replace(
            s, position=tuple(float(x) for x in p0 + v0 * dt + 0.5 * a * dt**2),
            linear_velocity=tuple(float(x) for x in v0 + a * dt),
            angular_velocity=tuple(float(x) for x in w),
            orientation=rotate(start.orientation, w, dt))

    return edit_body(trajectory, body, k, edit)


def rotate(q: tuple[float, ...], omega: np.ndarray, dt: float) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) after spinning at world angular velocity ``omega`` for ``dt`` s."""
    angle = float(np.linalg.norm(omega)) * dt
    if angle == 0:
        return tuple(float(x) for x in q)
    axis = np.asarray(omega, float) / np.linalg.norm(omega)
    dq = np.r_[axis * np.sin(angle / 2), np.cos(angle / 2)]
    x1, y1, z1, w1 = dq
    x2, y2, z2, w2 = q
    out = (w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2, w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
           w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2, w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2)
    return tuple(float(x) for x in out)


def edit_light(trajectory: Trajectory, light: str, body: str | None, k: int,
               position: Callable[[int, np.ndarray], np.ndarray]) -> Trajectory:
    """Move a light (its label entry and, if drawn as a body, the body) to ``position(i, p)`` at frames ≥ k."""
    frames = list(trajectory.frames[:k])
    for i, frame in enumerate(trajectory.frames[k:], start=k):
        new_pos = tuple(float(x) for x in position(i, np.asarray(frame.lights[light]["position"], float)))
        lights = {**frame.lights, light: {**frame.lights[light], "position": list(new_pos)}}
        bodies = dict(frame.bodies)
        if body is not None:
            bodies[body] = dataclasses.replace(frame.bodies[body], position=new_pos)
        frames.append(dataclasses.replace(frame, bodies=bodies, lights=lights))
    return dataclasses.replace(trajectory, frames=frames)




def meeting_time(trajectory: Trajectory, k: int) -> float:
    """Halfway between frames k − 1 and k: where an occluded pair's two flights meet, so that no frame of
    them coincides and their states differ from any switch frame on (the splice is never a no-op)."""
    return (trajectory.frames[k - 1].t + trajectory.frames[k].t) / 2


def vertical_acceleration_change(trajectory: Trajectory, body: str, t_meet: float, factor: float) -> Trajectory:
    """``body``'s free flight with its vertical acceleration scaled by ``factor``, passing through its
    height and vertical velocity at time ``t_meet``, at every frame (its horizontal motion and spin
    unchanged).

    The recorded heights of a free flight are exactly quadratic in time (PyBullet's semi-implicit
    steps), so a least-squares quadratic gives the flight's height, velocity and acceleration at any
    time; the new flight is the quadratic that shares the first two and has ``factor`` times the third."""
    t = np.array([f.t for f in trajectory.frames])
    z = np.array([f.bodies[body].position[2] for f in trajectory.frames])
    c2, c1, c0 = np.polyfit(t, z, 2)
    height, velocity, acceleration = c0 + c1 * t_meet + c2 * t_meet**2, c1 + 2 * c2 * t_meet, 2 * c2 * factor

    def edit(i: int, s: BodyFrame) -> BodyFrame:
        dt = t[i] - t_meet
        x, y, _ = s.position
        vx, vy, _ = s.linear_velocity
        return dataclasses.replace(s, position=(x, y, float(height + velocity * dt + 0.5 * acceleration * dt**2)),
                                   linear_velocity=(vx, vy, float(velocity + acceleration * dt)))

    return edit_body(trajectory, body, 0, edit)


def horizontal_speed_change(trajectory: Trajectory, body: str, t_meet: float, factor: float) -> Trajectory:
    """``body``'s motion along the floor at constant acceleration, passing through its position at time
    ``t_meet`` with ``factor`` times its velocity there and the same acceleration, at every frame (its
    height and orientation unchanged): a slide under the same friction, started faster or slower.

    Position, velocity and acceleration come from a least-squares quadratic in time per horizontal axis
    (a slide under Coulomb friction decelerates at a constant μ·g)."""
    t = np.array([f.t for f in trajectory.frames])
    xy = np.array([f.bodies[body].position[:2] for f in trajectory.frames])
    c2, c1, c0 = np.polyfit(t, xy, 2)
    start = c0 + c1 * t_meet + c2 * t_meet**2
    velocity, acceleration = factor * (c1 + 2 * c2 * t_meet), 2 * c2

    def edit(i: int, s: BodyFrame) -> BodyFrame:
        dt = t[i] - t_meet
        x, y = start + velocity * dt + 0.5 * acceleration * dt**2
        vx, vy = velocity + acceleration * dt
        return dataclasses.replace(s, position=(float(x), float(y), s.position[2]),
                                   linear_velocity=(float(vx), float(vy), s.linear_velocity[2]))

    return edit_body(trajectory, body, 0, edit)


def at_rest(trajectory: Trajectory, body: str, k: int) -> Trajectory:
    """``body`` at rest at every frame, halfway between its positions at frames k − 1 and k (where a
    uniform motion is at :func:`meeting_time`, so no frame of the two coincides), in its orientation at k."""
    before, after = trajectory.frames[k - 1].bodies[body], trajectory.frames[k].bodies[body]
    rest = dataclasses.replace(after, position=tuple(float(x) for x in (np.add(before.position, after.position) / 2)),
                               linear_velocity=(0.0, 0.0, 0.0), angular_velocity=(0.0, 0.0, 0.0))
    return edit_body(trajectory, body, 0, lambda _, s: rest)
