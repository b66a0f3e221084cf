"""Nothing a user made is overwritten, and nothing invalid is reported as a result (issue 27).

A fuzz test walks every subcommand of both tools with invalid option values: one line, a non-zero exit,
no traceback, and no file on disk changed. Then each case of the issue as a regression test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import tiny_spec_dict, write_spec
from tests.test_bad_inputs import assert_one_line_failure, cli, snapshot


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A tiny dataset (ds, 8 frames at 32²), its spec, and a finished `evaluate run` of pixels on it (run)."""
    from evaluate.config import RunConfig
    from evaluate.tasks.probe import run
    from simgen.run.parallel import render_dataset
    from simgen.spec import parse_spec

    root = tmp_path_factory.mktemp("reliability")
    spec = tiny_spec_dict(counts=(8, 4, 4), size=32)
    write_spec(root / "spec.yaml", spec)
    render_dataset(parse_spec(spec), root / "ds", workers=1)
    run(RunConfig(datasets=[str(root / "ds")], encoders=["pixels"], out=str(root / "run"), views=["original"],
                  targets=["direction"], n_bootstrap=10))
    return root


@pytest.fixture
def space(workspace, tmp_path) -> Path:
    copy = tmp_path / "w"
    shutil.copytree(workspace, copy)
    return copy


# --------------------------------------------------------------------------- the fuzz test

INT = st.one_of(st.integers(-10**12, 0).map(str), st.sampled_from(["abc", "1.5", "", "1e999", "nan"]))
# "--" alone is not a value: it ends the options, and leaves the argument out (`evaluate schema --` is `evaluate
# schema`, which is valid).
TEXT = st.text(alphabet="abcxyz_-=,:", min_size=1, max_size=12).filter(lambda s: s != "--")
# (tool, arguments with {v} where the invalid value goes, the values that are invalid there). Every
# subcommand of both tools is here; paths are relative to the workspace.
CASES = [
    ("simgen", ["ls", "--scenes", "no/such/{v}"], TEXT),
    ("simgen", ["validate", "missing-{v}.yaml"], TEXT),
    ("simgen", ["schema", "--out", "ds/train/{v}/x.json"], TEXT),
    ("simgen", ["render", "spec.yaml", "--out", "new", "-n", "{v}"], INT),
    ("simgen", ["render", "spec.yaml", "--out", "new", "--seed", "{v}"],
     st.one_of(st.integers(-10**6, -1).map(str), st.integers(2**32, 2**70).map(str))),
    ("simgen", ["render", "spec.yaml", "--out", "new", "--workers", "{v}"], INT),
    ("simgen", ["render", "spec.yaml", "--out", "new", "--shard", "{v}"], TEXT),
    ("simgen", ["render", "spec.yaml", "--out", "new", "--executor", "{v}"], TEXT),
    ("simgen", ["render", "spec.yaml", "--out", "ds", "--seed", "7", "--repair", "-n", "{v}"], INT),
    ("simgen", ["audit", "missing-{v}.yaml", "--out", "new"], TEXT),
    ("simgen", ["merge", "new", "missing-{v}"], TEXT),
    ("simgen", ["check", "missing-{v}"], TEXT),
    ("simgen", ["preview", "ds", "--out", "new.png", "--clips", "{v}"], INT),
    ("simgen", ["preview", "ds", "--out", "new.png", "--frames", "{v}"],
     st.one_of(INT, st.integers(65, 10**6).map(str))),
    ("simgen", ["preview", "ds", "--out", "new.png", "--split", "{v}"], TEXT),
    ("evaluate", ["run", "ds", "-e", "pixels", "--out", "run2", "--bootstrap", "{v}"], INT),
    ("evaluate", ["run", "ds", "-e", "pixels,size={v}", "--out", "run2"], INT),
    ("evaluate", ["run", "ds", "-e", "pixels,frames={v}", "--out", "run2"], INT),
    ("evaluate", ["run", "ds", "-e", "{v}", "--out", "run2"], TEXT),
    ("evaluate", ["run", "ds", "-e", "pixels", "--out", "run2", "--probe", "attentive,epochs={v}"], INT),
    ("evaluate", ["run", "ds", "-e", "pixels", "--out", "run2", "--target", "no_{v}"], TEXT),
    ("evaluate", ["run", "ds", "-e", "pixels", "--out", "run2", "--batch-size", "{v}"], INT),
    ("evaluate", ["run", "ds", "-e", "pixels", "--out", "run2", "--device", "{v}"], TEXT),
    ("evaluate", ["run", "ds", "-e", "pixels", "--out", "run2", "--address", "{v}"], TEXT),
    ("evaluate", ["run", "ds", "-e", "motion", "--out", "run", "--view", "original", "--target", "direction",
                  "--bootstrap", "{v}"], INT),
    ("evaluate", ["compare", "run", "--out", "cmp", "--bootstrap", "{v}"], INT),
    ("evaluate", ["compare", "run", "missing-{v}", "--out", "cmp"], TEXT),
    ("evaluate", ["schema", "{v}"], TEXT),
    ("evaluate", ["ls", "{v}"], TEXT),
    ("evaluate", ["report", "missing-{v}"], TEXT),
    ("evaluate", ["surprise", "ds", "-e", "{v}", "--out", "sur"], TEXT),
    ("evaluate", ["surprise", "ds", "-e", "extrapolate,order={v}", "--out", "sur"], INT),
    ("evaluate", ["surprise", "ds", "-e", "oracle", "--out", "sur", "--context", "{v}"], INT),
    ("evaluate", ["sweep", "run", "--param", "speed_start", "--bins", "{v}"], INT),
    ("evaluate", ["sweep", "run", "--param", "speed_start", "-e", "motion{v}"], TEXT),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(CASES), data=st.data())
def test_invalid_values_on_every_subcommand_are_refused_and_change_nothing(workspace, monkeypatch, capsys,
                                                                            case, data):
    tool, args, values = case
    value = data.draw(values)
    monkeypatch.chdir(workspace)
    before = snapshot(workspace)
    code, _, err = cli(tool, monkeypatch, capsys, *[a.replace("{v}", value) for a in args])
    assert code != 0, (args, value, err)
    assert "Traceback" not in err, err
    assert snapshot(workspace) == before, (args, value)
    assert not any(p.name.startswith(".staging-") for p in workspace.rglob("*"))


def test_the_fuzz_covers_every_subcommand():
    from evaluate.cli import app as evaluate_app
    from simgen.cli.app import app as simgen_app

    for tool, app in (("simgen", simgen_app), ("evaluate", evaluate_app)):
        names = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands}
        covered = {args[0] for t, args, _ in CASES if t == tool}
        assert names <= covered | {"ls-families"}, names - covered


# --------------------------------------------------------------------------- work is never lost


def run_args(*extra: str) -> list[str]:
    return ["run", "ds", "-e", "pixels", "--out", "run", "--view", "original", "--target", "direction",
            "--bootstrap", "10", *extra]


def test_a_finished_run_with_another_config_is_refused_and_kept(space, monkeypatch, capsys):
    monkeypatch.chdir(space)
    before = snapshot(space / "run")
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "run", "ds", "-e", "motion", "--out", "run",
                                       "--view", "original", "--target", "direction", "--bootstrap", "10"))
    assert "holds a finished `evaluate run`" in line and "pixels" in line and "--replace" in line
    assert snapshot(space / "run") == before


def test_the_same_config_reruns_and_an_added_encoder_keeps_every_row(space, monkeypatch, capsys):
    monkeypatch.chdir(space)
    old = json.loads((space / "run" / "results.json").read_text())
    code, _, err = cli("evaluate", monkeypatch, capsys, *run_args())
    assert code == 0, err
    code, _, err = cli("evaluate", monkeypatch, capsys, "run", "ds", "-e", "pixels", "-e", "motion", "--out", "run",
                       "--view", "original", "--target", "direction", "--bootstrap", "10")
    assert code == 0, err
    new = json.loads((space / "run" / "results.json").read_text())
    kept = [(r["encoder"], r["target"], r["view"], r["value"]) for r in old["results"]]
    assert set(kept) <= {(r["encoder"], r["target"], r["view"], r["value"]) for r in new["results"]}
    assert {r["encoder"] for r in new["results"]} == {"pixels", "motion"}


def test_replace_replaces(space, monkeypatch, capsys):
    monkeypatch.chdir(space)
    code, _, err = cli("evaluate", monkeypatch, capsys, "run", "ds", "-e", "motion", "--out", "run", "--view",
                       "original", "--target", "direction", "--bootstrap", "10", "--replace")
    assert code == 0, err
    assert {r["encoder"] for r in json.loads((space / "run" / "results.json").read_text())["results"]} == {"motion"}


def test_a_run_that_fails_late_leaves_every_earlier_file(space, monkeypatch, capsys):
    """The outputs are staged: a failure after the probes ran (here: writing the reports) moves nothing."""
    import evaluate.report.probe as report

    monkeypatch.chdir(space)
    before = snapshot(space / "run")

    def broken(_rundir):
        raise ValueError("disk full (simulated)")

    monkeypatch.setattr(report, "write_reports", broken)
    code, _, err = cli("evaluate", monkeypatch, capsys, *run_args("--bootstrap", "11", "--replace"))
    assert code == 1 and err.strip().splitlines()[-1] == "error: disk full (simulated)"
    assert snapshot(space / "run") == before
    assert not list((space / "run").glob(".staging-*"))


def test_a_misspelt_surprise_model_is_refused_before_anything_is_written(space, monkeypatch, capsys):
    monkeypatch.chdir(space)
    (space / "sur").mkdir()
    (space / "sur" / "surprise.json").write_text('{"config": {}}')
    before = snapshot(space)
    for spec in ("pixlz", "extrapolate,order=5", "frame-classifier,folds=1", "oracle,penalty=-1"):
        line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "surprise", "ds", "-e", "oracle", "-e",
                                           spec, "--out", "sur"))
        assert spec.split(",")[0] in line
    assert snapshot(space) == before


def test_surprise_with_no_clips_in_the_split_is_refused(space, monkeypatch, capsys):
    from evaluate.config import SurpriseConfig
    from evaluate.errors import EvaluateError
    from evaluate.tasks import surprise

    class Empty:
        name, targets, clips, skipped = "ds", [type("T", (), {"name": n}) for n in surprise.REQUIRED_TARGETS], [], []

    monkeypatch.setattr(surprise, "open_dataset", lambda *a, **k: Empty())
    with pytest.raises(EvaluateError, match="has no test clips"):
        surprise.run_surprise(SurpriseConfig(datasets=["ds"], encoders=["oracle"], out=str(space / "sur"),
                                             split="test"))
    assert not (space / "sur").exists()


# --------------------------------------------------------------------------- refused up front


@pytest.mark.parametrize("extra, expected", [
    (["-e", "pixels,size=0"], "size='0'"),
    (["-e", "pixels,size=-4"], "size='-4'"),
    (["-e", "pixels,size=abc"], "size='abc'"),
    (["-e", "pixels,frames=0"], "frames='0'"),
    (["-e", "pixels"], "given twice"),
    (["-e", " pixels"], "given twice"),
    (["--probe", "attentive,epochs=0"], "epochs=0"),
    (["--address", "auto"], "--executor ray"),
    (["--target", "vz_start", "--target", "vz_start"], "given twice"),
])
def test_bad_values_are_refused_before_any_work(space, monkeypatch, capsys, extra, expected):
    monkeypatch.chdir(space)
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "run", "ds", "-e", "pixels", "--out", "new",
                                       *extra))
    assert expected in line
    assert not (space / "new").exists()


def test_a_copy_of_a_dataset_and_a_dataset_without_the_target_are_refused(space, monkeypatch, capsys):
    monkeypatch.chdir(space)
    shutil.copytree(space / "ds", space / "copy")
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "run", "ds", "copy", "-e", "pixels", "--out",
                                       "new"))
    assert "hold the same clips" in line


def test_cuda_without_cuda_is_one_line(space, monkeypatch, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.chdir(space)
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "run", "ds", "-e", "pixels", "--out", "new",
                                       "--device", "cuda"))
    assert "--device cuda" in line and "no CUDA device" in line


@pytest.mark.parametrize("content", ["{}", "[]", "{not json", '{"config": 1, "datasets": [], "encoders": [], '
                                                             '"results": 7}'])
def test_report_on_a_foreign_results_json_is_one_line(space, monkeypatch, capsys, content):
    (space / "run" / "results.json").write_text(content)
    before = snapshot(space)
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "report", space / "run"))
    assert "results.json" in line
    assert snapshot(space) == before


def test_report_on_a_file_names_the_folder(space, monkeypatch, capsys):
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "report", space / "run" / "results.json"))
    assert "is a file; give the folder" in line


def test_sweep_of_a_run_folder_refuses_encoders(space, monkeypatch, capsys):
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "sweep", space / "run", "--param",
                                       "speed_start", "-e", "motion"))
    assert "applies only when SOURCE is a dataset" in line


def test_the_attentive_probe_refuses_wide_flat_features_with_an_estimate():
    from evaluate.probes.attentive import check_size, probe_bytes
    from evaluate.probes.base import ProbeSkipped

    with pytest.raises(ProbeSkipped, match=r"12288 wide are not tokens \(it would need ~\d+\.\d GB"):
        check_size(12288, 4, 1, 32)
    assert probe_bytes(12288, 4, 1, 32) > 2.4e9 * 4  # the 2.4 GB MLP layer alone, with its gradient and AdamW
    check_size(64, 1, 16, 32)  # small token features pass


# --------------------------------------------------------------------------- no number without meaning


def test_r2_over_one_value_up_to_rounding_is_undefined_and_so_is_its_ci():
    from evaluate.metrics import r2, score

    y = np.array([0.1 + 0.2] * 3 + [0.3] * 3)  # one value, but not bit-identical: the −9.5e29 of the issue
    assert np.isnan(r2(y, y + 1))
    y_true = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 3.0])
    groups = np.array([0, 0, 0, 0, 1, 2])  # three groups: a third of the resamples hold group 0 alone
    row = score("regression", y_true, y_true + 0.1, groups, n_bootstrap=200)
    assert np.isnan(row["ci95"]).all() and "undefined in" in row["ci_note"]


def test_a_defined_ci_has_no_note():
    from evaluate.metrics import score

    rng = np.random.default_rng(0)
    y = rng.normal(size=60)
    row = score("regression", y, y + rng.normal(scale=0.1, size=60), np.arange(60) // 2, n_bootstrap=200)
    assert "ci_note" not in row and row["ci95"][0] <= row["value"] <= row["ci95"][1]


def test_a_threshold_outside_the_range_gets_no_ci_and_a_reported_ci_holds_its_estimate():
    from evaluate.tasks.sweep import sweep_one

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 80)
    flat = sweep_one("class", x, np.ones(80), np.arange(80), 0.5, 4, 50)
    assert not flat["threshold_in_range"] and np.isnan(flat["threshold_ci95"]).all() and flat["threshold_ci_note"]
    steep = sweep_one("class", x, (x > 0.5).astype(float), np.arange(80), 0.5, 4, 50)
    lo, hi = steep["threshold_ci95"]
    assert steep["threshold_ci_note"] is None and lo <= steep["threshold"] <= hi


# --------------------------------------------------------------------------- simgen


def test_preview_and_seed_bounds_and_missing_scenes(space, monkeypatch, capsys):
    monkeypatch.chdir(space)
    for args, expected in ((["preview", "ds", "--clips", "-3"], "--clips"),
                           (["preview", "ds", "--frames", "1000"], "--frames"),
                           (["render", "spec.yaml", "--out", "new", "--seed", "-1"], "--seed"),
                           (["ls", "--scenes", "nowhere"], "--scenes nowhere")):
        line = assert_one_line_failure(cli("simgen", monkeypatch, capsys, *args))
        assert expected in line


def test_check_names_repair_and_repair_re_makes_a_byte_flipped_clip(workspace, space, monkeypatch, capsys):
    monkeypatch.chdir(space)
    victim = sorted((space / "ds" / "train").glob("*.mp4"))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    code, _, err = cli("simgen", monkeypatch, capsys, "check", "ds", "--hashes")
    assert code == 1 and "--repair" in err.splitlines()[-1]
    code, _, err = cli("simgen", monkeypatch, capsys, "render", "spec.yaml", "--out", "ds", "--repair",
                       "--workers", "1")
    assert code == 0, err
    assert f"removed train/{victim.name}" in err
    assert snapshot(space / "ds") == snapshot(workspace / "ds")


def test_evaluate_verifies_sha256sums_unless_told_not_to(space, monkeypatch, capsys):
    monkeypatch.chdir(space)
    victim = sorted((space / "ds" / "test").glob("*.mp4"))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    args = ["run", "ds", "-e", "pixels", "--out", "new", "--view", "original", "--target", "direction",
            "--bootstrap", "10"]
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, *args))
    assert f"{victim.name}: content differs from SHA256SUMS" in line and "--repair" in line
    assert not (space / "new").exists()
    code, _, err = cli("evaluate", monkeypatch, capsys, *args, "--no-hash-check")
    assert code == 0, err
