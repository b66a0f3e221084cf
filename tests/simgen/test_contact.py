"""Contact family: the simulated outcome agrees with the straight-line closed form, nothing touches
before the cut, the ball keeps its speed, the spec's ranges keep the design's promises, and the
dataset is deterministic."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from simgen.dataset.format import Dataset
from simgen.families import FAMILIES
from simgen.families.base import reversed_targets
from simgen.families.contact import geometry
from simgen.families.contact.sim import camera_focus
from simgen.physics.world import World
from simgen.render.renderer import sample_camera
from simgen.run.parallel import render_dataset
from simgen.spec import load_spec, parse_spec
from tests.conftest import SCENES, file_hashes, tiny_spec_dict

FRAMES, FPS = 16, 24
DURATION = (FRAMES - 1) / FPS
DT = 1 / 240


def tiny(**kwargs):
    kwargs.setdefault("frames", FRAMES)
    kwargs.setdefault("size", 32)
    return parse_spec(tiny_spec_dict("contact", **kwargs))



@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("contact") / "ds"
    summary = render_dataset(tiny(counts=(12, 4, 4)), out, workers=1)
    assert summary.clips_missing == 0
    return out


def all_labels(root: Path) -> list[dict]:
    ds = Dataset(root)
    return [ds.read_labels(c) for c in ds.clips()]


def straight_line(labels: dict) -> tuple[np.ndarray, np.ndarray]:
    ball = labels["frames"][0]["bodies"]["ball"]
    return np.asarray(ball["position"][:2]), np.asarray(ball["linear_velocity"][:2])


def test_closed_form_predicts_the_simulated_contact(dataset):
    """Hit or miss, when and where: the straight-line closed form (geometry.first_contact) from the first
    frame's state against the simulation run on past the cut."""
    outcomes = set()
    for labels in all_labels(dataset):
        p, t = labels["params"], labels["targets"]
        start, velocity = straight_line(labels)
        predicted = geometry.first_contact(start, velocity, p["target_size"], p["radius"])
        assert t["will_contact"] == ("true" if predicted is not None else "false") == \
            ("true" if p["outcome"] == "hit" else "false"), labels["clip_id"]
        assert (t["clearance"] < 0) == (t["will_contact"] == "true")
        assert abs(abs(t["clearance"]) - p["margin"]) < 1e-9
        outcomes.add(t["will_contact"])
        touches = [e for e in labels["events"] if set(e["bodies"]) == {"ball", "target"}]
        if predicted is None:
            assert not touches
            continue
        # The simulation sees a contact at the end of the step in which it happens.
        assert -DT / 2 <= t["time_to_contact"] - (predicted - DURATION) <= 2 * DT, labels["clip_id"]
        point = geometry.contact_point(start, velocity, p["target_size"], p["radius"], predicted)
        assert t["contact_offset"] == pytest.approx(point[1] + p["target_size"], abs=0.01)
        assert touches and touches[0]["t_start"] == pytest.approx(t["time_to_contact"] + DURATION, abs=2 * DT)
    assert outcomes == {"true", "false"}


def test_nothing_touches_before_the_cut(dataset):
    for labels in all_labels(dataset):
        assert len(labels["frames"]) == FRAMES
        assert all(e["t_start"] > DURATION for e in labels["events"])
        if labels["targets"]["will_contact"] == "true":
            assert labels["targets"]["time_to_contact"] > 0.2


def test_the_ball_rolls_at_constant_speed(dataset):
    """Launched rolling without slipping, undamped, no rolling resistance: |v| stays the drawn speed, and
    the path is the straight line (so an aimed ball never stops short)."""
    for labels in all_labels(dataset):
        speed = labels["params"]["speed"]
        start, velocity = straight_line(labels)
        for f in labels["frames"]:
            ball = f["bodies"]["ball"]
            assert np.linalg.norm(ball["linear_velocity"][:2]) == pytest.approx(speed, rel=1e-3)
            assert np.asarray(ball["position"][:2]) == pytest.approx(start + velocity * f["t"], abs=2e-3)
            assert ball["position"][2] == pytest.approx(labels["params"]["radius"], abs=2e-3)
        assert labels["targets"]["speed"] == pytest.approx(speed)


@pytest.mark.parametrize("name", ["contact", "contact_long"])
def test_spec_ranges_keep_the_design(name):
    """Over 400 draws of the real spec: balanced outcomes; every contact after the cut and within the
    horizon; the ball's middle-frame position and speed drawn independently of the outcome; the ball and
    cube in view in every frame (image_xy of the ball's centre, and of the cube's top corners)."""
    spec = load_spec(SCENES / f"{name}.yaml")
    duration = (spec.render.frames - 1) / spec.render.fps
    rng = np.random.default_rng(0)
    hits, first_after_cut, mids = [], [], {"hit": [], "miss": []}
    for _ in range(400):
        p = spec.sample_params(rng)
        clearance = p["margin"] if p["outcome"] == "miss" else -p["margin"]
        plan = geometry.plan_roll(p["target_size"], p["radius"], clearance, p["distance_mid"], p["bearing"],
                                  p["speed"], duration)
        t_plane = geometry.time_to_face_plane(plan, p["target_size"], p["radius"])
        t_hit = geometry.first_contact(plan.start, plan.velocity, p["target_size"], p["radius"])
        hits.append(t_hit is not None)
        assert hits[-1] == (p["outcome"] == "hit")
        first_after_cut.append(t_plane - duration)
        if t_hit is not None:
            assert t_plane <= t_hit <= duration + p["horizon"] - 0.1
        mid = plan.start + plan.velocity * duration / 2 - geometry.corner(p["target_size"])
        mids[p["outcome"]].append([*mid, p["speed"]])
        camera = sample_camera(spec.camera, spec.render, camera_focus(spec), rng)
        t = np.arange(spec.render.frames) / spec.render.fps
        ball = np.c_[plan.start + np.outer(t, plan.velocity), np.full(len(t), p["radius"])]
        s = p["target_size"]
        cube = np.array([[x, y, 2 * s] for x in (-s, s) for y in (-s, s)])
        xy = camera.project(np.r_[ball, cube])
        margin = 8 * spec.render.width / 256
        assert ((xy >= margin) & (xy <= spec.render.width - margin)).all()
    assert 0.4 < np.mean(hits) < 0.6
    assert min(first_after_cut) > 0.2
    hit, miss = np.array(mids["hit"]), np.array(mids["miss"])
    spread = np.r_[hit, miss].std(axis=0)
    assert (np.abs(hit.mean(axis=0) - miss.mean(axis=0)) < 0.25 * spread).all()


def test_reversal_rules_hold_on_the_reversed_roll(dataset):
    """Run the clip backwards: from the last frame's state with velocities negated, the ball retraces the
    frames in reverse order along the same line at the same speed (clearance and speed: `same`), and
    rolls away from the cube: no contact within the horizon (the reversed will_contact is 'false' for
    every clip, which no rule expresses: `undefined`, with the contact's time and place)."""
    targets = FAMILIES["contact"].targets
    assert {n: t.reversal.rule for n, t in targets.items()} == {
        "will_contact": "undefined", "time_to_contact": "undefined", "contact_offset": "undefined",
        "clearance": "same", "speed": "same"}
    for labels in all_labels(dataset)[:6]:
        p = labels["params"]
        last = labels["frames"][-1]["bodies"]["ball"]
        with World(timestep=DT) as world:
            world.add_floor((0.5, 0.5, 0.5, 1.0), lateral_friction=p["lateral_friction"])
            s = p["target_size"]
            cube = world.add_body("box", s, mass=0.0, position=(0, 0, s), lateral_friction=p["lateral_friction"])
            ball = world.add_body("sphere", p["radius"], mass=1.0, position=last["position"],
                                  lateral_friction=p["lateral_friction"])
            world.set_velocity(ball, [-v for v in last["linear_velocity"]], [-w for w in last["angular_velocity"]])
            positions, touched = [], False
            for step in range(1, int(round((DURATION + p["horizon"]) / DT)) + 1):
                world.step(1)
                if step % 10 == 0 and step <= 10 * (FRAMES - 1):
                    positions.append(world.state(ball).position)
                touched |= any({c.body_a, c.body_b} == {ball, cube} for c in world.contact_points())
            state = world.state(ball)
        want = [f["bodies"]["ball"]["position"] for f in labels["frames"][-2::-1]]
        assert np.asarray(positions) == pytest.approx(np.asarray(want), abs=3e-3)
        assert not touched
        reversed_values = {"clearance": geometry.path_clearance(state.position[:2], state.linear_velocity[:2], s,
                                                                p["radius"]),
                           "speed": float(np.linalg.norm(state.linear_velocity[:2]))}
        expected = reversed_targets(targets, labels["targets"])
        assert set(expected) == {"clearance", "speed"}
        assert reversed_values == pytest.approx(expected, abs=1e-3)


def test_same_bytes_when_rendered_again(dataset, tmp_path):
    out = tmp_path / "ds"
    render_dataset(tiny(counts=(12, 4, 4)), out, workers=1, shard=(1, 2))
    render_dataset(tiny(counts=(12, 4, 4)), out, workers=1)
    assert file_hashes(out) == file_hashes(dataset)


def test_closed_form_geometry():
    """first_contact on hand-made cases: head-on, beside, and onto the corner's rounded edge."""
    assert geometry.first_contact((-2.0, 0.0), (1.0, 0.0), 0.25, 0.1) == pytest.approx(1.65)
    assert geometry.first_contact((-2.0, -0.36), (1.0, 0.0), 0.25, 0.1) is None
    t = geometry.first_contact((-2.0, -0.3), (1.0, 0.0), 0.25, 0.1)
    assert t == pytest.approx(2.0 - 0.25 - math.sqrt(0.1**2 - 0.05**2))
    assert geometry.path_clearance((-2.0, -0.3), (1.0, 0.0), 0.25, 0.1) == pytest.approx(-0.05)
    assert geometry.path_clearance((-2.0, -0.3), (-1.0, 0.0), 0.25, 0.1) == pytest.approx(-0.05)
