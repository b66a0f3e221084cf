"""Surprise on possible/impossible twins: no future leak into V-JEPA 2's prediction, the pixel
baseline against formulas, the metrics against sklearn, and the CLI end to end at tiny size."""

import json

import numpy as np
import pytest

from evaluate.metrics import auroc, pair_scores, pairwise_accuracy
from evaluate.predictors import build_surprise_model, window_starts
from tests.evaluate.test_cli import check_against_schema, cli


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread (and 6x slower on two busy cores); restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def violations_tiny(tmp_path_factory):
    """6 falling_rising twin pairs (12 clips) of 12 frames at 64x64."""
    from simgen.parallel import render_dataset
    from simgen.spec import parse_spec
    from tests.conftest import tiny_spec_dict

    raw = tiny_spec_dict(frames=12, counts=(4, 4, 4))
    raw["violations"] = {"kind": {"choice": ["teleport", "vanish", "gravity_reversal"]},
                         "at": {"uniform": [0.4, 0.6]}, "distance": {"uniform": [0.5, 0.9]}}
    out = tmp_path_factory.mktemp("datasets") / "violations_tiny"
    render_dataset(parse_spec(raw), out, workers=1)
    return out


def random_clip(seed, t=12, size=64):
    return np.random.default_rng(seed).integers(0, 256, size=(t, size, size, 3), dtype=np.uint8)


def test_changing_only_the_future_leaves_the_prediction_unchanged(tiny_vjepa2):
    import torch

    from evaluate.encoders.hf import preprocess

    model = build_surprise_model(f"vjepa2:{tiny_vjepa2}", device="cpu")
    a = random_clip(0)
    b = a.copy()
    b[6:] = random_clip(1)[6:]  # same first 6 frames, different future
    pred_a, target_a = model.predict(a, 4, 2, [0, 2])
    pred_b, target_b = model.predict(b, 4, 2, [0, 2])
    assert pred_a.shape == (2, 4, 48)  # 2 windows x (1 tubelet step x 2x2 patches) x hidden
    # window 2 predicts frames [6, 8) from [2, 6): its target changed, its prediction must not
    assert torch.equal(target_a[0], target_b[0]) and (target_a[1] - target_b[1]).abs().max() > 0.1
    assert torch.equal(pred_a, pred_b)
    # Sensitivity check of the test itself: transformers' forward with a context mask encodes the whole
    # clip first, so the same prediction from it does see the future.
    x = [preprocess([c[2:8]], model.encoder.prep, "cpu", torch.float32) for c in (a, b)]  # window 2
    cm, tm = [torch.arange(4).unsqueeze(0)], [torch.arange(4, 8).unsqueeze(0)]
    with torch.inference_mode():
        naive = [model.model(pixel_values_videos=v, context_mask=cm, target_mask=tm).predictor_output.last_hidden_state
                 for v in x]
    assert (naive[0] - naive[1]).abs().max() > 1e-4


def test_pixel_extrapolation_is_exact_on_linear_change():
    t = np.arange(10, dtype=np.float64)[:, None, None, None]
    ramp = np.broadcast_to(20 + 10 * t, (10, 32, 32, 3)).astype(np.uint8)  # brightness grows linearly
    linear, still = build_surprise_model("extrapolate"), build_surprise_model("extrapolate,order=0")
    starts = window_starts(10, 4, 2, 2)
    assert starts == [0, 2, 4]
    assert np.allclose(linear.surprise(ramp, 4, 2, starts), 0, atol=1e-6)
    assert np.allclose(still.surprise(ramp, 4, 2, starts), 15 / 255, atol=1e-3)  # mean of 10 and 20 levels
    jump = ramp.copy()
    jump[6:] = 250
    assert linear.surprise(jump, 4, 2, [2])[0] > 0.5


def test_pairwise_accuracy_and_auroc():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    pos, imp = rng.normal(size=40), rng.normal(0.8, size=40)
    wins = pairwise_accuracy(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0]))
    assert wins.tolist() == [1.0, 0.5, 0.0]
    labels = np.r_[np.zeros(40, bool), np.ones(40, bool)]
    assert auroc(np.r_[pos, imp], labels) == pytest.approx(roc_auc_score(labels, np.r_[pos, imp]))
    s = pair_scores(pos, imp, n_bootstrap=200)
    assert s["pairwise_ci95"][0] <= s["pairwise_accuracy"] <= s["pairwise_ci95"][1]
    assert s["auroc_ci95"][0] <= s["auroc"] <= s["auroc_ci95"][1] and s["n_groups"] == 40


def test_surprise_cli_end_to_end(violations_tiny, tmp_path, monkeypatch, capsys):
    out = tmp_path / "surprise"
    code, stdout, err = cli(monkeypatch, capsys, "surprise", violations_tiny, "-e", "extrapolate", "-e",
                            "random-vjepa2:tiny", "-e", "random-vjepa2:tiny,seed=1", "--context", "4",
                            "--context", "6", "--out", out, "--bootstrap", "50", "--device", "cpu")
    assert code == 0, err
    payload = json.loads((out / "surprise.json").read_text())
    check_against_schema(monkeypatch, capsys, "surprise.json", payload)
    assert len(payload["results"]) == 3 * 2 * 2  # models x contexts x aggregates
    for r in payload["results"]:
        assert r["n_groups"] == 6 and 0 <= r["pairwise_accuracy"] <= 1 and 0 <= r["auroc"] <= 1
        assert sum(k["n_groups"] for k in r["by_violation"].values()) == 6
    assert {s["encoder"] for s in payload["seed_summary"]} == {"random-vjepa2:tiny"}
    assert all(e["timings"]["ms_per_clip"] > 0 for e in payload["encoders"])
    curves = [json.loads(line) for line in (out / "surprise_curves.jsonl").read_text().splitlines()]
    assert len(curves) == 12 * 3 * 2
    # The twins share every frame before the violation, so every window that predicts only earlier
    # frames is exactly as surprising in both (same pixels in, same numbers out).
    pairs = {}
    for c in curves:
        pairs.setdefault((c["encoder"], c["context"], c["group_id"]), {})[c["possible"]] = c
    compared = 0
    for pair in pairs.values():
        p, i = pair["true"], pair["false"]
        assert p["frame"] == i["frame"] and p["violation_frame"] == i["violation_frame"]
        for f, sp, si in zip(p["frame"], p["surprise"], i["surprise"], strict=True):
            if f + p["horizon"] <= p["violation_frame"]:
                assert sp == si
                compared += 1
    assert compared > 0
    assert "Pairwise accuracy" in (out / "surprise_report.md").read_text()
    assert (out / "surprise_report.html").read_text().count("data:image/png;base64,") == 3


def test_surprise_refuses_datasets_without_twins(falling_rising_64, tmp_path, monkeypatch, capsys):
    code, _, err = cli(monkeypatch, capsys, "surprise", falling_rising_64, "-e", "extrapolate", "--out", tmp_path)
    assert code == 1 and "violations:" in err
