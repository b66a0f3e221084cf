"""Spec validation: every bad input gives one clear line naming file, field and what is allowed."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simgen.spec import SpecError, load_spec, parse_spec, scale_counts, spec_json_schema
from tests.conftest import SCENES, tiny_spec_dict


def error_for(raw, source="bad.yaml") -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(raw, source=source)
    message = str(info.value)
    assert "\n" not in message and message.startswith(source)
    return message


def test_shipped_specs_validate():
    """Every spec in scenes/ loads; a spec is named after its family (violations.yaml mixes them), and a
    preset adds a suffix (falling_rising_long.yaml)."""
    for path in SCENES.glob("*.yaml"):
        spec = load_spec(path)
        assert spec.violations or path.stem == spec.family or path.stem.startswith(f"{spec.family}_"), path


def test_unknown_key_suggests_the_right_one():
    raw = tiny_spec_dict()
    raw["params"]["speed_strat"] = 1.0
    message = error_for(raw)
    assert "params.speed_strat" in message and "did you mean 'speed_start'" in message


def test_unknown_top_level_key():
    raw = tiny_spec_dict()
    raw["rendr"] = {}
    assert "did you mean 'render'" in error_for(raw)


def test_range_low_above_high():
    raw = tiny_spec_dict()
    raw["params"]["size"] = {"uniform": [0.3, 0.1]}
    message = error_for(raw)
    assert "params.size" in message and "low end 0.3 is above high end 0.1" in message


def test_negative_mass():
    raw = tiny_spec_dict()
    raw["params"]["mass"] = {"uniform": [-1.0, 2.0]}
    message = error_for(raw)
    assert "params.mass" in message and "must be > 0 kg" in message


def test_zero_frames():
    raw = tiny_spec_dict(frames=0)
    message = error_for(raw)
    assert "render.frames" in message and "greater than or equal to 1" in message


def test_fps_not_dividing_physics_rate():
    raw = tiny_spec_dict(fps=25)
    message = error_for(raw)
    assert "render" in message and "fps=25 does not divide physics_hz=240" in message and "24" in message


def test_missing_family():
    raw = tiny_spec_dict()
    del raw["family"]
    message = error_for(raw)
    assert "'family' is missing" in message and "falling_rising" in message


def test_unknown_family_suggests():
    raw = tiny_spec_dict()
    raw["family"] = "falling_rsing"
    assert "did you mean 'falling_rising'" in error_for(raw)


def test_choice_outside_allowed_options():
    raw = tiny_spec_dict()
    raw["params"]["shape"] = {"choice": ["sphere", "teapot"]}
    message = error_for(raw)
    assert "teapot" in message and "choose from" in message


def test_odd_group_count_is_rejected():
    raw = tiny_spec_dict(counts=(3, 2, 2))
    assert "counts" in error_for(raw) and "multiple of 2" in error_for(raw)


def test_yaml_syntax_error_names_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("family: falling_rising\nrender: [1, 2\n")
    with pytest.raises(SpecError, match=r"broken.yaml \(line \d+\): not valid YAML"):
        load_spec(path)


def test_distributions_sample_within_their_support():
    raw = tiny_spec_dict()
    raw["params"].update(size={"log_uniform": [0.1, 0.2]}, spin={"choice": [1.0, 2.0]})
    spec = parse_spec(raw)
    rng = np.random.default_rng(0)
    for _ in range(50):
        drawn = spec.params.sample(rng)
        assert 0.1 <= drawn["size"] <= 0.2 and drawn["spin"] in (1.0, 2.0)
        assert drawn["gravity"] == 9.81


def test_seed_zero_is_an_ordinary_seed():
    a = parse_spec(tiny_spec_dict(seed=0))
    b = parse_spec(tiny_spec_dict(seed=1))
    assert a.seed == 0 and a.fingerprint() != b.fingerprint()


def test_scale_counts_keeps_groups_and_total():
    counts = parse_spec(tiny_spec_dict(counts=(280, 60, 60))).counts
    scaled = scale_counts(counts, 400, 2)
    assert sum(n for _, n in scaled.items()) == 400 and all(n % 2 == 0 for _, n in scaled.items())
    assert scale_counts(counts, 41, 2).train % 2 == 0


def test_json_schema_describes_families():
    schema = spec_json_schema()
    text = json.dumps(schema)
    assert "falling_rising" in text and "speed_start" in text and "uniform" in text


def test_cli_validate_error_is_one_red_line_and_nonzero(tmp_path):
    raw = tiny_spec_dict()
    raw["params"]["mass"] = -1.0
    path = tmp_path / "neg.yaml"
    path.write_text(yaml.safe_dump(raw))
    proc = subprocess.run([sys.executable, "-m", "simgen.cli.app", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "neg.yaml" in lines[0] and "params.mass" in lines[0] and "Traceback" not in proc.stderr


# -- fuzzing: any spec either validates or fails with a SpecError, never a traceback

scalar = st.one_of(st.integers(-5, 300), st.floats(-10, 300, allow_nan=False), st.text(max_size=5), st.booleans(),
                   st.none())
dist = st.one_of(
    scalar,
    st.fixed_dictionaries({"uniform": st.lists(st.one_of(st.floats(-5, 5), st.just(float("nan")), st.just(float("inf"))), min_size=0, max_size=3)}),
    st.fixed_dictionaries({"log_uniform": st.lists(st.floats(-5, 5), min_size=2, max_size=2)}),
    st.fixed_dictionaries({"choice": st.lists(scalar, max_size=3)}),
    st.dictionaries(st.sampled_from(["uniform", "choice", "bogus"]), scalar, max_size=2),
)
param_names = st.sampled_from(["shape", "size", "mass", "speed_start", "gravity", "spin", "texture", "masss"])
render_keys = st.sampled_from(["width", "height", "fps", "frames", "physics_hz", "shadows", "fsp"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=st.dictionaries(param_names, dist, max_size=4), render=st.dictionaries(render_keys, scalar, max_size=3),
       counts=st.dictionaries(st.sampled_from(["train", "val", "test"]), st.integers(-2, 10), max_size=3),
       family=st.sampled_from(["falling_rising", "nope", 3, None]), seed=scalar)
def test_fuzzed_specs_validate_or_fail_cleanly(params, render, counts, family, seed):
    raw = {"family": family, "seed": seed, "params": params, "render": render, "counts": counts}
    try:
        spec = parse_spec(raw, source="fuzz.yaml")
    except SpecError as e:
        assert str(e).startswith("fuzz.yaml") and "\n" not in str(e)
        return
    spec.params.sample(np.random.default_rng(0))
