"""Surprise on possible/impossible groups: no future leak into V-JEPA 2's prediction, the pixel baseline
against formulas, the metrics on hand-made groups and against sklearn, window selection and skipping, the
oracle on synthetic states, the frame classifier's cross-fitting, certification, and the CLI end to end at
tiny size."""

import json
import re

import numpy as np
import pytest

from evaluate.metrics import (
    auroc,
    group_scores,
    pair_scores,
    pairwise_accuracy,
    pairwise_win,
    relative_win,
    weighted_auroc,
)
from evaluate.surprise_models import build_surprise_model, window_starts
from evaluate.tasks.surprise import certify, onset_window, summarise, violation_windows
from tests.evaluate.test_cli import check_against_schema, cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def violations_tiny(tmp_path_factory):
    """6 falling_rising twin pairs (12 clips) of 12 frames at 64x64."""
    from simgen.run.parallel import render_dataset
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


def test_relative_and_pairwise_accuracy_on_hand_made_groups():
    pos, imp = np.array([1.0, 5.0]), np.array([2.0, 4.5])  # totals 6 < 6.5: the impossible pair is more surprising
    assert relative_win(pos, imp) == 1.0
    assert pairwise_win(pos, imp) == 0.5  # combinations: 2>1, 2<5, 4.5>1, 4.5<5
    assert relative_win(np.array([1.0, 3.0]), np.array([2.0, 2.0])) == 0.5  # equal totals: a tie
    assert relative_win(np.array([3.0, 3.0]), np.array([1.0, 2.0])) == 0.0
    groups = [(pos, imp), (np.array([1.0, 3.0]), np.array([2.0, 2.0])), (np.array([3.0, 3.0]), np.array([1.0, 2.0]))]
    s = group_scores(groups, n_bootstrap=200)
    assert s["relative_accuracy"] == pytest.approx(0.5) and s["n_groups"] == 3
    assert s["pairwise_accuracy"] == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    for name in ("relative", "pairwise", "auroc"):
        lo, hi = s[f"{name}_ci95"]
        value = s["auroc" if name == "auroc" else f"{name}_accuracy"]
        assert lo <= value <= hi
    # A matched quadruplet gives the impossible clips the possible clips' windows, shuffled between them: their
    # means then differ in the last bit only, which must be a tie, not a win.
    windows = np.random.default_rng(2).random((2, 7))
    spliced = np.r_[windows[0, :3], windows[1, 3:]], np.r_[windows[1, :3], windows[0, 3:]]
    possible, impossible = windows.mean(axis=1), np.array([w.mean() for w in spliced])
    assert possible.sum() != impossible.sum()  # the last bit
    tie = group_scores([(possible, impossible)], n_bootstrap=10)
    assert tie["relative_accuracy"] == tie["pairwise_accuracy"] == tie["auroc"] == 0.5
    # On pairs the relative and the pairwise accuracy are the same number.
    rng = np.random.default_rng(1)
    p, i = rng.normal(size=30), rng.normal(0.5, size=30)
    pairs = pair_scores(p, i, n_bootstrap=100)
    assert pairs["relative_accuracy"] == pairs["pairwise_accuracy"] == pairwise_accuracy(p, i).mean()


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
    # the bootstrap's vectorised AUROC is sklearn's with clips counted as often as their group was drawn
    scores, positive = np.round(rng.normal(size=30), 1), rng.random(30) < 0.4  # rounded: ties
    weights = rng.integers(0, 3, size=(4, 30)).astype(float)
    expected = [roc_auc_score(positive, scores, sample_weight=w) for w in weights]
    assert weighted_auroc(scores, positive, weights) == pytest.approx(expected)


def test_windows_reach_the_violation_and_the_onset_window_holds_the_onset():
    # 16 frames, context 4, horizon 2, stride 2: the first predicted frames are 4, 6, ..., 14
    first = [s + 4 for s in window_starts(16, 4, 2, 2)]
    assert first == [4, 6, 8, 10, 12, 14]
    assert violation_windows(first, 2, k=7) == [1, 2, 3, 4, 5]  # horizon [6, 8) reaches 7; [4, 6) does not
    assert onset_window(first, 2, onset=9) == 2  # the horizon [8, 10) holds 9
    assert violation_windows(first, 2, k=3) is None  # every context reaches past frame 3: skipped
    assert violation_windows(first, 2, k=4) == [0, 1, 2, 3, 4, 5]  # a context of frames 0-3 ends before 4
    # 48-frame clips, windows of 16 frames (context 12, horizon 4) sliding by 2 (Garrido's protocol)
    starts = window_starts(48, 12, 4, 2)
    assert len(starts) == 17 and starts[-1] + 16 == 48
    first = [s + 12 for s in starts]
    assert [first[i] for i in violation_windows(first, 4, k=24)] == list(range(22, 46, 2))
    assert first[onset_window(first, 4, onset=27)] == 24  # the first horizon [24, 28) that holds 27


def _line(group, possible, curve, first, horizon=2, context=4, k=7, onset=None, kind="teleport", encoder="m"):
    return {"dataset": "d", "encoder": encoder, "context": context, "horizon": horizon, "group_id": group,
            "possible": possible, "violation": "none" if possible == "true" else kind, "violation_frame": k,
            "onset_frame": k if onset is None else onset, "group_violation": kind, "design": "occluded",
            "balanced": "true", "frame": first, "surprise": list(map(float, curve))}


def test_a_context_past_the_violation_is_skipped_not_scored():
    first = [4, 6, 8, 10]
    lines = []
    for g in range(3):  # k = 7: scored, and the impossible clips are the more surprising
        lines += [_line(f"g{g}", "true", [1, 1, 1, 1], first), _line(f"g{g}", "true", [1, 1, 1, 1], first),
                  _line(f"g{g}", "false", [1, 5, 5, 1], first), _line(f"g{g}", "false", [1, 4, 1, 1], first)]
    # k = 3: every context (4 frames) reaches past it. Scored, this group would count 0.
    lines += [_line("late", "true", [9, 9, 9, 9], first, k=3), _line("late", "false", [0, 0, 0, 0], first, k=3)]
    results, skipped = summarise(lines, n_bootstrap=50)
    assert skipped == [{"dataset": "d", "encoder": "m", "context": 4, "groups": 4, "past_violation": 1,
                        "no_onset_window": 0}]
    by_agg = {r["aggregate"]: r for r in results}
    assert set(by_agg) == {"max", "mean", "onset"}
    for r in by_agg.values():
        assert r["n_groups"] == 3 and r["skipped_groups"] == 1 and r["relative_accuracy"] == 1.0
    assert by_agg["onset"]["by_violation"]["teleport"]["n_groups"] == 3


def test_max_mean_and_onset_read_the_right_windows_of_long_clips():
    starts = window_starts(48, 12, 4, 2)
    first = [s + 12 for s in starts]
    k, onset = 24, 30
    # The possible clip is calm; the impossible one spikes only at the onset window and is lower elsewhere
    # after k, so max says 1, mean says 0 and onset says 1. Before k both share a huge value: ignored.
    calm = [100.0 if f + 4 <= k else 1.0 for f in first]
    spiky = [100.0 if f + 4 <= k else (9.0 if f == 28 else 0.0) for f in first]
    lines = [_line("g", "true", calm, first, horizon=4, context=12, k=k, onset=onset),
             _line("g", "false", spiky, first, horizon=4, context=12, k=k, onset=onset)]
    results, _ = summarise(lines, n_bootstrap=10)
    rel = {r["aggregate"]: r["relative_accuracy"] for r in results}
    assert first[onset_window(first, 4, onset)] == 28
    assert rel == {"max": 1.0, "mean": 0.0, "onset": 1.0}


def _states(positions, visible=None, fps=24.0):
    """A label with one body's (T, 3) positions, and its visibility."""
    visible = [True] * len(positions) if visible is None else visible
    return {"frames": [{"t": i / fps, "bodies": {"object": {"position": list(map(float, p)), "visible": v}}}
                       for i, (p, v) in enumerate(zip(positions, visible, strict=True))]}


def test_the_oracle_is_exact_on_free_fall_and_catches_each_violation_at_its_window():
    oracle = build_surprise_model("oracle")
    t = np.arange(16) / 24.0
    fall = np.c_[0.3 * t, -0.1 * t, 2.0 + 0.5 * t - 0.5 * 9.81 * t**2]  # drift and a throw, under gravity
    starts = window_starts(16, 4, 2, 2)  # horizons [4, 6), [6, 8), ...
    assert np.allclose(oracle.states_surprise(_states(fall), 4, 2, starts), 0, atol=1e-9)
    k = 7  # the violation; windows 0 (horizon [4, 6)) is before it, window 1 ([6, 8)) holds it
    teleport = fall.copy()
    teleport[k:, 2] += 0.6
    s = oracle.states_surprise(_states(teleport), 4, 2, starts)
    assert np.allclose(s[0], 0, atol=1e-9) and s[1] == pytest.approx(0.3, abs=1e-6)  # 1 of 2 frames off by 0.6 m
    vanish = oracle.states_surprise(_states(fall, [i < k for i in range(16)]), 4, 2, starts)
    assert vanish[0] == pytest.approx(0, abs=1e-9) and vanish[1] == pytest.approx(5.0)  # the 10 m penalty, 1 of 2
    assert np.allclose(vanish[2:], 0)  # gone in context and horizon alike: nothing unexpected
    appear = oracle.states_surprise(_states(fall, [i >= k for i in range(16)]), 4, 2, starts)
    assert appear[1] == pytest.approx(5.0) and appear[2] < 1  # then fitted on the 1 frame it was seen in
    assert np.allclose(appear[3:], 0, atol=1e-9)  # 3 frames seen: exact again
    rising = fall.copy()
    dt = t[k:] - t[k - 1]
    v = 0.5 - 9.81 * t[k - 1]
    rising[k:, 2] = fall[k - 1, 2] + v * dt + 0.5 * 9.81 * dt**2  # gravity reversed from frame k
    s = oracle.states_surprise(_states(rising), 4, 2, starts)
    assert np.allclose(s[0], 0, atol=1e-9) and s[1] > 0.005  # from the first horizon that reaches k
    assert s[2] > s[1] and np.allclose(s[3:], 0, atol=1e-9)  # until the context is all after k: exact again
    # a body at constant velocity (the occluder) is exact too
    assert np.allclose(oracle.states_surprise(_states(np.c_[0.4 * t, 0 * t, 0 * t + 1]), 4, 2, starts), 0, atol=1e-9)


def test_the_frame_classifier_never_scores_a_clip_with_a_probe_fitted_on_its_group():
    from evaluate.surprise_models.frame_classifier import cross_fit, group_folds

    groups = [f"g{i // 4}" for i in range(40)]  # 10 quadruplets
    impossible = np.array([i % 4 >= 2 for i in range(40)], dtype=int)
    features = [np.full((3, 2), float(i)) for i in range(40)]  # the feature value names the clip
    seen_by_fit = []

    def spy(x, y):
        trained_on = {groups[int(v)] for v in x[:, 0]}
        seen_by_fit.append(trained_on)
        return lambda z: np.array([1.0 if groups[int(v)] in trained_on else 0.0 for v in z[:, 0]])

    probs = cross_fit(features, impossible, groups, folds=5, fitter=spy)
    assert len(seen_by_fit) == 5 and all(len(s) == 8 for s in seen_by_fit)
    assert all(p.shape == (3,) and np.all(p == 0.0) for p in probs)  # no clip's own group was in its fit
    folds = group_folds(groups, 5)
    assert sorted(np.bincount(list(folds.values()))) == [2] * 5  # every group in one fold, folds even


def test_the_frame_classifier_scores_a_window_by_its_horizon_frames():
    from types import SimpleNamespace

    model = build_surprise_model("frame-classifier")
    clip = SimpleNamespace(root="r", split="test", clip_id="c")
    model.p_impossible[model.key(clip)] = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    assert model.clip_surprise(clip, None, 4, 2, [0, 2]) == pytest.approx([0.45, 0.65])
    assert not model.reads_pixels and model.control == "frame-classifier"


def _result(control, kind, rel, ci, context=4, aggregate="max", dataset="d"):
    cell = {"relative_accuracy": rel, "relative_ci95": ci}
    return {"dataset": dataset, "encoder": control, "control": control, "context": context, "aggregate": aggregate,
            "by_violation": {kind: cell}}


def _controls(kind, negative=(0.5, [0.4, 0.6]), oracle=1.0):
    rows = []
    for context in (4, 6):
        for agg in ("max", "mean", "onset"):
            rows += [_result(c, kind, *negative, context, agg)
                     for c in ("extrapolate,order=0", "extrapolate,order=1", "frame-classifier")]
            rows.append(_result("oracle", kind, oracle, [0.9, 1.0], context, agg))
    return rows


def test_certification_needs_balanced_chance_negatives_and_a_passing_oracle():
    balanced = {("d", "permanence"): ("occluded", True)}
    [ok] = certify(_controls("permanence"), balanced)
    assert ok["certified"] and ok["reasons"] == [] and ok["negative_cells"] == 18
    assert ok["negative_cells_excluding_chance"] == 0 and ok["expected_by_chance"] == pytest.approx(0.9)
    [twins] = certify(_controls("vanish"), {("d", "vanish"): ("twins", False)})
    assert not twins["certified"] and twins["reasons"] == ["design twins is not balanced"]
    rows = _controls("permanence")
    rows[0]["by_violation"]["permanence"] = {"relative_accuracy": 0.58, "relative_ci95": [0.52, 0.64]}  # CI off 0.5
    [off] = certify(rows, balanced)
    assert not off["certified"] and off["negative_cells_excluding_chance"] == 1
    assert off["reasons"] == ["extrapolate,order=0 relative accuracy 0.580 [0.520, 0.640] at context 4 max"]
    [far] = certify(_controls("permanence", negative=(0.39, [0.2, 0.55])), balanced)  # covers 0.5, too far
    assert len(far["reasons"]) == 3 and "(and 5 more)" in far["reasons"][0]
    [weak] = certify(_controls("permanence", oracle=0.9), balanced)
    assert weak["reasons"] == ["oracle relative accuracy 0.900 [0.900, 1.000] at context 4 max (and 5 more)"]
    rows = _controls("permanence")
    rows[11]["by_violation"]["permanence"]["relative_accuracy"] = 0.7  # the oracle's onset window counts too
    assert rows[11]["aggregate"] == "onset" and not certify(rows, balanced)[0]["certified"]
    missing = [r for r in _controls("permanence") if r["control"] != "frame-classifier"]
    [partial] = certify(missing, balanced)
    assert partial["reasons"] == ["control frame-classifier not run"]


def test_surprise_cli_end_to_end(violations_tiny, tmp_path, monkeypatch, capsys):
    out = tmp_path / "surprise"
    code, stdout, err = cli(monkeypatch, capsys, "surprise", violations_tiny, "-e", "extrapolate,order=0", "-e",
                            "extrapolate", "-e", "frame-classifier,folds=3", "-e", "oracle", "-e", "random-vjepa2:tiny",
                            "-e", "random-vjepa2:tiny,seed=1", "--context", "4", "--context", "6", "--out", out,
                            "--bootstrap", "50", "--device", "cpu")
    assert code == 0, err
    payload = json.loads((out / "surprise.json").read_text())
    check_against_schema(monkeypatch, capsys, "surprise.json", payload)
    assert len(payload["results"]) == 6 * 2 * 3  # models x contexts x aggregates
    for r in payload["results"]:
        assert r["n_groups"] + r["skipped_groups"] == 6 and 0 <= r["relative_accuracy"] <= 1
        assert 0 <= r["pairwise_accuracy"] <= 1 and 0 <= r["auroc"] <= 1
        assert sum(k["n_groups"] for k in r["by_violation"].values()) == r["n_groups"]
    assert {r["encoder"]: r.get("control") for r in payload["results"]} == {
        "extrapolate,order=0": "extrapolate,order=0", "extrapolate": "extrapolate,order=1",
        "frame-classifier,folds=3": "frame-classifier", "oracle": "oracle", "random-vjepa2:tiny": None,
        "random-vjepa2:tiny,seed=1": None}
    kinds = {c["kind"] for c in payload["certification"]}
    assert kinds and all(not c["certified"] and c["design"] == "twins" for c in payload["certification"])
    assert all("design twins is not balanced" in c["reasons"] for c in payload["certification"])
    assert {(g["encoder"], g["context"]) for g in payload["skipped"]["groups"]} == {
        (e["encoder"], c) for e in payload["encoders"] for c in (4, 6)}
    assert {s["encoder"] for s in payload["seed_summary"]} == {"random-vjepa2:tiny"}
    assert all(e["timings"]["ms_per_clip"] > 0 for e in payload["encoders"])
    curves = [json.loads(line) for line in (out / "surprise_curves.jsonl").read_text().splitlines()]
    assert len(curves) == 12 * 6 * 2
    assert all(c["onset_frame"] == c["violation_frame"] and c["design"] == "twins" for c in curves)  # defaults
    # The twins share every frame before the violation, so every window that predicts only earlier
    # frames is exactly as surprising in both (same pixels in, same numbers out).
    pairs = {}
    for c in curves:
        pairs.setdefault((c["encoder"], c["context"], c["group_id"]), {})[c["possible"]] = c
    compared = 0
    for pair in pairs.values():
        p, i = pair["true"], pair["false"]
        assert p["frame"] == i["frame"] and p["violation_frame"] == i["violation_frame"]
        assert p["group_violation"] == i["group_violation"] == i["violation"]
        for f, sp, si in zip(p["frame"], p["surprise"], i["surprise"], strict=True):
            if f + p["horizon"] <= p["violation_frame"]:
                assert sp == si
                compared += 1
    assert compared > 0
    md = (out / "surprise_report.md").read_text()
    assert md.index("Certification by the controls") < md.index("Scores, all kinds pooled")
    assert "relative acc" in md and "| onset |" in md and "Groups not scored" in md
    assert (out / "surprise_report.html").read_text().count('<div class="svg"') == 6  # one figure per model
    linked = re.findall(r"!\[[^]]*\]\((surprise_figures/[^)]+\.svg)\)", md)  # the markdown links each one
    assert len(linked) == 6 and all((out / f).read_text().startswith("<svg") for f in linked)
    assert "certification by the controls" in stdout


def test_surprise_refuses_datasets_without_twins(falling_rising_64, tmp_path, monkeypatch, capsys):
    code, _, err = cli(monkeypatch, capsys, "surprise", falling_rising_64, "-e", "extrapolate", "--out", tmp_path)
    assert code == 1 and "violations:" in err


@pytest.fixture(scope="module")
def quadruplets_tiny(tmp_path_factory):
    """8 occluded falling_rising quadruplets (32 clips) of 16 frames at 64x64."""
    from simgen.run.parallel import render_dataset
    from simgen.spec import parse_spec
    from tests.conftest import tiny_spec_dict

    raw = tiny_spec_dict(frames=16, counts=(16, 8, 8), clearance_end={"uniform": [0.5, 1.0]})
    raw["violations"] = {"design": "occluded", "kind": {"choice": ["permanence", "teleport"]},
                         "at": {"uniform": [0.45, 0.6]}, "distance": {"uniform": [0.4, 0.8]}}
    out = tmp_path_factory.mktemp("datasets") / "quadruplets_tiny"
    render_dataset(parse_spec(raw), out, workers=1)
    return out


def test_quadruplets_tie_for_pixel_controls_and_the_oracle_is_aligned_on_what_it_reads(quadruplets_tiny, tmp_path):
    """On occluded quadruplets the short-memory pixel predictor ties every group (each window of an impossible
    clip is a window of a possible one), while the state oracle, whose input differs from the hidden switch on,
    scores its onset window at the violation frame and wins every group."""
    from evaluate.config import SurpriseConfig
    from evaluate.tasks.surprise import run_surprise

    out = tmp_path / "run"
    results = run_surprise(SurpriseConfig(datasets=[str(quadruplets_tiny)], encoders=["extrapolate,order=0", "oracle"],
                                          out=str(out), contexts=[4], n_bootstrap=20))
    scores = {(r.encoder, r.aggregate): r.relative_accuracy for r in results.results}
    assert all(scores[("extrapolate,order=0", agg)] == 0.5 for agg in ("max", "mean", "onset"))
    assert all(scores[("oracle", agg)] == 1.0 for agg in ("max", "mean", "onset"))
    curves = [json.loads(line) for line in (out / "surprise_curves.jsonl").read_text().splitlines()]
    assert {c["design"] for c in curves} == {"occluded"} and len(curves) == 2 * 32
    for c in curves:
        expected = c["violation_frame"] if c["encoder"] == "oracle" else c["onset_frame"]
        assert c["onset_frame"] == expected
    assert any(c["onset_frame"] > c["violation_frame"] for c in curves if c["encoder"] != "oracle")


def _table(wins_by_model: dict[str, list[float]], kind="permanence", dataset="d", context=4, horizon=2):
    """A GroupTable whose groups have, for each model, possible surprise 0 and impossible surprise 1 (a win),
    -1 (a loss) or 0 (a tie) at every aggregate."""
    value = {1.0: 1.0, 0.0: -1.0, 0.5: 0.0}
    return {(dataset, model, context, horizon): {
        f"g{i}": (kind, {agg: (np.array([0.0, 0.0]), np.array([value[w], value[w]])) for agg in ("max", "mean")})
        for i, w in enumerate(wins)} for model, wins in wins_by_model.items()}


def test_paired_surprise_comparisons_on_hand_made_groups():
    from evaluate.tasks.surprise_comparisons import compare_models, model_pairs

    assert model_pairs(["v", "v,seed=1", "album"]) == [("v", "album"), ("v,seed=1", "album")]  # seeds not paired
    same = [1.0, 0.0, 0.5, 1.0] * 5
    [null, _] = compare_models(_table({"v": same, "album": same}), ["v", "album"], {}, ("max", "mean"), 200)
    assert (null["diff"], null["p"], null["p_adjusted"], null["call"]) == (0.0, 1.0, 1.0, "tie")
    assert null["a_value"] == null["b_value"] == pytest.approx(2.5 / 4) and not null["certified"]
    # v wins 36 of 40 groups, the album 20: a planted difference the paired test must find
    planted = compare_models(_table({"v": [1.0] * 36 + [0.0] * 4, "album": [1.0, 0.0] * 20}), ["v", "album"],
                             {("d", "permanence"): True}, ("max", "mean"), 500)
    for r in planted:
        assert (r["a"], r["b"], r["a_value"], r["b_value"]) == ("v", "album", 0.9, 0.5)
        assert r["diff"] == pytest.approx(0.4) and r["ci95"][0] > 0 and r["p"] < 0.001 and r["call"] == "a"
        assert r["certified"] and r["n_groups"] == 40
    # Holm over the run: the two (equal) p-values of max and mean are each doubled
    assert planted[0]["p_adjusted"] == pytest.approx(min(1.0, 2 * planted[0]["p"]))
    # groups only one model scored are left out of the pair
    table = _table({"v": [1.0] * 6, "album": [0.0] * 6})
    del table[("d", "album", 4, 2)]["g0"]
    assert compare_models(table, ["v", "album"], {}, ("max",), 50)[0]["n_groups"] == 5


def test_trajectory_surprise_against_random_vjepa2_end_to_end(quadruplets_tiny, tmp_path, monkeypatch, capsys):
    """trajectory:random-image:tiny beside random-vjepa2:tiny on occluded quadruplets: a comparison per kind ×
    aggregate, recomputed here from the curves file."""
    from evaluate.metrics import relative_win
    from evaluate.paired import Terms, holm, paired_difference
    from evaluate.tasks.surprise import clip_values
    from evaluate.tasks.surprise_comparisons import mean_win

    out = tmp_path / "surprise"
    code, stdout, err = cli(monkeypatch, capsys, "surprise", quadruplets_tiny, "-e", "random-vjepa2:tiny", "-e",
                            "trajectory:random-image:tiny", "-e", "extrapolate,order=0", "--context", "4", "--out", out,
                            "--bootstrap", "50", "--device", "cpu")
    assert code == 0, err
    payload = json.loads((out / "surprise.json").read_text())
    check_against_schema(monkeypatch, capsys, "surprise.json", payload)
    [identity] = [e["identity"] for e in payload["encoders"] if e["encoder"] == "trajectory:random-image:tiny"]
    assert identity["kind"] == "trajectory" and identity["encoder"]["kind"] == "random-image"
    comparisons = payload["comparisons"]
    kinds = {c["kind"] for c in payload["certification"]}
    assert {(c["kind"], c["aggregate"]) for c in comparisons} == {(k, a) for k in kinds for a in ("max", "mean", "onset")}
    assert {(c["a"], c["b"]) for c in comparisons} == {("random-vjepa2:tiny", "trajectory:random-image:tiny")}
    curves = [json.loads(line) for line in (out / "surprise_curves.jsonl").read_text().splitlines()]
    scores = {(r["encoder"], r["aggregate"]): r for r in payload["results"]}
    for c in comparisons:
        wins = {}
        for model in (c["a"], c["b"]):
            groups: dict[str, dict[bool, list[float]]] = {}
            for line in curves:
                if line["encoder"] == model and line["group_violation"] == c["kind"]:
                    groups.setdefault(line["group_id"], {True: [], False: []})[line["possible"] == "true"].append(
                        clip_values(line)[c["aggregate"]])
            wins[model] = {g: relative_win(np.array(v[True]), np.array(v[False])) for g, v in groups.items()}
        ids = sorted(wins[c["a"]])
        assert c["n_groups"] == len(ids) and c["a_value"] == pytest.approx(np.mean([wins[c["a"]][g] for g in ids]))
        assert c["a_value"] == scores[(c["a"], c["aggregate"])]["by_violation"][c["kind"]]["relative_accuracy"]
        again = paired_difference(mean_win, [Terms({"win": np.array([wins[c["a"]][g] for g in ids])})],
                                  [Terms({"win": np.array([wins[c["b"]][g] for g in ids])})], np.array(ids), 50, 0)
        assert again == {k: c[k] for k in again}
    assert [c["p_adjusted"] for c in comparisons] == holm([c["p"] for c in comparisons])
    md = (out / "surprise_report.md").read_text()
    assert md.index("Certification by the controls") < md.index("Paired comparisons") < md.index("Scores, all kinds")
    assert "paired comparisons" in stdout


def test_trajectory_surprise_refuses_video_encoders_and_frame_options():
    from evaluate.errors import EncoderError

    with pytest.raises(EncoderError, match="not a per-frame encoder"):
        build_surprise_model("trajectory:random-vjepa2:tiny")
    with pytest.raises(EncoderError, match="pool do not apply"):
        build_surprise_model("trajectory:random-image:tiny,pool=mean")
    with pytest.raises(EncoderError, match="e.g. trajectory:random-image:tiny"):
        build_surprise_model("trajectory")
    model = build_surprise_model("trajectory:pixels,size=8")
    with pytest.raises(ValueError, match="at least 3"):
        model.check_window(2, 2)
    # each window reads its own frames: a change after a window leaves its surprise as it was
    clip = random_clip(3, t=12)
    later = clip.copy()
    later[10:] = 0
    starts = window_starts(12, 4, 2, 2)
    before, after = model.surprise(clip, 4, 2, starts), model.surprise(later, 4, 2, starts)
    assert starts == [0, 2, 4, 6] and np.array_equal(before[:3], after[:3])  # windows [0, 6) .. [4, 10)
    assert before[3] != after[3]  # [6, 12) holds the changed frames
