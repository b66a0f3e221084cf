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
    assert (rundir / "sweep-speed_start.html").read_text().count("data:image/png;base64,") == 2  # one per target
    code, _, err = cli(monkeypatch, capsys, "sweep", rundir, "--param", "no_such_param")
    assert code == 1 and "no numeric 'no_such_param'" in err
