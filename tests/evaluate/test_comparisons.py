"""Paired comparisons between encoders: the statistics on hand-computed cases, a paired null, a planted
difference, and the run's comparisons recomputed from its predictions; `evaluate compare` joins runs
made apart and refuses runs of other data."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from evaluate.errors import EvaluateError
from evaluate.metrics import Metric, balanced_accuracy, group_resamples, r2
from evaluate.paired import (
    Quantity,
    WeightedScorer,
    call,
    clip_terms,
    group_weights,
    holm,
    paired_difference,
    permutation_p,
)
from tests.evaluate.test_cli import cli

ROOT = Path(__file__).resolve().parents[2]
# a class and a regression target of each dataset, and a circular one: enough kinds, a quarter of the fits
TARGETS = ["direction", "vz_start", "kind", "speed", "direction_deg"]


def test_holm_hand_computed():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    adjusted = holm([0.01, float("nan"), 0.02])  # a NaN is not a test: m = 2
    assert adjusted[0] == pytest.approx(0.02) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


def test_weighted_scores_hand_computed():
    y, pred = np.array(["a", "a", "b", "b"]), np.array(["a", "b", "b", "b"])
    m = Metric("class")
    score = WeightedScorer(m, y)
    terms = clip_terms(m, y, pred)
    # unit weights: recall a 1/2, recall b 2/2 -> 0.75; weights (2, 0, 1, 1): recall a 2/2, b 2/2 -> 1.0
    assert score(terms, np.array([[1.0, 1, 1, 1], [2, 0, 1, 1]])) == pytest.approx([0.75, 1.0])
    yr, pr = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0, 2.0])
    mr = Metric("regression")
    # unit: SSE 1, SST 5 -> 0.8. Weights (0, 1, 1, 2): mean 2.25, SST 1.25²+0.25²+2·0.75² = 2.75, SSE 2 -> 1 − 2/2.75
    got = WeightedScorer(mr, yr)(clip_terms(mr, yr, pr), np.array([[1.0, 1, 1, 1], [0, 1, 1, 2]]))
    assert got == pytest.approx([0.8, 1 - 2 / 2.75])
    # a circular target (degrees): under unit weights, the metric the results rows use
    angles, guess = np.array([10.0, 100.0, 200.0, 350.0]), np.array([20.0, 90.0, 180.0, 5.0])
    mc = Metric("regression", period=360.0)
    assert WeightedScorer(mc, angles)(clip_terms(mc, angles, guess), np.ones((1, 4)))[0] == \
        pytest.approx(mc.primary(angles, guess))


def test_bootstrap_draws_are_the_runs_own():
    """The paired CI resamples exactly the groups the run's per-encoder CIs resample."""
    groups = np.repeat(np.arange(7), [1, 2, 3, 1, 2, 2, 1])
    weights = group_weights(groups, 50, seed=0)
    for w, index in zip(weights, group_resamples(groups, 50, seed=0), strict=True):
        assert np.array_equal(w, np.bincount(index, minlength=len(groups)))


def _classes(n_groups: int, accuracy_a: float, accuracy_b: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), 2)
    y = np.tile(["up", "down"], n_groups)
    other = np.where(y == "up", "down", "up")
    a = np.where(rng.random(len(y)) < accuracy_a, y, other)
    b = np.where(rng.random(len(y)) < accuracy_b, y, other)
    return y, groups, a, b


def _compare(y, groups, a, b, n=1000):
    m = Metric("class")
    return paired_difference(Quantity(WeightedScorer(m, y)), [clip_terms(m, y, a)], [clip_terms(m, y, b)], groups, n)


def test_paired_null_gives_no_difference():
    y, groups, a, _ = _classes(40, 0.7, 0.7)
    result = _compare(y, groups, a, a.copy())
    assert result["diff"] == 0 and result["p"] == 1.0 and result["ci95"] == [0.0, 0.0]
    assert call(result["diff"], holm([result["p"]])[0]) == "tie"


def test_planted_difference_is_found_both_ways():
    y, groups, a, b = _classes(100, 0.9, 0.5)
    ahead = _compare(y, groups, a, b)
    assert ahead["diff"] == pytest.approx(balanced_accuracy(y, a) - balanced_accuracy(y, b))
    assert ahead["ci95"][0] > 0 and ahead["p"] < 1e-6 and call(ahead["diff"], ahead["p"]) == "a"
    behind = _compare(y, groups, b, a)
    assert behind["diff"] == pytest.approx(-ahead["diff"]) and call(behind["diff"], behind["p"]) == "b"
    # a small difference on few groups could be chance: a tie
    y, groups, a, b = _classes(10, 0.75, 0.7, seed=3)
    small = _compare(y, groups, a, b)
    assert call(small["diff"], small["p"]) == "tie"


def test_p_is_the_permutation_count():
    """The p of a plainly written permutation test (whole groups swapped), within Monte-Carlo error."""
    y, groups, a, b = _classes(60, 0.8, 0.7, seed=1)
    m = Metric("class")
    observed = balanced_accuracy(y, a) - balanced_accuracy(y, b)
    rng = np.random.default_rng(5)
    null = []
    for _ in range(4000):  # the permutation test written plainly: swap whole groups' predictions
        flip = np.repeat(rng.random(60) < 0.5, 2)
        null.append(balanced_accuracy(y, np.where(flip, b, a)) - balanced_accuracy(y, np.where(flip, a, b)))
    counted = (1 + np.sum(np.abs(null) >= abs(observed) - 1e-12)) / (1 + len(null))
    assert 0.005 < counted < 0.5  # resolvable
    assert _compare(y, groups, a, b, n=4000)["p"] == pytest.approx(counted, abs=0.03)
    assert permutation_p(0.0, np.zeros(10)) == 1.0 and m.kind == "class"
    # beyond every permutation: a normal tail below the count's floor 1/(n + 1), not the floor itself
    far = permutation_p(0.5, np.random.default_rng(0).normal(0, 0.05, 999))
    assert 0 < far < 1e-6


# --------------------------------------------------------------------------- a run's comparisons


# Resamples of the run's CIs, which test_comparisons_recompute_from_predictions draws again: enough for a
# 95% interval to be defined; the number itself is not what is tested.
N_BOOTSTRAP = 100


@pytest.fixture(scope="module")
def compared_run(tmp_path_factory):
    """Two small datasets (falling_rising, lights; 16 train, 8 val, 16 test clips each:
    8 test groups, so that no resample of a regression target draws one group alone) scored by a tubelet, its
    album, a pixel baseline and the oracles in one run; and the same encoders split over two runs."""
    from evaluate.config import RunConfig
    from evaluate.tasks.probe import run
    from simgen.run.parallel import render_dataset
    from simgen.spec import parse_spec
    from tests.conftest import tiny_spec_dict

    base = tmp_path_factory.mktemp("compare")
    datasets = []
    for family in ("falling_rising", "lights"):
        datasets.append(str(base / f"{family}_32"))
        render_dataset(parse_spec(tiny_spec_dict(family, counts=(16, 8, 16))), datasets[-1], workers=1)
    runs = {}
    for name, encoders in (("joint", ["pixels", "random-vjepa2:tiny", "random-image:tiny", "oracle-static",
                                      "oracle-full"]),
                           ("tubelet", ["random-vjepa2:tiny"]),
                           ("album", ["pixels", "random-image:tiny"])):
        run(RunConfig(datasets=datasets, encoders=encoders, out=str(base / name), cache=str(base / "cache"),
                      views=["original", "single_frame", "shuffled"], targets=TARGETS, device="cpu", n_bootstrap=N_BOOTSTRAP))
        runs[name] = base / name
    return runs


def _key(c: dict) -> tuple:
    return c["dataset"], c["target"], c["probe"], c["quantity"], c["a"], c["b"]


def test_comparisons_recompute_from_predictions(compared_run):
    """Every comparison's values, CI and Holm adjustment follow from predictions.jsonl alone."""
    import pandas as pd

    payload = json.loads((compared_run["joint"] / "results.json").read_text())
    comparisons = payload["comparisons"]
    # every pair of contenders (controls left out), the tubelet first, three quantities per target
    assert {(c["a"], c["b"]) for c in comparisons} == {("random-vjepa2:tiny", "random-image:tiny"),
                                                       ("random-vjepa2:tiny", "pixels"),
                                                       ("random-image:tiny", "pixels")}
    assert {c["dataset"] for c in comparisons} == {"falling_rising_32", "lights_32"}
    assert {c["quantity"] for c in comparisons} == {"original", "static_margin", "order_margin"}
    preds = pd.read_json(compared_run["joint"] / "predictions.jsonl", lines=True, precise_float=True)
    infos = {(d["name"], t): info for d in payload["datasets"] for t, info in d["targets"].items()}
    tables = {key: rows.sort_values("clip_id") for key, rows in preds[preds.fit_view == preds.test_view].groupby(
        ["dataset", "target", "encoder", "test_view"])}

    def value(c: dict, encoder: str, idx: np.ndarray | None = None) -> float:
        """The comparison's quantity for one encoder, recomputed on clips ``idx`` (all by default)."""
        is_class = infos[c["dataset"], c["target"]]["kind"] == "class"
        metric = balanced_accuracy if is_class else r2
        orig = tables[c["dataset"], c["target"], encoder, "original"]
        cast = str if is_class else float
        y, p = orig.y_true.to_numpy().astype(cast), orig.y_pred.to_numpy().astype(cast)
        idx = np.arange(len(y)) if idx is None else idx
        score = metric(y[idx], p[idx])
        if c["quantity"] == "original":
            return score
        control = tables[c["dataset"], c["target"], encoder, c["control_view"]].y_pred.to_numpy().astype(cast)
        floor = 1 / len(set(y)) if is_class else 0.0
        return score - max(floor, metric(y[idx], control[idx]))

    checked = 0
    for c in comparisons:
        if infos[c["dataset"], c["target"]].get("period"):
            continue  # circular targets: scored as angles; their weighted score is checked in test_weighted_scores
        # (to float rounding: the clips are summed here in clip-id order)
        assert value(c, c["a"]) == pytest.approx(c["a_value"], abs=1e-12)
        assert value(c, c["b"]) == pytest.approx(c["b_value"], abs=1e-12)
        if c["target"] in ("direction", "kind", "vz_start") and c["quantity"] != "order_margin":  # CIs: a sample
            groups = tables[c["dataset"], c["target"], c["a"], "original"].group_id.to_numpy()
            boot = [value(c, c["a"], i) - value(c, c["b"], i) for i in group_resamples(groups, N_BOOTSTRAP, seed=0)]
            assert np.percentile(boot, [2.5, 97.5]) == pytest.approx(c["ci95"], abs=1e-9)
            checked += 1
    assert checked >= 6
    assert holm([c["p"] for c in comparisons]) == pytest.approx([c["p_adjusted"] for c in comparisons])
    assert all(c["call"] == ("tie" if c["p_adjusted"] >= 0.05 else "a" if c["diff"] > 0 else "b")
               for c in comparisons)
    # the verdict: the tubelet against each pixel baseline, certified by the run's oracles or marked
    assert {(v["tubelet"], v["opponent"]) for v in payload["verdict"]} == {("random-vjepa2:tiny", "pixels"),
                                                                           ("random-vjepa2:tiny", "random-image:tiny")}
    md = (compared_run["joint"] / "report.md").read_text() if (compared_run["joint"] / "report.md").exists() else ""
    assert md == "" or md.index("## Verdict") < md.index("## Identifiability")


def test_docs_snippet_recomputes_a_score_and_a_difference(compared_run):
    """The docs' pandas snippet (docs/evaluating.md), run as written on a real run folder."""
    text = (ROOT / "docs" / "evaluating.md").read_text()
    match = re.search(r"<!-- recompute-snippet -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/evaluating.md lost its recompute snippet"
    namespace = {"RUN": str(compared_run["joint"])}
    exec(match.group(1), namespace)  # noqa: S102  (our own docs)
    payload = json.loads((compared_run["joint"] / "results.json").read_text())
    row = namespace["row"]
    assert namespace["score"] == pytest.approx(row["value"], abs=1e-12)
    comparison = namespace["comparison"]
    assert namespace["diff"] == pytest.approx(comparison["diff"], abs=1e-12)
    assert comparison in payload["comparisons"]


def test_compare_joins_runs_made_apart(compared_run, tmp_path):
    from evaluate.tasks.compare import compare_runs

    joined = compare_runs([compared_run["tubelet"], compared_run["album"]], tmp_path / "cmp")
    joint = {_key(c): c for c in json.loads((compared_run["joint"] / "results.json").read_text())["comparisons"]}
    got = {_key(c.row()): c.row() for c in joined.comparisons}
    assert got.keys() == joint.keys()
    for key, c in got.items():  # the same numbers as one run with every encoder (the Holm family is the same too)
        assert {k: c[k] for k in ("a_value", "b_value", "diff", "ci95", "p", "p_adjusted", "call")} == \
               {k: joint[key][k] for k in ("a_value", "b_value", "diff", "ci95", "p", "p_adjusted", "call")}
    assert (tmp_path / "cmp" / "comparisons.json").is_file()


def _copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("results.json", "predictions.jsonl"):
        shutil.copy(src / name, dst / name)
    return dst


def test_compare_refuses_other_data(compared_run, tmp_path):
    from evaluate.tasks.compare import compare_runs

    other = _copy_run(compared_run["album"], tmp_path / "other-seed")
    payload = json.loads((other / "results.json").read_text())
    payload["datasets"][0]["fingerprint"] = "0" * 16
    (other / "results.json").write_text(json.dumps(payload))
    with pytest.raises(EvaluateError, match="fingerprint .* not the same data"):
        compare_runs([compared_run["tubelet"], other], tmp_path / "out1")
    fewer = _copy_run(compared_run["album"], tmp_path / "fewer-clips")
    lines = (fewer / "predictions.jsonl").read_text().splitlines()
    dropped = json.loads(lines[0])["clip_id"]
    (fewer / "predictions.jsonl").write_text("\n".join(x for x in lines if json.loads(x)["clip_id"] != dropped) + "\n")
    with pytest.raises(EvaluateError, match="tested on other clips"):
        compare_runs([compared_run["tubelet"], fewer], tmp_path / "out2")
    assert not (tmp_path / "out1").exists() and not (tmp_path / "out2").exists()  # nothing written


def test_compare_cli_refusals_are_one_line(compared_run, tmp_path, monkeypatch, capsys):
    code, _, err = cli(monkeypatch, capsys, "compare", compared_run["tubelet"], compared_run["album"], "--out",
                       tmp_path / "x", "--compare", "random-vjepa2:tiny vs image:foo")
    assert code != 0 and "is in none of the runs" in err and "Traceback" not in err
    code, _, err = cli(monkeypatch, capsys, "compare", compared_run["tubelet"], compared_run["album"], "--out",
                       tmp_path / "x", "--compare", "random-vjepa2:tiny pixels")
    assert code != 0 and "'A vs B'" in err and len(err.strip().splitlines()) == 1


def test_verdict_certifies_only_temporal_targets_not_declared_static():
    """A line is certified when the run's oracles say the target needs time and the family does not declare
    that one frame may give it; an album-vs-pixels pair is not a verdict line."""
    from evaluate.comparisons import verdict
    from evaluate.results import Comparison, Identifiability

    def comparison(target: str, a: str, b: str) -> Comparison:
        return Comparison(dataset="d", target=target, kind="class", metric="balanced_accuracy", fit_view="original",
                          test_view="original", probe="linear", quantity="original", a=a, b=b, a_value=0.9,
                          b_value=0.6, diff=0.3, ci95=[0.1, 0.5], p=0.001, p_adjusted=0.01, call="a", n_test=40,
                          test_groups=20)

    comparisons = [comparison(t, "random-vjepa2:tiny", "random-image:tiny") for t in ("up", "mass", "hit")]
    comparisons.append(comparison("up", "random-image:tiny", "pixels"))
    identified = [Identifiability(dataset="d", target=t, probe="linear", verdict=v)
                  for t, v in (("up", "temporal"), ("mass", "static"), ("hit", "temporal"))]
    roles = {"random-vjepa2:tiny": "tubelet", "random-image:tiny": "album", "pixels": "pixels"}
    rows = verdict(comparisons, identified, roles, {("d", "up"): False, ("d", "mass"): True, ("d", "hit"): True})
    assert [(r.target, r.opponent, r.certified) for r in rows] == [
        ("up", "random-image:tiny", "certified"), ("mass", "random-image:tiny", "static"),
        ("hit", "random-image:tiny", "static")]  # hit: the oracles missed it, the declared promise did not
