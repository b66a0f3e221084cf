"""Collision events against momentum: every impulse equals m·Δv along the normal plus gravity's share."""

from __future__ import annotations

import numpy as np
import pytest

from simgen.physics.bullet import p
from simgen.physics.events import CollisionEvent, ContactAccumulator
from simgen.physics.world import World

G = 9.81


def momentum_error(event: CollisionEvent, body: str, mass: float) -> float:
    """|J − (m·Δv·n − m·(g·n)·T)| / J for a body that touches nothing else during the event."""
    n = np.asarray(event.normal) * (1.0 if event.bodies[0] == body else -1.0)
    dv = np.subtract(event.velocity_after[body], event.velocity_before[body]) @ n
    expected = mass * dv - mass * (np.array([0.0, 0.0, -G]) @ n) * (event.t_end - event.t_start)
    return abs(expected - event.normal_impulse) / event.normal_impulse


def drop(shape: str, restitution: float, height: float, *, mass: float = 1.5, size: float = 0.2, tilt: float = 0.0,
         seconds: float = 1.5, hz: int = 240, record_z: bool = False):
    world = World(timestep=1 / hz)
    floor = world.add_floor((0.5, 0.5, 0.5, 1), restitution=1.0)
    orientation = p.getQuaternionFromEuler([tilt, 0.5 * tilt, 0.0])
    body = world.add_body(shape, size, mass=mass, position=(0, 0, size + height), orientation=orientation,
                          restitution=restitution)
    acc = ContactAccumulator(world, {"object": body, "floor": floor})
    z = []
    for _ in range(int(seconds * hz)):
        acc.step()
        if record_z:
            z.append(world.state(body).position[2])
    events = acc.finish()
    world.close()
    return events, np.array(z)


@pytest.mark.parametrize("shape,tilt", [("sphere", 0.0), ("box", 0.0), ("box", 0.4)])
@pytest.mark.parametrize("restitution", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("height", [0.4, 1.5])
def test_floor_impulse_matches_momentum(shape, tilt, restitution, height):
    events, _ = drop(shape, restitution, height, tilt=tilt)
    assert events and events[0].bodies == ("object", "floor")
    first = events[0]
    if tilt == 0:  # a tilted box lands on a corner, before its centre has fallen `height`
        assert first.approach_speed == pytest.approx(np.sqrt(2 * G * height), rel=0.03)
    assert first.normal == pytest.approx([0, 0, 1], abs=1e-6)
    for event in events:
        assert momentum_error(event, "object", 1.5) < 0.02
        assert event.t_end > event.t_start and event.steps >= 1
        assert event.peak_normal_force * event.dt <= event.normal_impulse + 1e-12


@pytest.mark.parametrize("projectile,target", [("sphere", "box"), ("box", "box"), ("sphere", "sphere")])
@pytest.mark.parametrize("restitution", [0.2, 0.8])
def test_object_on_object_impulse_matches_momentum(projectile, target, restitution):
    world = World()
    floor = world.add_floor((0.5, 0.5, 0.5, 1), restitution=1.0)
    below = world.add_body(target, 0.3, mass=4.0, position=(0, 0, 0.3), restitution=1.0)
    above = world.add_body(projectile, 0.15, mass=0.8, position=(0.03, 0.0, 1.6), restitution=restitution)
    acc = ContactAccumulator(world, {"object": above, "target": below, "floor": floor})
    acc.step(300)
    events = [e for e in acc.finish() if e.bodies == ("object", "target")]
    world.close()
    assert events
    # The projectile touches only the target, so its momentum balance is exact.
    for event in events:
        assert momentum_error(event, "object", 0.8) < 0.02


def test_resting_contact_makes_no_event():
    world = World()
    floor = world.add_floor((0.5, 0.5, 0.5, 1))
    box = world.add_body("box", 0.2, mass=2.0, position=(0, 0, 0.2))
    acc = ContactAccumulator(world, {"box": box, "floor": floor})
    acc.step(240)
    assert acc.finish() == []
    assert world.contact_points() and world.contact_points()[0].normal_force > 0  # it does rest on the floor


def test_settled_body_impulse_is_not_inflated_by_resting_contact():
    events, _ = drop("sphere", 0.0, 1.0, seconds=2.0)
    assert len(events) == 1
    (event,) = events
    assert event.separation_speed == pytest.approx(0.0, abs=event.dt * G * 3)
    # 1.5 kg resting 1.5 s would add m·g·t ≈ 22 N·s; the event holds only the impact.
    assert event.normal_impulse == pytest.approx(1.5 * np.sqrt(2 * G * 1.0), rel=0.03)
    assert event.t_end - event.t_start <= 3 * event.dt


@pytest.mark.parametrize("restitution", [0.5, 0.7, 0.9])
@pytest.mark.parametrize("height", [0.5, 1.2, 2.0])
def test_measured_restitution_matches_bounce_heights(restitution, height):
    events, z = drop("sphere", restitution, height, size=0.2, seconds=2.5, hz=240, record_z=True)
    first = events[0]
    start, end = round(first.t_start * 240), round(first.t_end * 240)  # z[i] is the state after step i
    stop = round(events[1].t_start * 240) if len(events) > 1 else len(z)
    fall = (0.2 + height) - z[start - 1]  # centre height lost before the impact
    rise = z[end:stop].max() - z[end - 1]  # and gained after it
    assert first.restitution == pytest.approx(np.sqrt(rise / fall), rel=0.03)
    # PyBullet's effective restitution is not the coefficient set: that is why it is measured.
    assert abs(first.restitution - restitution) > 1e-3


def test_peak_force_is_impulse_over_timestep_for_a_one_step_impact():
    for hz in (240, 480):
        (event, *_), _ = drop("sphere", 0.5, 1.0, hz=hz)
        assert event.dt == 1 / hz and event.steps == 1
        assert event.peak_normal_force * event.dt == pytest.approx(event.normal_impulse, rel=1e-9)


def test_event_dict_has_contract_fields():
    (event, *_), _ = drop("box", 0.5, 0.8)
    d = event.to_dict()
    for key in ("bodies", "t_start", "t_end", "frame", "normal_impulse", "friction_impulse", "peak_normal_force",
                "velocity_before", "velocity_after", "dt", "contact_point", "normal", "restitution"):
        assert key in d
    assert d["bodies"] == ["object", "floor"] and set(d["velocity_before"]) == {"object"}


def test_rest_speed_default_covers_one_step_of_gravity():
    world = World(timestep=1 / 60)
    floor = world.add_floor((0.5, 0.5, 0.5, 1))
    acc = ContactAccumulator(world, {"floor": floor}, gravity=G)
    assert acc.rest_speed == pytest.approx(3 * G / 60)
    world.close()
