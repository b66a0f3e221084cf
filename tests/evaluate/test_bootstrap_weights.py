"""The vectorised bootstrap (clip weights per resample) gives what scoring each resample's clips
one by one gives: the same draws, the same metric, undefined where it is undefined."""

import numpy as np
import pytest

from evaluate.metrics import Metric, ci95, floored_margin, group_resamples, resample_weights, score


def looped_ci(metric: Metric, y_true, y_pred, groups, n=200):
    return ci95([metric.primary(y_true[i], y_pred[i]) for i in group_resamples(groups, n, 0)])


@pytest.mark.parametrize("kind, period", [("class", None), ("regression", None), ("regression", 360.0)])
def test_weighted_bootstrap_matches_the_resample_loop(kind, period):
    rng = np.random.default_rng(3)
    n = 60
    groups = rng.integers(0, 25, n)
    if kind == "class":
        y_true = rng.integers(0, 3, n)
        y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, 3, n))
        control = rng.integers(0, 3, n)
    else:
        y_true = rng.normal(size=n) * 50
        y_pred, control = y_true + rng.normal(size=n) * 30, rng.normal(size=n)
    metric = Metric(kind, period)
    got = score(metric, y_true, y_pred, groups, 200)
    assert np.allclose(got["ci95"], looped_ci(metric, y_true, y_pred, groups), atol=1e-12)
    margin = floored_margin(metric, y_true, groups, y_pred, control, 200)
    floor = metric.chance(y_true)
    looped = ci95([metric.primary(y_true[i], y_pred[i]) - max(floor, metric.primary(y_true[i], control[i]))
                   for i in group_resamples(groups, 200, 0)])
    assert np.allclose(margin["ci95"], looped, atol=1e-12)


def test_weights_count_the_drawn_groups_and_an_undefined_r2_stays_undefined():
    groups = np.array([5, 5, 7, 9])
    w = resample_weights(groups, 50, 0)
    for row, index in zip(w, group_resamples(groups, 50, 0), strict=True):
        assert np.array_equal(row, np.bincount(index, minlength=4))
    constant = score(Metric("regression"), np.full(4, 2.0), np.arange(4.0), groups, 50)
    assert np.isnan(constant["ci95"]).all() and "ci_note" in constant
