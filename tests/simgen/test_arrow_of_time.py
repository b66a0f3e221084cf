"""Arrow of time: closed-form physics of the bounce and the slide, and the backward twin as an exact
time reversal in which every declared reversal rule holds."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from simgen.families import FAMILIES
from simgen.families.arrow_of_time.params import bounce_window_ok
from simgen.families.arrow_of_time.sim import MIN_STEP_TRAVEL, bounce_speed
from simgen.families.base import reversed_targets
from simgen.run.engine import plan, render_group
from simgen.spec import load_spec, parse_spec
from tests.conftest import SCENES, tiny_spec_dict

G = 9.81
T = 15 / 24  # the demo clip: 16 frames at 24 fps


@cache
def group(event, index=0, seed=0, frames=16, size=64, **params):
    raw = tiny_spec_dict("arrow_of_time", frames=frames, size=size, seed=seed, counts=(8, 0, 0), event=event,
                         **params)
    spec = parse_spec(raw)
    return render_group(spec, plan(spec)[index])


def series(clip, key):
    return np.array([f["bodies"]["object"][key] for f in clip.labels["frames"]])


def the_bounce(clip):
    (hit,) = [e for e in clip.labels["events"] if "object" in e["bodies"]]
    return hit


# ---------------------------------------------------------------------------------------------- bounce


@pytest.mark.parametrize("index", range(3))
def test_bounce_energy_lost_is_one_minus_e_squared_of_the_impact_energy(index):
    forward, _ = group("bounce", index)
    t, params = forward.labels["targets"], forward.labels["params"]
    m, hit = params["mass"], the_bounce(forward)
    before, after = np.array(hit["velocity_before"]["object"]), np.array(hit["velocity_after"]["object"])
    # from the recorded velocities: the event's kinetic energy loss is the clip's mechanical energy loss
    # (free flight conserves it to Bullet's semi-implicit Euler error, ½g²dt² per step and kg)
    recorded = 0.5 * m * (before @ before - after @ after)
    assert t["energy_lost"] == pytest.approx(recorded, rel=0.01)
    # frictionless contact: only the normal speed changes, by the measured restitution
    assert after[:2] == pytest.approx(before[:2], abs=1e-9)
    assert recorded == pytest.approx((1 - t["restitution"] ** 2) * 0.5 * m * before[2] ** 2, rel=0.01)
    # the contact falls on a physics step, so the measured restitution is the nominal one
    assert t["restitution"] == pytest.approx(params["restitution"], abs=0.015)
    assert t["energy_lost"] == pytest.approx((1 - params["restitution"] ** 2) * 0.5 * m * before[2] ** 2, rel=0.03)
    assert t["energy_lost_per_kg"] == pytest.approx(t["energy_lost"] / m, rel=1e-12)
    assert t["mass"] == m


@pytest.mark.parametrize("index", range(3))
def test_bounce_window_is_balanced_and_in_flight_at_both_ends(index):
    forward, _ = group("bounce", index)
    params = forward.labels["params"]
    z, vz = series(forward, "position")[:, 2], series(forward, "linear_velocity")[:, 2]
    gap = z - params["size"]
    # the same height at both ends (to within a physics step's travel), well clear of the floor
    assert gap[0] == pytest.approx(params["clearance"], abs=0.05)
    assert abs(gap[0] - gap[-1]) < 0.05
    assert min(gap[0], gap[-1]) > 1.0
    # down at the start, up at the end: one bounce in between, before the middle (the fast fall is short)
    assert vz[0] < 0 < vz[-1]
    lowest = int(np.argmin(z))
    assert 0 < lowest < len(z) / 2
    # the speed after the bounce is e times the speed before, and the sphere spins on unchanged
    hit = the_bounce(forward)
    v = bounce_speed(params["clearance"], params["restitution"], G, T)
    assert -hit["velocity_before"]["object"][2] == pytest.approx(v, rel=0.01)
    w = series(forward, "angular_velocity")
    assert np.allclose(w, w[0], atol=1e-9)


@pytest.mark.parametrize("index", range(2))
def test_free_flight_between_the_ends_and_the_bounce(index):
    forward, _ = group("bounce", index)
    t = np.array([f["t"] for f in forward.labels["frames"]])
    vz = series(forward, "linear_velocity")[:, 2]
    k = the_bounce(forward)["frame"]
    before, after = slice(0, k), slice(k + 1, None)  # frames wholly before and after the impact step
    assert np.polyfit(t[before], vz[before], 1)[0] == pytest.approx(-G, rel=1e-6)
    assert np.polyfit(t[after], vz[after], 1)[0] == pytest.approx(-G, rel=1e-6)


def test_every_draw_of_the_shipped_specs_has_a_balanced_window():
    for name in ("arrow_of_time", "arrow_of_time_long"):
        spec = load_spec(SCENES / f"{name}.yaml")
        p, r = spec.params, spec.render
        duration = (r.frames - 1) / r.fps
        g, radius = p.gravity.support()[0], p.size.support()[1]
        for e in np.linspace(*p.restitution.support(), 8):
            for h in np.linspace(*p.clearance.support(), 8):
                assert bounce_window_ok(h, e, g, duration), (name, e, h)
                # fast enough per physics step for Bullet to bounce cleanly
                assert bounce_speed(h, e, g, duration) * r.timestep >= MIN_STEP_TRAVEL * radius, (name, e, h)
    with pytest.raises(ValueError, match="no balanced bounce window"):
        bounce_speed(0.2, 0.5, G, T)


# ----------------------------------------------------------------------------------------------- slide


@pytest.mark.parametrize("index", range(3))
def test_slide_decelerates_at_mu_g_and_keeps_sliding(index):
    forward, _ = group("slide", index)
    t, params, targets = (np.array([f["t"] for f in forward.labels["frames"]]), forward.labels["params"],
                          forward.labels["targets"])
    mu, m = params["friction"], params["mass"]
    v = np.hypot(*series(forward, "linear_velocity")[:, :2].T)
    # Bullet's box rocks a little on its four contact points (|ω| < 1 rad/s), so the speed falls at μ·g
    # on average, not exactly frame by frame; the measured coefficient is the target
    assert targets["friction"] == pytest.approx(mu, rel=0.05)
    assert np.diff(v) == pytest.approx(np.full(len(v) - 1, -targets["friction"] * G / 24), rel=0.3)
    assert np.polyfit(t, v, 1)[0] == pytest.approx(-targets["friction"] * G, rel=1e-9)
    assert (v[0] - v[-1]) / T == pytest.approx(mu * G, rel=0.05)
    assert v[0] == pytest.approx(params["speed_end"] + mu * G * T, rel=1e-6)
    assert v[-1] > 0.5 * params["speed_end"]
    # work done by friction: μ·m·g·path = ½m(v0² − v_end²) = the energy lost
    xy = series(forward, "position")[:, :2]
    path = np.linalg.norm(np.diff(xy, axis=0), axis=1).sum()
    assert targets["energy_lost"] == pytest.approx(0.5 * m * (v[0] ** 2 - v[-1] ** 2), rel=0.01)
    assert targets["energy_lost"] == pytest.approx(targets["friction"] * m * G * path, rel=0.03)
    # the path is centred on the origin, and the box stays flat on the floor
    assert np.linalg.norm(xy[0] + xy[-1]) < 0.05
    z = series(forward, "position")[:, 2]
    assert z == pytest.approx(np.full(len(z), params["size"]), abs=5e-3)  # Bullet lets it sink a few mm
    assert forward.labels["events"] == []


# ----------------------------------------------------------------------------------------------- twins


@pytest.mark.parametrize("event", ["bounce", "slide"])
def test_backward_clip_is_the_exact_time_reversal(event):
    forward, backward = group(event, 1)
    assert forward.labels["variant"] == "forward" and backward.labels["variant"] == "backward"
    assert forward.group_id == backward.group_id
    assert np.array_equal(backward.frames, forward.frames[::-1])
    assert np.array_equal(backward.frames.mean(axis=0), forward.frames.mean(axis=0))
    ff, bf = forward.labels["frames"], backward.labels["frames"]
    assert [f["t"] for f in bf] == [f["t"] for f in ff]
    for f, b in zip(ff, reversed(bf), strict=True):
        fo, bo = f["bodies"]["object"], b["bodies"]["object"]
        assert bo["position"] == fo["position"] and bo["orientation"] == fo["orientation"]
        assert bo["image_xy"] == fo["image_xy"]
        assert bo["linear_velocity"] == [-v for v in fo["linear_velocity"]]
        assert bo["angular_velocity"] == [-v for v in fo["angular_velocity"]]


@pytest.mark.parametrize("event", ["bounce", "slide"])
def test_energy_is_lost_forwards_and_gained_backwards(event):
    forward, backward = group(event, 2)
    for clip, sign in ((forward, 1), (backward, -1)):
        speed = np.linalg.norm(series(clip, "linear_velocity"), axis=1)
        z = series(clip, "position")[:, 2]
        if event == "bounce":  # same height at both ends: the speed there tells
            assert abs(z[0] - z[-1]) < 0.05
        assert sign * (speed[0] - speed[-1]) > 0.3


@pytest.mark.parametrize("event", ["bounce", "slide"])
def test_twins_satisfy_every_declared_reversal_rule(event):
    declared = FAMILIES["arrow_of_time"].targets
    forward, backward = group(event, 0)
    ft, bt = forward.labels["targets"], backward.labels["targets"]
    assert ft["forward"] == "true" and bt["forward"] == "false"
    expected = reversed_targets(declared, ft)
    assert expected  # every target has a rule; the one not defined on this event is left out
    assert set(expected) == {n for n, t in declared.items() if t.defined_on(ft)}
    assert {k: bt[k] for k in expected} == expected
    # the reversal rules also hold when applied to the backward clip
    assert {k: ft[k] for k in reversed_targets(declared, bt)} == reversed_targets(declared, bt)


def test_same_seed_same_bytes_other_seed_differs():
    a = group.__wrapped__("bounce", 1, seed=5)
    b = group.__wrapped__("bounce", 1, seed=5)
    c = group.__wrapped__("bounce", 1, seed=6)
    for x, y in zip(a, b, strict=True):
        assert x.labels == y.labels and np.array_equal(x.frames, y.frames)
    assert a[0].labels["targets"] != c[0].labels["targets"]


def test_object_is_in_view_and_drawn_where_image_xy_says():
    for event in ("bounce", "slide"):
        forward, _ = group(event, 0)
        xy = series(forward, "image_xy")
        assert ((xy >= 0) & (xy < 64)).all()
        frame, (x, y) = forward.frames[0].astype(int), xy[0]
        background = np.median(frame.reshape(-1, 3), axis=0)
        assert np.abs(frame[int(y), int(x)] - background).sum() > 40


@pytest.mark.parametrize("event", ["bounce", "slide"])
def test_long_preset_keeps_the_object_in_view(event):
    # a tiny render of the long preset's physics and camera: 64 frames, 64 px
    spec_long = parse_spec({**_long(), "render": {**_long()["render"], "width": 64, "height": 64},
                            "counts": {"train": 8, "val": 0, "test": 0},
                            "params": {**_long()["params"], "event": event}})
    for task in plan(spec_long):
        forward, _ = render_group(spec_long, task)
        xy = series(forward, "image_xy")
        assert ((xy >= 0.1 * 64) & (xy <= 0.9 * 64)).all()
        if event == "bounce":
            assert the_bounce(forward)["restitution"] == pytest.approx(forward.labels["params"]["restitution"],
                                                                       abs=0.015)


@cache
def _long():
    import yaml

    return yaml.safe_load((SCENES / "arrow_of_time_long.yaml").read_text())


def test_bounce_speed_solves_the_balanced_window():
    h, e = 1.5, 0.6
    v = bounce_speed(h, e, G, T)
    fall = (v - math.sqrt(v * v - 2 * G * h)) / G
    rise = (e * v - math.sqrt(e * e * v * v - 2 * G * h)) / G
    assert fall + rise == pytest.approx(T, rel=1e-9)
    assert fall < rise
