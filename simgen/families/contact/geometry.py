"""Contact's geometry in closed form (no PyBullet): where the ball starts, and when it would first touch
the cube if it kept rolling in a straight line at constant speed.

The plan is drawn in the floor plane. The cube (half-extent ``s``) stands at the origin; the ball's
centre rolls at height ``r`` (its radius), below the cube's top (``2s > r``), so the 3-D contact of
sphere and cube is the 2-D contact of the ball's centre with the cube's footprint grown by ``r``: a
rounded square (two rectangles and four discs of radius ``r`` at the corners).

The decisive **corner** is the cube's near-left vertical edge, ``(-s, -s)``: the ball comes from the
-x side (vx > 0) and either hits the -x face (or that corner) or passes in front of it (on the -y
side, nearer the camera). The **clearance** is the signed distance between the ball's straight path
and the cube: the perpendicular distance from the corner to the path, minus ``r``, signed > 0 when
the path passes on the -y side; the ball touches the cube if and only if clearance < 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Plan:
    """A straight roll: the ball's centre at time t (s from the first frame) is ``start + velocity * t``."""

    start: np.ndarray  # (2,) m, floor plane
    velocity: np.ndarray  # (2,) m/s
    heading: float  # rad, of the velocity from +x (< 0: towards -y)


def corner(size: float) -> np.ndarray:
    return np.array([-size, -size])


def plan_roll(size: float, radius: float, clearance: float, distance_mid: float, bearing_deg: float,
              speed: float, duration: float) -> Plan:
    """The roll that puts the ball, at the middle of the visible clip (t = duration / 2), at
    ``distance_mid`` from the corner, ``bearing_deg`` from the corner's -x direction towards +y, rolling
    at ``speed`` with the heading that makes its straight path pass at ``clearance`` from the cube.

    Position at the middle frame and speed are drawn without regard to the outcome; only the heading
    (which one frame does not show) depends on the clearance."""
    beta = math.radians(bearing_deg)
    mid = corner(size) + distance_mid * np.array([-math.cos(beta), math.sin(beta)])
    # Aimed at the corner the heading is -beta; turning clockwise by alpha leaves the corner at
    # distance_mid * sin(alpha) on the path's left (+y side): clearance + radius.
    alpha = math.asin((radius + clearance) / distance_mid)
    heading = -beta - alpha
    velocity = speed * np.array([math.cos(heading), math.sin(heading)])
    return Plan(mid - velocity * duration / 2, velocity, heading)


def time_to_face_plane(plan: Plan, size: float, radius: float) -> float:
    """When (s from the first frame) the ball's centre crosses the -x face's contact plane, x = -size -
    radius. Every contact is at or after it: reaching any part of the cube grown by the radius needs
    x ≥ -size - radius."""
    return float((-size - radius - plan.start[0]) / plan.velocity[0])


def path_clearance(start, velocity, size: float, radius: float) -> float:
    """Signed gap between the ball's straight path (the whole line, whichever way it is travelled) and
    the cube, for a line that meets the corner's neighbourhood from the -x side: the corner's distance
    from the line, minus the radius, > 0 when the line passes on the corner's -y side."""
    u = np.asarray(velocity, float) / np.linalg.norm(velocity)
    u = u if u[0] >= 0 else -u  # the line, not the direction: time reversal leaves it unchanged
    d = corner(size) - np.asarray(start, float)
    side = u[0] * d[1] - u[1] * d[0]  # > 0: the corner lies left of (above) the line: it passes below
    return float(side - radius)


def first_contact(start, velocity, size: float, radius: float) -> float | None:
    """The first time t ≥ 0 at which a ball of ``radius`` whose centre moves as start + velocity·t
    touches the cube of half-extent ``size`` at the origin, or None if it never does."""
    p0, v = np.asarray(start, float), np.asarray(velocity, float)
    times = [_enter_box(p0, v, np.array([size + radius, size])), _enter_box(p0, v, np.array([size, size + radius]))]
    for cx in (-size, size):
        for cy in (-size, size):
            times.append(_enter_disc(p0 - (cx, cy), v, radius))
    times = [t for t in times if t is not None]
    return min(times) if times else None


def contact_point(start, velocity, size: float, radius: float, t: float) -> np.ndarray:
    """Where on the cube's footprint the ball touches it at time t: the point of the square nearest the
    ball's centre."""
    centre = np.asarray(start, float) + np.asarray(velocity, float) * t
    return np.clip(centre, -size, size)


def _enter_box(p0: np.ndarray, v: np.ndarray, half: np.ndarray) -> float | None:
    lo, hi = 0.0, math.inf
    for k in range(2):
        if abs(v[k]) < 1e-12:
            if abs(p0[k]) > half[k]:
                return None
            continue
        t1, t2 = sorted(((-half[k] - p0[k]) / v[k], (half[k] - p0[k]) / v[k]))
        lo, hi = max(lo, t1), min(hi, t2)
    return lo if lo <= hi else None


def _enter_disc(p0: np.ndarray, v: np.ndarray, radius: float) -> float | None:
    a, b, c = v @ v, 2 * (p0 @ v), p0 @ p0 - radius * radius
    if c <= 0:
        return 0.0
    disc = b * b - 4 * a * c
    if disc < 0 or a == 0:
        return None
    t = (-b - math.sqrt(disc)) / (2 * a)
    return t if t >= 0 else None
