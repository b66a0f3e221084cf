"""Occluded quadruplets of the later families: gravity (gravity_change), arrow_of_time (energy_change) and
contact (stops_short). Splices, labels, the physics of the two possible clips, determinism, and on tiny
datasets the certification's logic: the pixel controls tie every group and the state oracle wins them."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from simgen.run.engine import plan, render_group
from simgen.run.variants import VIOLATION_TARGETS, violation_targets
from simgen.spec import SpecError, parse_spec

SCENES = Path(__file__).resolve().parents[2] / "scenes"
KINDS = {"gravity": ("gravity_change", ("gravity_change", "gravity_change")),
         "arrow_of_time": ("energy_change", ("energy_gain", "energy_loss")),
         "contact": ("stops_short", ("stops_short", "starts_rolling"))}
BODY = {"gravity": "object", "arrow_of_time": "object", "contact": "ball"}


def tiny_violations(family: str, groups: int = 2, size: int = 64) -> dict:
    """scenes/violations_<family>.yaml at ``size`` pixels with ``groups`` quadruplets in train."""
    raw = copy.deepcopy(yaml.safe_load((SCENES / f"violations_{family}.yaml").read_text()))
    raw["render"].update(width=size, height=size)
    raw["counts"] = {"train": 4 * groups, "val": 0, "test": 0}
    return raw


def quadruplet(family: str, index: int = 0):
    spec = parse_spec(tiny_violations(family))
    return {c.clip_id.rsplit("-", 1)[1]: c for c in render_group(spec, plan(spec)[index])}


def series(clip, body: str, key: str) -> np.ndarray:
    return np.array([f["bodies"][body][key] for f in clip.labels["frames"]])


@pytest.mark.parametrize("family", list(KINDS))
def test_quadruplet_splices_two_possible_clips_behind_the_occluder(family):
    clips = quadruplet(family)
    a, b, ab, ba = (clips[v] for v in ("possible_a", "possible_b", "impossible_ab", "impossible_ba"))
    kind, (first, second) = KINDS[family]
    k, onset = a.labels["targets"]["violation_frame"], a.labels["targets"]["onset_frame"]
    assert 1 <= k < onset < 16
    group = {"group_violation": kind, "violation_frame": k, "onset_frame": onset, "design": "occluded",
             "balanced": "true"}
    assert [c.labels["targets"] for c in (a, b, ab, ba)] == [
        {"possible": "true", "violation": "none", **group}, {"possible": "true", "violation": "none", **group},
        {"possible": "false", "violation": first, **group}, {"possible": "false", "violation": second, **group}]
    for spliced, before, after in ((ab, a, b), (ba, b, a)):
        assert np.array_equal(spliced.frames, np.concatenate([before.frames[:k], after.frames[k:]]))
        assert spliced.labels["frames"] == before.labels["frames"][:k] + after.labels["frames"][k:]
        assert not np.array_equal(spliced.frames[onset], before.frames[onset])
    for i in range(k, onset):  # behind the panel, all four show the same pixels
        assert all(np.array_equal(a.frames[i], c.frames[i]) for c in (b, ab, ba))
    # The two possible clips differ in the body's state at every frame: the splice is never a no-op.
    body = BODY[family]
    assert np.all(np.linalg.norm(series(a, body, "position") - series(b, body, "position"), axis=1) > 1e-4)


def test_gravity_change_keeps_height_and_speed_where_the_flights_meet_and_scales_the_acceleration():
    clips = quadruplet("gravity")
    a, b = clips["possible_a"], clips["possible_b"]
    t = np.array([f["t"] for f in a.labels["frames"]])
    za, zb = series(a, "object", "position")[:, 2], series(b, "object", "position")[:, 2]
    fa, fb = np.polyfit(t, za, 2), np.polyfit(t, zb, 2)
    assert np.allclose(np.polyval(fa, t), za, atol=1e-9) and np.allclose(np.polyval(fb, t), zb, atol=1e-9)
    factor = a.labels["params"]["violation"]["speed_factor"]
    assert 2 * fa[0] == pytest.approx(-9.81, rel=1e-6) and fb[0] == pytest.approx(factor * fa[0], rel=1e-9)
    # They meet half a frame before k: same height and vertical velocity there, and only there.
    k = a.labels["targets"]["violation_frame"]
    meet = (t[k - 1] + t[k]) / 2
    assert np.polyval(fa, meet) == pytest.approx(np.polyval(fb, meet), abs=1e-9)
    assert np.polyval(np.polyder(fa), meet) == pytest.approx(np.polyval(np.polyder(fb), meet), abs=1e-9)
    # Horizontal motion and spin are A's.
    assert np.array_equal(series(a, "object", "position")[:, :2], series(b, "object", "position")[:, :2])
    assert np.array_equal(series(a, "object", "orientation"), series(b, "object", "orientation"))


def test_energy_change_is_a_faster_slide_under_the_same_friction():
    clips = quadruplet("arrow_of_time")
    a, b = clips["possible_a"], clips["possible_b"]
    t = np.array([f["t"] for f in a.labels["frames"]])
    speed = lambda clip: np.linalg.norm(series(clip, "object", "linear_velocity")[:, :2], axis=1)  # noqa: E731
    k = a.labels["targets"]["violation_frame"]
    factor = a.labels["params"]["violation"]["speed_factor"]
    # B decelerates as A does (the same friction) and, where they meet, is `factor` times as fast.
    slope_a, slope_b = np.polyfit(t, speed(a), 1)[0], np.polyfit(t, speed(b), 1)[0]
    assert slope_a < 0 and slope_b == pytest.approx(slope_a, rel=0.02)
    meet_a, meet_b = (speed(a)[k - 1] + speed(a)[k]) / 2, (speed(b)[k - 1] + speed(b)[k]) / 2
    assert meet_b == pytest.approx(factor * meet_a, rel=0.02)
    assert speed(b).min() > speed(a).min() > 0  # neither comes to rest in view


def test_stops_short_pairs_the_roll_with_the_ball_at_rest_where_it_went_behind_the_panel():
    clips = quadruplet("contact")
    a, b = clips["possible_a"], clips["possible_b"]
    k = a.labels["targets"]["violation_frame"]
    pa, pb = series(a, "ball", "position"), series(b, "ball", "position")
    assert np.all(pb == pb[0]) and np.allclose(pb[0], (pa[k - 1] + pa[k]) / 2)
    assert np.all(series(b, "ball", "linear_velocity") == 0)
    assert np.linalg.norm(np.diff(pa, axis=0), axis=1).min() > 0.03  # A rolls on
    assert series(a, "target", "position").tolist() == series(b, "target", "position").tolist()


@pytest.mark.parametrize("family", list(KINDS))
def test_a_group_renders_the_same_bytes_twice(family):
    first, second = quadruplet(family, 1), quadruplet(family, 1)
    for name in first:
        assert np.array_equal(first[name].frames, second[name].frames)
        assert first[name].labels == second[name].labels


def test_new_kinds_appear_in_the_classes_only_of_the_specs_that_render_them():
    gravity = parse_spec(tiny_violations("gravity"))
    assert violation_targets(gravity)["violation"].classes[-1] == "gravity_change"
    assert "gravity_change" in violation_targets(gravity)["group_violation"].classes
    falling = yaml.safe_load((SCENES / "violations.yaml").read_text())
    assert violation_targets(parse_spec(falling)) is VIOLATION_TARGETS


def test_occluded_violations_a_family_cannot_render_are_refused_at_load():
    raw = tiny_violations("arrow_of_time")
    raw["params"]["event"] = {"choice": ["bounce", "slide"]}
    with pytest.raises(SpecError, match="occluded violations of arrow_of_time need slides only"):
        parse_spec(raw)
    raw = tiny_violations("gravity")
    raw["violations"]["kind"] = "stops_short"
    with pytest.raises(SpecError, match="cannot be rendered by gravity with design occluded; allowed: gravity_change"):
        parse_spec(raw)


def test_on_tiny_sets_the_pixel_controls_tie_and_the_oracle_wins(tmp_path):
    """The certification's logic on 3 quadruplets per family: each window of an impossible clip is a window of a
    possible one for the short-memory pixel predictors (a tie in every group), and the state oracle, whose
    input differs from the hidden switch on, finds every violation."""
    from evaluate.config import SurpriseConfig
    from evaluate.tasks.surprise import run_surprise
    from simgen.run.parallel import render_dataset

    datasets = []
    for family in KINDS:
        datasets.append(str(tmp_path / family))
        render_dataset(parse_spec(tiny_violations(family, groups=3, size=48)), datasets[-1], workers=1)
    results = run_surprise(SurpriseConfig(datasets=datasets, out=str(tmp_path / "run"), contexts=[4], n_bootstrap=20,
                                          encoders=["extrapolate,order=0", "extrapolate,order=1", "oracle"]))
    scores = {(Path(r.dataset).name, r.encoder, r.aggregate): r.relative_accuracy for r in results.results}
    assert len(scores) == 3 * 3 * 3
    for (_, encoder, _), value in scores.items():
        assert value == (1.0 if encoder == "oracle" else 0.5)
