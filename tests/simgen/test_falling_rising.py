"""Falling vs rising: labels are free-fall mechanics, and the rising twin is an exact time reversal."""

from __future__ import annotations

import numpy as np
import pytest

from simgen.run.engine import plan, render_group
from simgen.spec import parse_spec
from tests.conftest import tiny_spec_dict


def group(seed=0, index=0, **params):
    raw = tiny_spec_dict(frames=16, seed=seed, counts=(8, 0, 0))
    raw["params"].update(params)
    spec = parse_spec(raw)
    return spec, render_group(spec, plan(spec)[index])


def series(clip, key, axis=2):
    return np.array([f["bodies"]["object"][key][axis] for f in clip.labels["frames"]])


@pytest.mark.parametrize("index", range(4))
def test_trajectory_matches_free_fall_within_one_percent(index):
    _, (falling, _) = group(index=index)
    t = np.array([f["t"] for f in falling.labels["frames"]])
    z, vz = series(falling, "position"), series(falling, "linear_velocity")
    z0, v0, g = z[0], vz[0], 9.81
    expected = z0 + v0 * t - 0.5 * g * t**2
    drop = z0 - z.min()
    assert np.abs(z - expected).max() <= 0.01 * drop
    assert np.allclose(vz, v0 - g * t, atol=1e-6)
    # horizontal drift is constant-velocity: no drag on any axis
    for axis in (0, 1):
        v = series(falling, "linear_velocity", axis)
        assert np.allclose(v, v[0], atol=1e-9)


def test_targets_are_measured_physics():
    _, (falling, rising) = group(index=1)
    ft, rt = falling.labels["targets"], rising.labels["targets"]
    assert ft["direction"] == "falling" and rt["direction"] == "rising"
    assert ft["accel_z"] == pytest.approx(-9.81, rel=1e-6)
    assert ft["vz_start"] <= 0 and ft["vz_end"] < ft["vz_start"]
    assert rt["vz_start"] == -ft["vz_end"] and rt["vz_end"] == -ft["vz_start"]
    assert ft["height_start"] == series(falling, "position")[0]
    assert rt["height_start"] == series(falling, "position")[-1]


def test_rising_clip_slows_down_going_up():
    _, (_, rising) = group(index=2)
    vz = series(rising, "linear_velocity")
    assert (vz >= 0).all() and (np.diff(vz) < 0).all()
    assert (np.diff(series(rising, "position")) > 0).all()


def test_twin_is_exact_time_reversal_with_identical_frame_set():
    _, (falling, rising) = group(index=3)
    assert np.array_equal(rising.frames, falling.frames[::-1])
    # the static views are indistinguishable: same frame set, same mean frame
    assert np.array_equal(rising.frames.mean(axis=0), falling.frames.mean(axis=0))
    f0, r_last = falling.labels["frames"][0]["bodies"]["object"], rising.labels["frames"][-1]["bodies"]["object"]
    assert r_last["position"] == f0["position"]
    assert r_last["linear_velocity"] == [-v for v in f0["linear_velocity"]]
    assert falling.group_id == rising.group_id


def test_object_is_in_view_and_moves_on_screen():
    _, (falling, _) = group(index=0)
    xy = np.array([f["bodies"]["object"]["image_xy"] for f in falling.labels["frames"]])
    assert ((xy >= 0) & (xy < 64)).all()
    assert xy[-1, 1] - xy[0, 1] > 10  # moves down the image by a good part of the frame


def test_object_is_drawn_where_image_xy_says():
    _, (falling, _) = group(index=0, texture="none", value=1.0, saturation=1.0)
    frame, xy = falling.frames[0].astype(int), falling.labels["frames"][0]["bodies"]["object"]["image_xy"]
    background = np.median(frame.reshape(-1, 3), axis=0)
    x, y = int(xy[0]), int(xy[1])
    assert np.abs(frame[y, x] - background).sum() > 60


def test_damping_is_recorded_and_slows_the_fall():
    _, (undamped, _) = group(index=0)
    _, (damped, _) = group(index=0, linear_damping=0.2)
    assert undamped.labels["physics"]["linear_damping"] == 0.0 and damped.labels["physics"]["linear_damping"] == 0.2
    assert damped.labels["targets"]["accel_z"] > undamped.labels["targets"]["accel_z"]


def test_same_seed_same_labels_and_frames_other_seed_differs():
    _, a = group(seed=5, index=1)
    _, b = group(seed=5, index=1)
    _, c = group(seed=6, index=1)
    assert a[0].labels == b[0].labels and np.array_equal(a[0].frames, b[0].frames)
    assert a[0].labels["targets"] != c[0].labels["targets"]
