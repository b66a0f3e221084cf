"""Difficulty sweeps: the psychometric fit recovers a known threshold, parameters are found in
the clip json, and the CLI sweeps a run folder end to end."""

import json

import numpy as np
import pytest

from evaluate.config import RunConfig
from evaluate.errors import EvaluateError
from evaluate.tasks.probe import run
from evaluate.tasks.sweep import fit_psychometric, lookup, sweep_one
from tests.evaluate.test_cli import cli


def test_fit_recovers_a_known_threshold():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 2, 1500)
    p = 0.5 + 0.5 / (1 + np.exp(-6 * (x - 1.2)))  # 2 classes: floor 0.5, halfway 0.75 at x = 1.2
    correct = (rng.random(1500) < p).astype(float)
    fit = fit_psychometric(x, correct, "class", 0.5)
    assert fit["threshold"] == pytest.approx(1.2, abs=0.1) and fit["slope"] == pytest.approx(6, rel=0.4)
    res = sweep_one("class", x, correct, np.arange(1500) // 2, 0.5, bins=4, n_bootstrap=40)
    assert res["threshold_in_range"] and res["threshold_ci95"][0] < 1.2 < res["threshold_ci95"][1]
    assert [b["n"] for b in res["bins"]] == [375] * 4
    assert res["bins"][0]["score"] < 0.6 < 0.95 < res["bins"][-1]["score"]
    flat = sweep_one("class", x, np.ones_like(x), np.arange(1500), 0.5, bins=4, n_bootstrap=10)
    assert not flat["threshold_in_range"] and flat["threshold_note"] == "above halfway over the whole range"


def test_lookup_reads_params_dotted_and_targets():
    labels = {"clip_id": "c", "params": {"speed_start": 0.5, "violation": {"distance": 0.7}},
              "targets": {"impact_speed": 3.0, "direction": "falling"}}
    assert lookup(labels, "speed_start") == 0.5 and lookup(labels, "violation.distance") == 0.7
    assert lookup(labels, "impact_speed") == 3.0
    with pytest.raises(EvaluateError, match="speed_start"):
        lookup(labels, "direction")  # not numeric: the message lists what there is


def test_sweep_cli_on_a_run_folder(falling_rising_64, tmp_path, monkeypatch, capsys):
    rundir = tmp_path / "run"
    run(RunConfig(datasets=[str(falling_rising_64)], encoders=["pixels", "motion"], out=str(rundir),
                  views=["original"], targets=["direction", "vz_start"], n_bootstrap=20))
    code, stdout, err = cli(monkeypatch, capsys, "sweep", rundir, "--param", "speed_start", "--bins", "3",
                            "--bootstrap", "20")
    assert code == 0, err
    out = json.loads((rundir / "sweep-speed_start.json").read_text())
    assert len(out["results"]) == 2 * 2  # encoders x targets
    speeds = [json.loads(p.read_text())["params"]["speed_start"] for p in (falling_rising_64 / "test").glob("*.json")]
    for r in out["results"]:
        assert sum(b["n"] for b in r["bins"]) == 16 and len(r["bins"]) == 3
        assert r["range"] == [pytest.approx(min(speeds)), pytest.approx(max(speeds))]
        assert r["metric"] == ("accuracy" if r["target"] == "direction" else "r2_vs_test_variance")
    assert "speed_start" in (rundir / "sweep-speed_start.md").read_text()
    assert (rundir / "sweep-speed_start.html").read_text().count("<svg") == 2  # one plot per target
    code, _, err = cli(monkeypatch, capsys, "sweep", rundir, "--param", "no_such_param")
    assert code == 1 and "no numeric 'no_such_param'" in err


def test_frame_step_sweep_reencodes_each_step_and_reports_the_span(falling_rising_64, tmp_path, monkeypatch, capsys):
    """`--frame-steps 1,2` runs the encoder at each step as its own encoder (8-frame clips at 24 fps: 4 frames
    every frame span 0.125 s, every 2nd frame 0.25 s), with both controls' margins, and writes the report."""
    out = tmp_path / "steps"
    code, stdout, err = cli(monkeypatch, capsys, "sweep", falling_rising_64, "--frame-steps", "1,2", "--frames", "4",
                            "-e", "random-vjepa2:tiny", "--target", "direction", "--out", out, "--bootstrap", "20")
    assert code == 0, err
    result = json.loads((out / "sweep-frame_step.json").read_text())
    rows = result["results"]
    assert [(r["encoder"], r["step"], r["frames"]) for r in rows] == [("random-vjepa2:tiny", 1, 4),
                                                                     ("random-vjepa2:tiny", 2, 4)]
    assert [r["span_s"] for r in rows] == [pytest.approx(3 / 24), pytest.approx(6 / 24)]
    assert all("static_margin" in r and "order_margin" in r and r["metric"] == "balanced_accuracy" for r in rows)
    run_payload = json.loads((out / "results.json").read_text())
    assert {e["encoder"] for e in run_payload["encoders"]} == {"random-vjepa2:tiny,frames=4,step=1",
                                                              "random-vjepa2:tiny,frames=4,step=2"}
    assert "span (s)" in (out / "sweep-frame_step.md").read_text()
    assert (out / "sweep-frame_step.html").read_text().count("<svg") == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--frame-steps", "1,2", "-e", "pixels"], "pixels reads every frame of a clip"),
    (["--frame-steps", "1,x", "-e", "random-vjepa2:tiny"], "--frame-steps '1,x': a comma-separated list"),
    (["--frame-steps", "2,2", "-e", "random-vjepa2:tiny"], "each step once"),
    (["--frame-steps", "1", "-e", "random-vjepa2:tiny,step=2"], "sets frames and step itself"),
    (["--frame-steps", "1", "--param", "speed_start", "-e", "random-vjepa2:tiny"], "give one of --param"),
])
def test_frame_step_sweep_refuses_what_it_cannot_do(falling_rising_64, tmp_path, monkeypatch, capsys, args, message):
    code, _, err = cli(monkeypatch, capsys, "sweep", falling_rising_64, *args, "--out", tmp_path / "o")
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err
