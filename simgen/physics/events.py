"""Collision events: PyBullet's per-step contacts aggregated into impacts with impulses.

PyBullet reports contacts per step, and a contact's ``normalForce`` is the normal impulse the
solver applied in that step divided by the timestep. So a per-step "force" depends on dt, and a
body resting on the floor reports a contact (and a force of m·g) every step. Logging those raw
says little about an impact. :class:`ContactAccumulator` steps the world and turns them into one
:class:`CollisionEvent` per impact and body pair.

The rule, per pair of bodies (contact points of all links summed, friction included):

- **Onset.** A step in which the pair's total normal force is > 0 *and* the bodies were
  approaching along the contact normal faster than ``rest_speed`` just before the step. A
  body resting on another only gains g·dt of approach speed per step (0.04 m/s at 240 Hz), so
  resting contact never starts an event.
- **Steps in contact.** Every following step with a total normal force > 0 is added:
  ``normal_impulse`` = Σ normalForce·dt, ``friction_impulse`` = |Σ friction force·dt|,
  ``peak_normal_force`` = the largest per-step total normal force (it scales with 1/dt for a
  rigid impact, so ``dt`` is recorded beside it).
- **End.** The event ends at separation (the next step has no normal force: the step is not
  added), or at the start of resting contact: after a step whose relative normal velocity is
  below ``rest_speed`` in magnitude (that step is added; the ones after it are resting contact).

``rest_speed`` defaults to max(0.1 m/s, 3·g·dt). Momentum then holds exactly for each body
that touches nothing else during the event: m·(v_after − v_before)·n = normal_impulse +
m·(g·n)·(t_end − t_start), with n the contact normal pointing towards that body.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from simgen.physics.world import ContactPoint, World


@dataclass
class CollisionEvent:
    """One impact between two bodies. Units SI; times from the accumulator's ``t0``.

    ``normal`` is the impulse-weighted mean contact normal, pointing from ``bodies[1]`` towards
    ``bodies[0]`` (for an object on the floor: up). ``velocity_before``/``velocity_after`` hold the
    linear velocity of each dynamic body just before the first and just after the last step.
    ``approach_speed`` is the relative normal velocity at the contact point before the event
    (> 0: closing), ``separation_speed`` the one after (> 0: separating), and ``restitution``
    their ratio.
    """

    bodies: tuple[str, str]
    t_start: float
    t_end: float
    dt: float
    steps: int
    normal_impulse: float
    friction_impulse: float
    peak_normal_force: float
    velocity_before: dict[str, list[float]]
    velocity_after: dict[str, list[float]]
    contact_point: list[float]
    normal: list[float]
    approach_speed: float
    separation_speed: float
    frame: int | None = None

    @property
    def restitution(self) -> float:
        return self.separation_speed / self.approach_speed if self.approach_speed > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bodies"] = list(self.bodies)
        d["restitution"] = self.restitution
        return d


@dataclass
class _Snapshot:
    position: np.ndarray
    linear: np.ndarray
    angular: np.ndarray


@dataclass
class _Open:
    """An event being accumulated."""

    a: int
    b: int
    t_start: float
    before: dict[int, _Snapshot]
    approach_speed: float
    steps: int = 0
    normal_impulse: float = 0.0
    friction: np.ndarray = field(default_factory=lambda: np.zeros(3))
    peak: float = 0.0
    weighted_point: np.ndarray = field(default_factory=lambda: np.zeros(3))
    weighted_normal: np.ndarray = field(default_factory=lambda: np.zeros(3))


class ContactAccumulator:
    """Steps a :class:`World` and aggregates its contacts into :class:`CollisionEvent` s.

    ``bodies`` names the bodies of interest (name → PyBullet id); contacts between other bodies
    are ignored. Pairs are ordered so that ``bodies[0]`` of an event is the dynamic body, or the
    one named first when both are dynamic.
    """

    def __init__(self, world: World, bodies: dict[str, int], *, gravity: float = 9.81,
                 rest_speed: float | None = None, t0: float = 0.0, fps: float | None = None):
        self.world = world
        self.names = {bid: name for name, bid in bodies.items()}
        self._order = {bid: i for i, bid in enumerate(bodies.values())}
        self.dt = world.timestep
        self.rest_speed = max(0.1, 3 * gravity * self.dt) if rest_speed is None else float(rest_speed)
        self.fps = fps
        self.t = t0
        self._dynamic = [bid for bid in bodies.values() if world.mass(bid) > 0]
        self._static = {bid for bid in bodies.values() if bid not in self._dynamic}
        self._snap = self._snapshot()
        self._open: dict[tuple[int, int], _Open] = {}
        self.events: list[CollisionEvent] = []

    def _snapshot(self) -> dict[int, _Snapshot]:
        out = {}
        for bid in self._dynamic:
            s = self.world.state(bid)
            out[bid] = _Snapshot(np.asarray(s.position), np.asarray(s.linear_velocity),
                                 np.asarray(s.angular_velocity))
        return out

    def _point_velocity(self, snap: dict[int, _Snapshot], bid: int, point: np.ndarray) -> np.ndarray:
        if bid not in snap:
            return np.zeros(3)
        s = snap[bid]
        return s.linear + np.cross(s.angular, point - s.position)

    def _normal_velocity(self, snap: dict[int, _Snapshot], a: int, b: int, point: np.ndarray,
                         normal: np.ndarray) -> float:
        """Relative velocity of A from B along the normal (B → A): > 0 separating, < 0 closing."""
        return float((self._point_velocity(snap, a, point) - self._point_velocity(snap, b, point)) @ normal)

    def _pair(self, c: ContactPoint) -> tuple[int, int, float]:
        """(a, b, sign): a is dynamic (or named first); sign flips PyBullet's B→A normal if swapped."""
        key_a = (c.body_a in self._static, self._order[c.body_a])
        key_b = (c.body_b in self._static, self._order[c.body_b])
        return (c.body_a, c.body_b, 1.0) if key_a <= key_b else (c.body_b, c.body_a, -1.0)

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self._step_once()

    def _step_once(self) -> None:
        before = self._snap
        self.world.step(1)
        t_step = self.t
        self.t += self.dt
        after = self._snapshot()
        self._snap = after

        per_pair: dict[tuple[int, int], list[tuple[ContactPoint, float]]] = {}
        for c in self.world.contact_points():
            if c.body_a not in self.names or c.body_b not in self.names or c.body_a == c.body_b:
                continue
            a, b, sign = self._pair(c)
            per_pair.setdefault((a, b), []).append((c, sign))

        for key in list(self._open):
            points = per_pair.get(key, [])
            if sum(c.normal_force for c, _ in points) <= 0:
                self._close(key, self._open.pop(key), before)

        for key, points in per_pair.items():
            force = sum(c.normal_force for c, _ in points)
            if force <= 0:
                continue
            a, b = key
            normal = sum(sign * np.asarray(c.normal_on_b) * c.normal_force for c, sign in points) / force
            normal /= max(np.linalg.norm(normal), 1e-12)
            point = sum(np.asarray(c.position_on_b) * c.normal_force for c, _ in points) / force
            event = self._open.get(key)
            if event is None:
                closing = -self._normal_velocity(before, a, b, point, normal)
                if closing <= self.rest_speed:
                    continue  # resting contact
                event = self._open[key] = _Open(a, b, t_step, before, closing)
            friction = sum(sign * np.asarray(c.friction_force) for c, sign in points)
            event.steps += 1
            event.normal_impulse += force * self.dt
            event.friction += friction * self.dt
            event.peak = max(event.peak, force)
            event.weighted_point += point * force
            event.weighted_normal += normal * force
            if abs(self._normal_velocity(after, a, b, point, normal)) < self.rest_speed:
                self._close(key, self._open.pop(key), after)

    def _close(self, key: tuple[int, int], ev: _Open, after: dict[int, _Snapshot]) -> None:
        a, b = key
        weight = ev.normal_impulse / self.dt
        point = ev.weighted_point / weight
        normal = ev.weighted_normal / max(np.linalg.norm(ev.weighted_normal), 1e-12)
        t_end = ev.t_start + ev.steps * self.dt
        event = CollisionEvent(
            bodies=(self.names[a], self.names[b]), t_start=ev.t_start, t_end=t_end, dt=self.dt, steps=ev.steps,
            normal_impulse=ev.normal_impulse, friction_impulse=float(np.linalg.norm(ev.friction)),
            peak_normal_force=ev.peak,
            velocity_before={self.names[i]: ev.before[i].linear.tolist() for i in (a, b) if i in ev.before},
            velocity_after={self.names[i]: after[i].linear.tolist() for i in (a, b) if i in after},
            contact_point=point.tolist(), normal=normal.tolist(), approach_speed=ev.approach_speed,
            separation_speed=self._normal_velocity(after, a, b, point, normal),
            frame=None if self.fps is None else int(round(ev.t_start * self.fps)))
        self.events.append(event)

    def finish(self) -> list[CollisionEvent]:
        """Close events still open (cut off by the end of the clip) and return all, by start time."""
        for key in list(self._open):
            self._close(key, self._open.pop(key), self._snap)
        self.events.sort(key=lambda e: (e.t_start, e.bodies))
        return self.events
