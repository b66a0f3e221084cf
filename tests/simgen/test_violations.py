"""Possible vs impossible twins: shared prefix, a break at a known frame, closed-form continuations."""

from __future__ import annotations

import numpy as np
import pytest

from simgen.run.engine import plan, render_group
from simgen.spec import SpecError, parse_spec
from tests.conftest import tiny_spec_dict


def twins(kind: str, index: int = 0, frames: int = 12, **violations):
    raw = tiny_spec_dict(frames=frames, counts=(8, 0, 0))
    raw["violations"] = {"kind": kind, "at": 0.5, **violations}
    spec = parse_spec(raw)
    possible, impossible = render_group(spec, plan(spec)[index])
    return spec, possible, impossible


def body_series(clip, key):
    return np.array([f["bodies"]["object"][key] for f in clip.labels["frames"]])


@pytest.mark.parametrize("kind", ["teleport", "vanish", "gravity_reversal"])
def test_twins_share_frames_until_the_violation_then_differ(kind):
    _, possible, impossible = twins(kind)
    k = impossible.labels["targets"]["violation_frame"]
    group = {"group_violation": kind, "violation_frame": k, "onset_frame": k, "design": "twins", "balanced": "false"}
    assert possible.labels["targets"] == {"possible": "true", "violation": "none", **group}
    assert impossible.labels["targets"] == {"possible": "false", "violation": kind, **group}
    assert k == round(0.5 * 11)
    assert np.array_equal(possible.frames[:k], impossible.frames[:k])
    assert all(not np.array_equal(possible.frames[i], impossible.frames[i]) for i in range(k, 12))
    assert possible.labels["frames"][:k] == impossible.labels["frames"][:k]
    assert possible.group_id == impossible.group_id


def test_gravity_reversal_is_the_closed_form_upward_fall():
    _, possible, impossible = twins("gravity_reversal")
    k = impossible.labels["targets"]["violation_frame"]
    t = np.array([f["t"] for f in impossible.labels["frames"]])
    z, vz = body_series(impossible, "position")[:, 2], body_series(impossible, "linear_velocity")[:, 2]
    dt = t[k:] - t[k - 1]
    assert np.allclose(z[k:], z[k - 1] + vz[k - 1] * dt + 0.5 * 9.81 * dt**2, atol=1e-9)
    assert np.allclose(np.diff(vz[k - 1:]) / np.diff(t[k - 1:]), 9.81, rtol=1e-6)
    # the possible twin keeps falling the ordinary way
    assert np.allclose(np.diff(body_series(possible, "linear_velocity")[:, 2]) / np.diff(t), -9.81, rtol=1e-6)


def test_teleport_jumps_by_the_distance_and_vanish_hides_the_object():
    _, possible, impossible = twins("teleport", distance={"fixed": 0.7})
    k = impossible.labels["targets"]["violation_frame"]
    jump = body_series(impossible, "position") - body_series(possible, "position")
    assert np.allclose(jump[:k], 0) and np.allclose(jump[k:], [0, 0, 0.7])
    _, possible, impossible = twins("vanish")
    k = impossible.labels["targets"]["violation_frame"]
    hidden = [f["bodies"]["object"].get("visible", True) for f in impossible.labels["frames"]]
    assert hidden == [True] * k + [False] * (12 - k)
    # the object was the only thing moving: once it is gone, every later frame is the same empty scene
    assert all(np.array_equal(impossible.frames[k], impossible.frames[i]) for i in range(k, 12))
    assert not np.array_equal(possible.frames[k], possible.frames[-1])


def test_unsupported_violation_is_a_clear_error():
    raw = tiny_spec_dict()
    raw["violations"] = {"kind": "through_floor"}
    with pytest.raises(SpecError, match="violations.kind \\['through_floor'\\] cannot be rendered by falling_rising"):
        parse_spec(raw)


def test_violation_dataset_declares_violation_targets(tmp_path):
    from simgen.dataset.format import Dataset
    from simgen.run.parallel import render_dataset

    raw = tiny_spec_dict(counts=(4, 2, 2))
    raw["violations"] = {"kind": {"choice": ["teleport", "vanish"]}}
    render_dataset(parse_spec(raw), tmp_path / "ds", workers=1)
    ds = Dataset(tmp_path / "ds")
    assert set(ds.targets) == {"possible", "violation", "group_violation", "violation_frame", "onset_frame",
                               "design", "balanced"}
    assert ds.targets["violation_frame"]["defined_when"] == {"possible": "false"}
    clips = ds.clips()
    assert len(clips) == 8 and {c.targets["possible"] for c in clips} == {"true", "false"}
    assert all(c.clip_id.endswith(("-possible", "-impossible")) for c in clips)


def family_twins(family: str, kind: str, index: int = 1, frames: int = 24, **violation):
    raw = tiny_spec_dict(family, frames=frames, counts=(4, 0, 0))
    raw["violations"] = {"kind": kind, "at": 0.5, **violation}
    spec = parse_spec(raw)
    return render_group(spec, plan(spec)[index])


@pytest.mark.parametrize("family,kind", [("impact", "through_floor"), ("impact", "gravity_reversal"),
                                         ("impact", "teleport"), ("impact", "vanish"), ("lights", "light_jump"),
                                         ("lights", "light_speed_change"), ("lights", "vanish")])
def test_every_family_violation_shares_its_prefix(family, kind):
    possible, impossible = family_twins(family, kind)
    k = impossible.labels["targets"]["violation_frame"]
    assert 1 <= k < 24
    assert np.array_equal(possible.frames[:k], impossible.frames[:k])
    assert possible.labels["frames"][:k] == impossible.labels["frames"][:k]
    assert possible.labels["frames"][k:] != impossible.labels["frames"][k:]
    assert not np.array_equal(possible.frames[-1], impossible.frames[-1])


def test_impact_object_passes_through_the_floor_it_would_have_hit():
    possible, impossible = family_twins("impact", "through_floor")
    z_possible = body_series(possible, "position")[:, 2]
    z_impossible = body_series(impossible, "position")[:, 2]
    assert z_possible.min() > 0 and z_impossible[-1] < 0
    k = impossible.labels["targets"]["violation_frame"]
    assert not any(e["frame"] >= k for e in impossible.labels["events"] if "object" in e["bodies"])


def test_impact_gravity_reversal_accelerates_upward_before_the_impact():
    possible, impossible = family_twins("impact", "gravity_reversal")
    k = impossible.labels["targets"]["violation_frame"]
    t = np.array([f["t"] for f in impossible.labels["frames"]])
    vz = body_series(impossible, "linear_velocity")[:, 2]
    assert np.allclose(np.diff(vz[k:]) / np.diff(t[k:]), 9.81, rtol=1e-3)


def test_light_jump_moves_label_and_pixels():
    possible, impossible = family_twins("lights", "light_jump", distance=3.0)  # m, in a sky 20 m up
    k = impossible.labels["targets"]["violation_frame"]
    pos = lambda clip: np.array([f["lights"]["light"]["position"] for f in clip.labels["frames"]])  # noqa: E731
    jump = pos(impossible) - pos(possible)
    assert np.allclose(jump[:k], 0) and np.allclose(jump[k:], jump[k]) and np.linalg.norm(jump[k]) > 0.3
    xy = lambda clip: np.array([f["lights"]["light"]["image_xy"] for f in clip.labels["frames"]])  # noqa: E731
    assert np.abs(xy(impossible)[k:] - xy(possible)[k:]).max() > 2


# ---------------------------------------------------------------- the occluded quadruplet (IntPhys's design)


def quadruplet(kind: str, index: int = 0, frames: int = 16, size: int = 64, **violations):
    raw = tiny_spec_dict(frames=frames, size=size, counts=(16, 0, 0), clearance_end={"uniform": [0.5, 1.0]})
    raw["violations"] = {"design": "occluded", "kind": kind, "at": 0.45, "distance": {"uniform": [0.4, 0.8]},
                         **violations}
    spec = parse_spec(raw)
    return {clip.clip_id.rsplit("-", 1)[1]: clip for clip in render_group(spec, plan(spec)[index])}


@pytest.mark.parametrize("kind", ["permanence", "teleport"])
@pytest.mark.parametrize("index", [0, 1, 2])
def test_quadruplet_splices_two_possible_clips_where_the_occluder_hides_the_object(kind, index):
    clips = quadruplet(kind, index)
    a, b, ab, ba = (clips[v] for v in ("possible_a", "possible_b", "impossible_ab", "impossible_ba"))
    targets = a.labels["targets"]
    k, onset = targets["violation_frame"], targets["onset_frame"]
    assert 1 <= k < onset < 16
    group = {"group_violation": kind, "violation_frame": k, "onset_frame": onset, "design": "occluded",
             "balanced": "true"}
    kinds = ("vanish", "appear") if kind == "permanence" else ("teleport", "teleport")
    assert [c.labels["targets"] for c in (a, b, ab, ba)] == [
        {"possible": "true", "violation": "none", **group}, {"possible": "true", "violation": "none", **group},
        {"possible": "false", "violation": kinds[0], **group}, {"possible": "false", "violation": kinds[1], **group}]
    assert len({c.group_id for c in clips.values()}) == 1
    # Each impossible clip is its first possible clip up to the switch, then the other one: frames and states.
    for spliced, first, second in ((ab, a, b), (ba, b, a)):
        assert np.array_equal(spliced.frames, np.concatenate([first.frames[:k], second.frames[k:]]))
        assert spliced.labels["frames"] == first.labels["frames"][:k] + second.labels["frames"][k:]
        # Pixels: the same as the possible clip that shares its beginning until the reveal, different at it.
        assert np.array_equal(spliced.frames[:onset], first.frames[:onset])
        assert not np.array_equal(spliced.frames[onset], first.frames[onset])
    # Behind the occluder (switch to reveal) all four clips show the same pixels: the change is never seen.
    for i in range(k, onset):
        assert all(np.array_equal(a.frames[i], c.frames[i]) for c in (b, ab, ba))
    # The occluder moves the same way in every clip.
    occluder = [[f["bodies"]["occluder"]["position"] for f in c.labels["frames"]] for c in (a, b, ab, ba)]
    assert occluder[0] == occluder[1] == occluder[2] == occluder[3]


def test_quadruplet_possible_clips_are_free_falls_present_absent_or_a_distance_apart():
    clips = quadruplet("teleport", distance={"fixed": 0.6})
    a, b = clips["possible_a"], clips["possible_b"]
    za, zb = body_series(a, "position")[:, 2], body_series(b, "position")[:, 2]
    t = np.array([f["t"] for f in a.labels["frames"]])
    assert np.allclose(zb - za, 0.6, atol=1e-12)
    vz0, h = body_series(a, "linear_velocity")[0, 2], 1 / 240
    # Free fall, as PyBullet integrates it (semi-implicit Euler at 240 Hz: the -g·h·t/2 term).
    assert np.allclose(za, za[0] + vz0 * t - 0.5 * 9.81 * t**2 - 0.5 * 9.81 * h * t, atol=1e-6)
    clips = quadruplet("permanence")
    assert all(f["bodies"]["object"].get("visible", True) for f in clips["possible_a"].labels["frames"])
    assert not any(f["bodies"]["object"].get("visible", True) for f in clips["possible_b"].labels["frames"])
    hidden_from = clips["impossible_ab"].labels["targets"]["violation_frame"]
    assert [f["bodies"]["object"].get("visible", True) for f in clips["impossible_ab"].labels["frames"]] == \
        [True] * hidden_from + [False] * (16 - hidden_from)


def test_an_occluder_that_hides_the_object_until_the_end_is_a_clear_error():
    # A slow occluder centred on the object near the last frame never shows it again: nothing to reveal.
    with pytest.raises(ValueError, match="occluder never hides the object before a frame that shows it again"):
        quadruplet("permanence", at=0.95, occluder_hides=6)


def test_occluded_design_allows_only_the_kinds_a_family_can_hide():
    raw = tiny_spec_dict(counts=(8, 4, 4))
    raw["violations"] = {"design": "occluded", "kind": "gravity_reversal"}
    with pytest.raises(SpecError, match="design occluded; allowed: permanence, teleport"):
        parse_spec(raw)
    raw["violations"]["kind"] = {"choice": ["permanence", "teleport"]}
    assert parse_spec(raw).variants == ("possible_a", "possible_b", "impossible_ab", "impossible_ba")


@pytest.mark.parametrize("family,frames", [("impact", 24), ("lights", 24)])
def test_impact_and_lights_quadruplets_hide_the_switch(family, frames):
    """Permanence in the other families: the object (impact) or the main light (lights) vanishes or appears
    behind the occluder; the four clips show the same pixels from the switch until the reveal."""
    raw = tiny_spec_dict(family, frames=frames, size=64, counts=(8, 0, 0))
    raw["violations"] = {"design": "occluded", "kind": "permanence", "at": 0.5}
    spec = parse_spec(raw)
    clips = {c.clip_id.rsplit("-", 1)[1]: c for c in render_group(spec, plan(spec)[1])}
    a, b, ab, ba = (clips[v] for v in ("possible_a", "possible_b", "impossible_ab", "impossible_ba"))
    k, onset = a.labels["targets"]["violation_frame"], a.labels["targets"]["onset_frame"]
    assert 1 <= k < onset < frames
    assert [c.labels["targets"]["violation"] for c in (a, b, ab, ba)] == ["none", "none", "vanish", "appear"]
    body = "object" if family == "impact" else "light"
    assert not any(f["bodies"][body].get("visible", True) for f in b.labels["frames"])
    assert np.array_equal(ab.frames, np.concatenate([a.frames[:k], b.frames[k:]]))
    assert np.array_equal(ba.frames, np.concatenate([b.frames[:k], a.frames[k:]]))
    for i in range(k, onset):
        assert all(np.array_equal(a.frames[i], c.frames[i]) for c in (b, ab, ba))
    assert not np.array_equal(ab.frames[onset], a.frames[onset])
    raw["violations"]["kind"] = "teleport"
    with pytest.raises(SpecError, match=f"{family} with design occluded; allowed: permanence"):
        parse_spec(raw)
