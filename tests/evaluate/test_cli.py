"""`evaluate` end to end: run, ls and report, corrupt clips, skipped encoders, and the benchmark
testing itself (order matters on falling_rising; static views sit at chance)."""

import json
import shutil
import sys

from evaluate.config import RunConfig
from evaluate.tasks.probe import run


def cli(monkeypatch, capsys, *args):
    from evaluate.cli import main

    monkeypatch.setattr(sys, "argv", ["evaluate", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def check_against_schema(monkeypatch, capsys, name: str, payload: dict) -> None:
    """``evaluate schema NAME`` describes what the run wrote: the file validates, and a broken copy does not."""
    import jsonschema

    code, stdout, _ = cli(monkeypatch, capsys, "schema", name)
    assert code == 0
    schema = json.loads(stdout)
    jsonschema.validate(payload, schema)
    broken = json.loads(json.dumps(payload))
    broken["results"][0]["value"] = "high"
    try:
        jsonschema.validate(broken, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("the schema let a string through as a score")


def test_run_end_to_end(tiny_falling_rising, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    code, stdout, err = cli(monkeypatch, capsys, "run", tiny_falling_rising, "--encoder", "pixels", "--encoder",
                            "motion", "--encoder", "random-vjepa2:tiny", "--out", out, "--bootstrap", "100",
                            "--device", "cpu")
    assert code == 0, err
    payload = json.loads((out / "results.json").read_text())
    assert {"format_version", "created", "config", "versions", "results"} <= set(payload)
    check_against_schema(monkeypatch, capsys, "results.json", payload)
    assert payload["datasets"][0]["content_sha256"] and payload["versions"]["torch"]
    keys = {"dataset", "target", "kind", "encoder", "view", "probe", "metric", "value", "ci95", "chance",
            "n_train", "n_test"}
    for r in payload["results"]:
        assert keys <= set(r)
    # 3 encoders x 5 targets (accel_z is constant: skipped, reported) x (5 within-view + 4 cross-view scores)
    within = [r for r in payload["results"] if r["fit_view"] == r["view"]]
    assert len(within) == 3 * 5 * 5 and len(payload["results"]) == 3 * 5 * (5 + 4)
    assert any(t["target"] == "accel_z" and "constant" in t["reason"] for t in payload["skipped"]["targets"])
    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == len(payload["results"]) * 4  # every row's predictions, within- and cross-view: 4 test clips each
    assert set(lines[0]) == {"dataset", "target", "kind", "encoder", "fit_view", "test_view", "probe", "layer", "clip_id",
                             "group_id", "y_true", "y_pred"}
    assert len(payload["temporal_margins"]) == 3 * 5 * 2  # a static and an order margin each
    # every target but height_start declares how it transforms under reversal
    assert {(r["encoder"], r["target"]) for r in payload["reversal_sensitivity"]} == {
        (e, t) for e in ("pixels", "motion", "random-vjepa2:tiny") for t in ("direction", "vz_start", "vz_end",
                                                                            "speed_mid")}
    md = (out / "report.md").read_text()
    assert "Temporal margin" in md and "random-vjepa2:tiny" in md and "accel_z" in md
    page = (out / "report.html").read_text()
    assert 'href="report-falling_rising.html"' in page and "vz_start" not in page.split('id="per-target"')[1].split("</section>")[0]
    per_target = (out / "report-falling_rising.html").read_text()  # the dataset's per-target page, linked from the report
    assert per_target.count("data:image/png;base64,") >= 4 + 3  # bars per target, scatters per regression target
    assert 'href="report.html"' in per_target and 'id="falling_rising-vz_start-linear"' in per_target
    # report rebuilds from the run folder alone
    (out / "report.md").unlink()
    code, _, _ = cli(monkeypatch, capsys, "report", out)
    assert code == 0 and (out / "report.md").read_text() == md


def test_ls_lists_encoders_views_probes(monkeypatch, capsys):
    code, stdout, _ = cli(monkeypatch, capsys, "ls")
    assert code == 0
    for word in ("vjepa2", "videomae", "image", "pixels", "motion", "random-vjepa2", "frame_mean", "linear"):
        assert word in stdout


def test_missing_weights_skip_that_encoder_only(tiny_falling_rising, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    code, _, err = cli(monkeypatch, capsys, "run", tiny_falling_rising, "-e", "vjepa2:facebook/vjepa2-vitl-fpc64-256",
                       "-e", "pixels,size=8", "--out", out, "--view", "original", "--target", "direction",
                       "--bootstrap", "50")
    assert code == 0
    assert "huggingface-cli download facebook/vjepa2-vitl-fpc64-256" in err
    payload = json.loads((out / "results.json").read_text())
    assert [e["encoder"] for e in payload["encoders"]] == ["pixels,size=8"]
    assert payload["skipped"]["encoders"][0]["encoder"] == "vjepa2:facebook/vjepa2-vitl-fpc64-256"
    assert "vjepa2-vitl-fpc64-256" in (out / "report.md").read_text()


def test_user_errors_are_one_red_line(tiny_falling_rising, tmp_path, monkeypatch, capsys):
    code, _, err = cli(monkeypatch, capsys, "run", tiny_falling_rising, "-e", "pixles", "--out", tmp_path / "r")
    assert code == 1 and "did you mean 'pixels'" in err and "Traceback" not in err
    code, _, err = cli(monkeypatch, capsys, "run", tmp_path, "-e", "pixels", "--out", tmp_path / "r")
    assert code == 1 and "not a simgen dataset" in err


def test_corrupt_clip_is_named_and_skip_bad_lists_it(tiny_falling_rising, tmp_path, monkeypatch, capsys):
    data = tmp_path / "falling_rising"
    shutil.copytree(tiny_falling_rising, data)
    victim = sorted((data / "train").glob("*.mp4"))[0]
    victim.write_bytes(victim.read_bytes()[:200])  # truncated
    args = ["run", data, "-e", "pixels,size=8", "--view", "original", "--target", "direction", "--bootstrap", "50"]
    code, _, err = cli(monkeypatch, capsys, *args, "--out", tmp_path / "a")
    assert code == 1 and victim.stem in err and "--skip-bad" in err
    code, _, err = cli(monkeypatch, capsys, *args, "--out", tmp_path / "b", "--skip-bad")
    assert code == 0 and victim.stem in err
    payload = json.loads((tmp_path / "b" / "results.json").read_text())
    assert [victim.stem in c["clip"] for c in payload["skipped"]["clips"]] == [True]
    assert payload["results"][0]["n_train"] == 11
    assert victim.stem in (tmp_path / "b" / "report.md").read_text()


def test_order_is_what_separates_falling_from_rising(falling_rising_64, tmp_path):
    """The benchmark testing itself: pixels and motion read direction from the original clips,
    while single_frame and frame_mean (identical for time-reversed twins) stay at chance."""
    payload = run(RunConfig(datasets=[str(falling_rising_64)], encoders=["pixels", "motion"], out=str(tmp_path / "run"),
                            views=["original", "single_frame", "frame_mean"], targets=["direction"],
                            n_bootstrap=200)).row()
    score = {(r["encoder"], r["view"]): r for r in payload["results"]}
    for enc in ("pixels", "motion"):
        original = score[(enc, "original")]
        assert original["value"] >= 0.85, original
        for view in ("single_frame", "frame_mean"):
            static = score[(enc, view)]
            assert static["value"] <= 0.65 and static["ci95"][0] <= 0.5 <= static["ci95"][1], static
            assert original["value"] - static["value"] >= 0.3
    margins = {m["encoder"]: m for m in payload["temporal_margins"] if m["margin_type"] == "static"}
    assert all(m["value"] >= 0.3 and m["ci95"][0] > 0 for m in margins.values())
    assert margins["motion"]["degenerate_control"] and not margins["pixels"]["degenerate_control"]
    # frame_mean is bit-identical for a clip and its twin: the probe cannot but guess
    assert score[("pixels", "frame_mean")]["value"] == 0.5


def test_reversed_view_cannot_test_time_within_view_but_can_across(falling_rising_64, tmp_path):
    """A falling clip reversed *is* its rising twin. So the reversed view, fitted and tested within
    itself, is the original dataset with each twin pair's feature rows swapped and the labels kept:
    the probe learns the mirrored rule and must score exactly as on original, whatever it knows about
    time. Fitted once on original and tested on reversed clips (cross-view), the same probe must get
    every direction wrong against the original labels and right against the reversed ones: that is
    reversal sensitivity, and it does test time."""
    payload = run(RunConfig(datasets=[str(falling_rising_64)], encoders=["pixels", "motion"], out=str(tmp_path / "run"),
                            views=["original", "reversed"], targets=["direction"], n_bootstrap=200)).row()
    within = {(r["encoder"], r["view"]): r for r in payload["results"] if r["fit_view"] == r["view"]}
    cross = {r["encoder"]: r for r in payload["results"] if r["fit_view"] != r["view"]}
    reversal = {r["encoder"]: r for r in payload["reversal_sensitivity"]}
    for encoder in ("pixels", "motion"):
        assert within[(encoder, "reversed")]["value"] == within[(encoder, "original")]["value"]
        assert cross[encoder]["value"] == 1 - within[(encoder, "original")]["value"]
        assert reversal[encoder]["rule"] == "swap_classes"
        assert reversal[encoder]["value"] == within[(encoder, "original")]["value"] >= 0.95
