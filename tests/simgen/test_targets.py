"""Target declarations (reversal, defined_when, period, residual_on) and the time-even magnitudes
speed_mid and delta_v, checked against closed forms and against real time-reversed twins."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simgen.dataset.format import Dataset
from simgen.families import FAMILIES
from simgen.families.base import FamilyInfo, Reversal, TargetInfo, check_targets, reversed_targets
from simgen.families.lights.sim import Lights
from simgen.physics.time_reversal import time_reverse
from simgen.physics.trajectory import Trajectory
from simgen.run.engine import plan, render_group
from simgen.run.variants import VIOLATION_TARGETS
from simgen.spec import parse_spec
from tests.conftest import tiny_spec_dict

# ---------------------------------------------------------------- the declaration itself


def test_a_target_without_the_new_fields_writes_what_it_wrote_before():
    assert TargetInfo("regression", "d", "m").to_dict() == {"kind": "regression", "description": "d", "unit": "m"}
    assert VIOLATION_TARGETS["possible"].to_dict() == {
        "kind": "class", "description": "whether physics holds for the whole clip", "classes": ["false", "true"]}


def test_optional_fields_are_written_in_their_documented_shapes():
    t = TargetInfo("regression", "d", "deg", reversal=Reversal("rotate", degrees=180.0), period=360.0,
                   defined_when={"moves": "linear"})
    assert t.to_dict() == {"kind": "regression", "description": "d", "unit": "deg", "period": 360.0,
                           "defined_when": {"moves": "linear"}, "reversal": {"rule": "rotate", "degrees": 180.0}}
    assert TargetInfo("regression", "d", reversal=Reversal("negate", of="x")).to_dict()["reversal"] == {
        "rule": "negate", "of": "x"}
    assert TargetInfo("regression", "d", residual_on=("mass",)).to_dict()["residual_on"] == ["mass"]


@pytest.mark.parametrize("make", [
    lambda: Reversal("odd"),
    lambda: Reversal("same", of="x"),
    lambda: Reversal("rotate"),
    lambda: Reversal("negate", degrees=90.0),
    lambda: TargetInfo("class", "d", classes=("a", "b", "c"), reversal=Reversal("swap_classes")),
    lambda: TargetInfo("class", "d", classes=("a", "b"), reversal=Reversal("negate")),
    lambda: TargetInfo("regression", "d", reversal=Reversal("rotate", degrees=180.0)),  # no period
    lambda: TargetInfo("regression", "d", period=0.0),
    lambda: TargetInfo("regression", "d", defined_when={}),
    lambda: TargetInfo("class", "d", classes=("a", "b"), residual_on=("x",)),
])
def test_malformed_declarations_are_refused(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("targets", [
    {"a": TargetInfo("regression", "d", reversal=Reversal("negate", of="b"))},  # no such target
    {"a": TargetInfo("regression", "d", defined_when={"c": "yes"}),
     "c": TargetInfo("class", "d", classes=("no", "maybe"))},  # not one of c's classes
    {"a": TargetInfo("regression", "d", residual_on=("a",))},  # on itself
])
def test_references_to_other_targets_are_checked(targets):
    with pytest.raises(ValueError):
        check_targets("test", targets)


def test_every_family_declares_a_reversal_for_every_target():
    for family in FAMILIES.values():
        assert isinstance(family, FamilyInfo)
        check_targets(family.name, family.targets)
        assert all(t.reversal is not None for t in family.targets.values()), family.name


# ---------------------------------------------------------------- falling_rising


def test_falling_rising_manifest_declares_reversal_rules(tiny_falling_rising):
    targets = Dataset(tiny_falling_rising).targets
    assert targets["direction"]["reversal"] == {"rule": "swap_classes"}
    assert targets["vz_start"]["reversal"] == {"rule": "negate", "of": "vz_end"}
    assert targets["vz_end"]["reversal"] == {"rule": "negate", "of": "vz_start"}
    assert targets["accel_z"]["reversal"] == {"rule": "same"}
    assert targets["height_start"]["reversal"] == {"rule": "undefined"}
    assert targets["speed_mid"] == {"kind": "regression", "description": targets["speed_mid"]["description"],
                                    "unit": "m/s", "reversal": {"rule": "same"}, "in_one_frame": True}


def test_falling_rising_twins_satisfy_the_declared_rules(tiny_falling_rising):
    ds = Dataset(tiny_falling_rising)
    declared = FAMILIES["falling_rising"].targets
    groups: dict[str, dict[str, dict]] = {}
    for clip in ds.clips():
        groups.setdefault(clip.group_id, {})[clip.targets["direction"]] = ds.read_labels(clip)["targets"]
    assert len(groups) == 8
    for twins in groups.values():
        falling, rising = twins["falling"], twins["rising"]
        assert rising["vz_start"] == -falling["vz_end"] and rising["vz_end"] == -falling["vz_start"]
        assert rising["speed_mid"] == falling["speed_mid"]  # measured on each clip's own states
        # Every rule, both ways (reversal is an involution); height_start is undefined, so left out.
        expected = {k: v for k, v in rising.items() if k != "height_start"}
        assert reversed_targets(declared, falling) == expected
        assert reversed_targets(declared, rising) == {k: v for k, v in falling.items() if k != "height_start"}


def falling_rising_group(frames: int, index: int = 0, **params):
    spec = parse_spec(tiny_spec_dict(frames=frames, counts=(8, 0, 0), **params))
    return spec, render_group(spec, plan(spec)[index])


@pytest.mark.parametrize("frames", [7, 8, 16])
@pytest.mark.parametrize("index", range(2))
def test_speed_mid_is_the_free_fall_speed_at_the_middle_time(frames, index):
    spec, (falling, rising) = falling_rising_group(frames, index)
    params = falling.labels["params"]
    t_mid = (frames - 1) / spec.render.fps / 2
    closed_form = params["speed_start"] + params["gravity"] * t_mid  # |v0 + g t|, falling from v0 down
    assert falling.labels["targets"]["speed_mid"] == pytest.approx(closed_form, rel=1e-9, abs=1e-9)
    assert rising.labels["targets"]["speed_mid"] == falling.labels["targets"]["speed_mid"]
    vz = [f["bodies"]["object"]["linear_velocity"][2] for f in falling.labels["frames"]]
    if frames % 2:  # the middle frame itself
        assert falling.labels["targets"]["speed_mid"] == abs(vz[frames // 2])


def test_speed_mid_is_not_explained_by_direction():
    """Unlike vz_start, which is about ±speed by direction, speed_mid takes the same range for both."""
    speeds = [c.labels["targets"]["speed_mid"] for i in range(4) for c in falling_rising_group(8, i)[1]]
    assert np.ptp(speeds) > 0.1


# ---------------------------------------------------------------- impact


def impact_clips(n: int = 6, **params):
    raw = tiny_spec_dict("impact", frames=40, counts=(n, 0, 0), **params)
    spec = parse_spec(raw)
    return [render_group(spec, task)[0] for task in plan(spec)]


@pytest.fixture(scope="module")
def impacts():
    return impact_clips(6)


def test_impact_manifest_declares_delta_v_and_impulse_given_mass():
    declared = {k: t.to_dict() for k, t in FAMILIES["impact"].targets.items()}
    assert declared["impulse_given_mass"]["residual_on"] == ["mass"]
    assert declared["mass"]["reversal"] == {"rule": "same"}
    # First-impact targets: the reversed clip's first impact is the original's last one (see params.py).
    for name in ("impact_impulse", "impulse_given_mass", "delta_v", "impact_speed", "peak_force", "restitution",
                 "n_bounces", "impact_time", "surface"):
        assert declared[name]["reversal"] == {"rule": "undefined"}, name


def test_delta_v_is_impulse_over_mass_and_the_recorded_change_of_normal_velocity(impacts):
    """m·Δv_n = J − m·g·n_z·(t_end − t_start) for the first impact (gravity took g·Δt of the change while the
    contact acted): delta_v = J/m = Δv_n + g·n_z·Δt, within 1e-3 (relative; measured: ~2e-6)."""
    for clip in impacts:
        labels = clip.labels
        t, mass, g = labels["targets"], labels["params"]["mass"], labels["params"]["gravity"]
        first = next(e for e in labels["events"] if "object" in e["bodies"])
        assert t["impulse_given_mass"] == t["impact_impulse"] == first["normal_impulse"]
        assert t["delta_v"] == t["impact_impulse"] / mass
        n = np.asarray(first["normal"]) * (1 if first["bodies"][0] == "object" else -1)
        dv = np.subtract(first["velocity_after"]["object"], first["velocity_before"]["object"]) @ n
        gravity_share = g * n[2] * (first["t_end"] - first["t_start"])  # g > 0 is the magnitude
        assert mass * t["delta_v"] == pytest.approx(mass * (dv + gravity_share), rel=1e-3)


@pytest.mark.parametrize("index", range(3))
def test_delta_v_of_a_sphere_dropped_on_the_floor_is_closed_form(index):
    """No spin, no horizontal motion: delta_v = approach + separation speed + g·(t_end − t_start), and the
    approach speed is the ballistic sqrt(vz0² + 2·g·h) (to the integrator's O(g·dt))."""
    spec = parse_spec(tiny_spec_dict("impact", frames=40, counts=(3, 0, 0), surface="floor", shape="sphere",
                                     horizontal_speed=0.0))
    (clip,) = render_group(spec, plan(spec)[index])
    t, p = clip.labels["targets"], clip.labels["params"]
    first = next(e for e in clip.labels["events"] if "object" in e["bodies"])
    expected = first["approach_speed"] + first["separation_speed"] + p["gravity"] * (first["t_end"] - first["t_start"])
    assert t["delta_v"] == pytest.approx(expected, rel=1e-6)
    steps = first["steps"]
    assert t["delta_v"] == pytest.approx((1 + t["restitution"]) * t["impact_speed"],
                                         abs=p["gravity"] * first["dt"] * steps * 1.01)
    ballistic = math.sqrt(p["vz_start"] ** 2 + 2 * p["gravity"] * p["height"])
    assert t["impact_speed"] == pytest.approx(ballistic, abs=2 * p["gravity"] / spec.render.physics_hz)


def test_most_impact_clips_have_more_than_one_collision(impacts):
    """Why the first-impact targets are `undefined` under reversal rather than `same`."""
    several = sum(len([e for e in c.labels["events"] if "object" in e["bodies"]]) > 1 for c in impacts)
    assert several >= len(impacts) // 2


# ---------------------------------------------------------------- lights


def lights_clip(index: int, **params):
    params.setdefault("n_distractors", 0)
    spec = parse_spec(tiny_spec_dict("lights", frames=24, size=64, counts=(8, 0, 0), **params))
    (clip,) = render_group(spec, plan(spec)[index])
    return clip


def test_lights_manifest_declares_defined_when_period_and_rotation():
    declared = {k: t.to_dict() for k, t in FAMILIES["lights"].targets.items()}
    for name in ("speed", "speed_px", "direction_deg"):
        assert declared[name]["defined_when"] == {"moves": "linear"}
        assert "defined only when moves is linear" in declared[name]["description"]
    for name in ("blink_hz", "duty_cycle"):
        assert declared[name]["defined_when"] == {"blinks": "blinking"}
        assert "defined only when blinks is blinking" in declared[name]["description"]
    assert declared["direction_deg"]["period"] == 360.0
    assert declared["direction_deg"]["reversal"] == {"rule": "rotate", "degrees": 180.0}
    for name in ("moves", "blinks", "kind", "speed", "speed_px", "blink_hz", "duty_cycle"):
        assert declared[name]["reversal"] == {"rule": "same"}, name


@pytest.mark.parametrize("moves,blinks", [("static", "steady"), ("static", "blinking"), ("linear", "steady")])
def test_undefined_targets_keep_their_placeholder_values(moves, blinks):
    t = lights_clip(0, moves=moves, blinks=blinks).labels["targets"]
    if moves == "static":
        assert (t["speed"], t["speed_px"], t["direction_deg"]) == (0.0, 0.0, 0.0)
    if blinks == "steady":
        assert (t["blink_hz"], t["duty_cycle"]) == (0.0, 1.0)
    declared = FAMILIES["lights"].targets
    assert declared["speed"].defined_on(t) == (moves == "linear")
    assert declared["blink_hz"].defined_on(t) == (blinks == "blinking")


@pytest.mark.parametrize("index", range(3))
def test_lights_reversed_clip_satisfies_the_declared_rules(index):
    """The targets measured on the time-reversed states (speed_px, direction_deg from the image track) are
    those the rules give: the same speed, the direction turned by 180°."""
    clip = lights_clip(index, moves="linear", blinks="blinking")
    targets = clip.labels["targets"]
    trajectory = Trajectory([], {}, dict(targets), focus=(0.0, 0.0, 0.0))
    (reversed_clip,) = Lights().make_clips(trajectory, clip.frames[::-1], time_reverse(clip.labels["frames"]))
    expected = reversed_targets(FAMILIES["lights"].targets, targets)
    assert set(expected) == set(targets)
    for name, value in expected.items():
        got = reversed_clip.targets[name]
        if name == "direction_deg":  # circular: compare the angle, not the number
            assert math.cos(math.radians(got - value)) == pytest.approx(1.0, abs=1e-12)
        elif isinstance(value, str):
            assert got == value, name
        else:
            assert got == pytest.approx(value, rel=1e-12), name
    assert expected["direction_deg"] == pytest.approx((targets["direction_deg"] + 180.0) % 360.0)


def test_undefined_targets_are_left_out_of_the_reversed_targets():
    t = lights_clip(0, moves="static", blinks="steady").labels["targets"]
    assert set(reversed_targets(FAMILIES["lights"].targets, t)) == {"moves", "blinks", "kind"}


def test_questions_name_each_class_by_its_letter_and_round_trip():
    """A declared question (a VLM's zero-shot prompt) offers one answer letter per class, A for the first,
    and nothing else; dataset.json keeps it, and a target without one writes the same bytes as before."""
    import re
    import string

    asked = {(family, name): t for family, info in FAMILIES.items() for name, t in info.targets.items() if t.question}
    assert ("falling_rising", "direction") in asked
    for (family, name), target in asked.items():
        offered = sorted(set(re.findall(r"\b[A-Z]\b", target.question.replace("Answer", ""))) - {"I"})
        assert offered == list(string.ascii_uppercase[:len(target.classes)]), (family, name, target.question)
        assert TargetInfo.from_dict(target.to_dict()) == target
    plain = TargetInfo("class", "d", classes=("a", "b"))
    assert "question" not in plain.to_dict()
    with pytest.raises(ValueError, match="question: .* on a class target"):
        TargetInfo("regression", "d", question="How fast? Answer A.")
