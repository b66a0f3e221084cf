"""Gravity: with-gravity clips are free fall under -g, against-gravity clips free flight under +g, the
four clips of a group relate as designed (mirror about the aim height, exact time reversals)."""

from __future__ import annotations

import numpy as np
import pytest

from simgen.families import FAMILIES
from simgen.families.base import reversed_targets
from simgen.families.gravity.params import VARIANTS, backdrop_rgb
from simgen.families.gravity.sim import aim_frame
from simgen.run.engine import plan, render_group
from simgen.spec import parse_spec
from tests.conftest import tiny_spec_dict


def group(seed=0, index=0, family_file="gravity", frames=16, size=64, **params):
    raw = tiny_spec_dict(family_file, frames=frames, size=size, seed=seed, counts=(16, 0, 0), **params)
    if family_file != "gravity":
        raw["family"] = "gravity"
    spec = parse_spec(raw)
    clips = render_group(spec, plan(spec)[index])
    return spec, {c.labels["variant"]: c for c in clips}


def series(clip, key, axis=2):
    return np.array([f["bodies"]["object"][key][axis] for f in clip.labels["frames"]])


def times(clip):
    return np.array([f["t"] for f in clip.labels["frames"]])


@pytest.fixture(scope="module")
def groups():
    return [group(index=i) for i in range(3)]


def test_group_is_the_2x2_design(groups):
    for _, clips in groups:
        assert tuple(clips) == VARIANTS
        cells = {(c.labels["targets"]["direction"], c.labels["targets"]["physical"]) for c in clips.values()}
        assert cells == {("down", "true"), ("up", "true"), ("down", "false"), ("up", "false")}
        assert len({c.group_id for c in clips.values()}) == 1


@pytest.mark.parametrize("variant, sign", [("down_with_g", -1), ("up_against_g", 1)])
def test_simulated_clips_are_ballistic_with_the_clips_gravity(groups, variant, sign):
    """z(t) = z0 + v0 t + ½(∓g)t² (within the integrator's O(g·dt·t), < 1% of the path), vz exactly linear."""
    for spec, clips in groups:
        clip = clips[variant]
        t, z, vz = times(clip), series(clip, "position"), series(clip, "linear_velocity")
        g = clip.labels["params"]["gravity"]
        a = sign * g
        assert np.allclose(vz, vz[0] + a * t, atol=1e-9)
        assert np.abs(z - (z[0] + vz[0] * t + 0.5 * a * t**2)).max() <= 0.01 * np.ptp(z)
        # PyBullet's semi-implicit Euler, exactly: z_n = z0 + v0·n·dt + a·dt²·n(n+1)/2 after n steps
        dt, n = spec.render.timestep, np.arange(len(t)) * spec.render.steps_per_frame
        assert np.allclose(z, z[0] + vz[0] * n * dt + a * dt**2 * n * (n + 1) / 2, atol=1e-9)
        assert clip.labels["targets"]["accel_z"] == pytest.approx(a, rel=1e-9)
        for axis in (0, 1):  # horizontal drift at constant velocity: no drag
            v = series(clip, "linear_velocity", axis)
            assert np.allclose(v, v[0], atol=1e-12)


def test_against_gravity_clip_is_the_mirror_of_the_fall_about_the_aim_height(groups):
    for _, clips in groups:
        fall, rise = clips["down_with_g"], clips["up_against_g"]
        h = fall.labels["params"]["aim_height"]
        assert np.allclose(series(rise, "position"), 2 * h - series(fall, "position"), atol=1e-9)
        assert np.allclose(series(rise, "linear_velocity"), -series(fall, "linear_velocity"), atol=1e-9)
        for axis in (0, 1):  # horizontal motion and rotation are gravity's business in neither clip
            assert np.allclose(series(rise, "position", axis), series(fall, "position", axis), atol=1e-9)
        for a, b in zip(rise.labels["frames"], fall.labels["frames"], strict=True):
            assert np.allclose(a["bodies"]["object"]["orientation"], b["bodies"]["object"]["orientation"], atol=1e-9)
        # same speeds frame for frame: speed says nothing about which clip this is
        assert np.array_equal(np.abs(series(rise, "linear_velocity")).round(9),
                              np.abs(series(fall, "linear_velocity")).round(9))


def test_camera_aims_at_the_object_at_the_aim_frame_in_every_clip(groups):
    """Every clip passes through the aim height at the aim frame (the reversed ones at T-1-u), so a frame's
    offset from the aim is z(t_i) - z(t_u) with gravity and its negative against it."""
    for spec, clips in groups:
        params = clips["down_with_g"].labels["params"]
        u, h, n = aim_frame(params["aim"], spec.render.frames), params["aim_height"], spec.render.frames
        for name, clip in clips.items():
            k = u if name in ("down_with_g", "up_against_g") else n - 1 - u
            assert series(clip, "position")[k] == pytest.approx(h, abs=1e-9)
            assert clip.labels["camera"]["target"][2] == pytest.approx(h, abs=0.151)  # + the spec's jitter
        offsets = series(clips["down_with_g"], "position") - h
        assert np.allclose(series(clips["up_against_g"], "position") - h, -offsets, atol=1e-9)


def test_aim_frame_is_uniform_over_the_frames():
    counts = np.bincount([aim_frame(a, 16) for a in np.linspace(0, 1, 1601)], minlength=16)
    assert counts.min() >= 99 and counts.max() <= 101 and len(counts) == 16


def test_twins_are_exact_time_reversals(groups):
    for _, clips in groups:
        for a, b in (("down_with_g", "up_with_g"), ("up_against_g", "down_against_g")):
            fwd, rev = clips[a], clips[b]
            assert np.array_equal(rev.frames, fwd.frames[::-1])
            f0, r_last = fwd.labels["frames"][0]["bodies"]["object"], rev.labels["frames"][-1]["bodies"]["object"]
            assert r_last["position"] == f0["position"]
            assert r_last["linear_velocity"] == [-v for v in f0["linear_velocity"]]
            assert np.array_equal(times(rev), times(fwd))


def test_every_reversal_rule_holds_between_twins(groups):
    declared = FAMILIES["gravity"].targets
    for _, clips in groups:
        for a, b in (("down_with_g", "up_with_g"), ("up_against_g", "down_against_g")):
            ta, tb = clips[a].labels["targets"], clips[b].labels["targets"]
            assert reversed_targets(declared, ta) == tb
            assert reversed_targets(declared, tb) == ta
            assert ta["physical"] == tb["physical"] and ta["direction"] != tb["direction"]


def test_targets_are_the_clips_own_physics(groups):
    for _, clips in groups:
        for clip in clips.values():
            t, vz = clip.labels["targets"], series(clip, "linear_velocity")
            speeding_up = abs(vz[-1]) > abs(vz[0])
            # physical: accelerating downward, i.e. speeding up going down or slowing going up
            assert (t["physical"] == "true") == (t["accel_z"] < 0)
            assert (t["direction"] == "down") == (vz.mean() < 0)
            assert speeding_up == ((t["direction"] == "down") == (t["physical"] == "true"))
            assert t["vz_start"] == vz[0] and t["vz_end"] == vz[-1]


def test_no_floor_and_a_flat_backdrop(groups):
    _, clips = groups[0]
    clip = clips["down_with_g"]
    expected = np.round(np.asarray(backdrop_rgb(clip.labels["params"])) * 255)
    frame = clip.frames[0].astype(int)
    for corner in (frame[0, 0], frame[0, -1], frame[-1, 0], frame[-1, -1]):
        assert np.array_equal(corner, expected)
    # the object is the only thing drawn: nearly all the frame is the backdrop
    assert (np.abs(frame - expected).sum(axis=-1) == 0).mean() > 0.9


def test_same_seed_same_bytes_other_seed_differs():
    _, a = group(seed=5, index=1)
    _, b = group(seed=5, index=1)
    _, c = group(seed=6, index=1)
    for name in VARIANTS:
        assert a[name].labels == b[name].labels and np.array_equal(a[name].frames, b[name].frames)
    assert a["down_with_g"].labels["targets"] != c["down_with_g"].labels["targets"]


@pytest.mark.parametrize("index", range(4))
def test_long_preset_keeps_the_object_in_view(index):
    """scenes/gravity_long.yaml, 64 frames: the centre stays well inside the frame (>= 10% of it from
    every edge; an object's radius is at most ~6% of it), in all four clips."""
    spec, clips = group(family_file="gravity_long", frames=64, size=64, index=index)
    assert spec.render.frames == 64 and spec.params.gravity.sample(np.random.default_rng()) == 0.5
    for clip in clips.values():
        xy = np.array([f["bodies"]["object"]["image_xy"] for f in clip.labels["frames"]])
        assert ((xy >= 6.4) & (xy <= 64 - 6.4)).all()
        assert np.ptp(xy[:, 1]) > 10  # and moves by a good part of it
