"""What a probe reads of a target from given features: out-of-fold predictions under grouped
cross-validation, scored with evaluate's metrics, and a 95% CI that resamples groups.

Two probes: ``linear`` (standardised logistic regression, or ridge with its strength chosen by
efficient leave-one-out) and ``boosted`` (scikit-learn's HistGradientBoosting classifier or
regressor), the nonlinear reader that finds what a linear one cannot (a band of positions, a product
of two features). A circular target is regressed as (cos, sin) and scored by angle, as evaluate does.

The bootstrap is vectorised over groups: each resample is a vector of group counts (multinomial), and
every metric is a ratio of count-weighted per-group sums, so a thousand resamples of 5,000 clips cost
milliseconds. The point value is evaluate's own metric (``evaluate.metrics.Metric``); the tests check
that the weighted sums give the same value with every count at 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from evaluate.metrics import Metric

PROBES = ("linear", "boosted")
FOLDS = 5
N_BOOTSTRAP = 1000
EARLY_STOPPING_FROM = 1000  # training clips from which the boosted probe stops early


@dataclass(frozen=True)
class Measurement:
    value: float
    ci95: tuple[float, float]
    chance: float


def predict_out_of_fold(x: np.ndarray, y: np.ndarray, groups: np.ndarray, kind: str, probe: str,
                        folds: int = FOLDS) -> np.ndarray:
    """Each clip's prediction by a probe fitted on the folds that do not hold its group."""
    from sklearn.model_selection import GroupKFold

    out = np.empty(len(y), dtype=y.dtype if kind == "class" else float)
    for train, test in GroupKFold(n_splits=min(folds, len(np.unique(groups)))).split(x, y, groups):
        model = make_probe(kind, probe, len(train))
        if kind == "class" and len(np.unique(y[train])) < 2:
            out[test] = y[train][0]
            continue
        model.fit(x[train], y[train])
        out[test] = model.predict(x[test])
    return out


def make_probe(kind: str, probe: str, n_train: int = 0):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if probe == "linear":
        head = LogisticRegression(max_iter=2000) if kind == "class" else RidgeCV(alphas=np.logspace(-3, 3, 7))
        return make_pipeline(StandardScaler(), head)
    if probe == "boosted":
        booster = HistGradientBoostingClassifier if kind == "class" else HistGradientBoostingRegressor
        # Early stopping on a 10% held-out slice (10 rounds without gain): a reader of noise stops after a few
        # rounds instead of fitting 100 to it. Only from 1,000 training clips: a smaller slice judges rounds
        # by noise. On contact's 5,000 clips it cut a one-frame fit from 2.0-3.4 s to 0.6-1.3 s and read
        # each leak as well or better (last frame: will_contact 0.617 -> 0.618, clearance R² 0.158 -> 0.171,
        # contact_offset R² 0.122 -> 0.147; a middle frame stayed at chance).
        stop_early = n_train >= EARLY_STOPPING_FROM
        return booster(max_iter=100, learning_rate=0.1, max_leaf_nodes=15, early_stopping=stop_early,
                       validation_fraction=0.1, n_iter_no_change=10, random_state=0)
    raise ValueError(f"probe {probe!r}; allowed: {', '.join(PROBES)}")


def measure(x: np.ndarray, y: np.ndarray, groups: np.ndarray, metric: Metric, probe: str,
            n_bootstrap: int = N_BOOTSTRAP, seed: int = 0) -> Measurement:
    """The probe's out-of-fold score of ``y`` from ``x``, with a group-bootstrap 95% CI."""
    if metric.period:
        angle = 2 * np.pi * y / metric.period
        cos = predict_out_of_fold(x, np.cos(angle), groups, "regression", probe)
        sin = predict_out_of_fold(x, np.sin(angle), groups, "regression", probe)
        predicted = np.mod(np.arctan2(sin, cos) * metric.period / (2 * np.pi), metric.period)
    else:
        predicted = predict_out_of_fold(x, y, groups, metric.kind, probe)
    counts = bootstrap_counts(groups, n_bootstrap, seed)
    resampled = weighted_scores(metric, y, predicted, groups, counts)
    lo, hi = np.nanpercentile(resampled, [2.5, 97.5])
    return Measurement(metric.primary(y, predicted), (float(lo), float(hi)), metric.chance(y))


def bootstrap_counts(groups: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(n, G): how often each of the G groups is drawn in each resample of G groups with replacement."""
    return _counts(len(np.unique(groups)), n, seed)


@lru_cache(maxsize=8)
def _counts(g: int, n: int, seed: int) -> np.ndarray:
    # Drawn once per process and group count: 1,000 multinomials over 5,000 groups take 0.4 s, which
    # repeated for each of an audit's ~90 measurements was a fifth of its probing time.
    counts = np.random.default_rng(seed).multinomial(g, np.full(g, 1.0 / g), size=n)
    counts.flags.writeable = False
    return counts


def weighted_scores(metric: Metric, y: np.ndarray, predicted: np.ndarray, groups: np.ndarray,
                    counts: np.ndarray) -> np.ndarray:
    """The metric on each resample, ``counts`` (R, G) giving each group's multiplicity."""
    _, inverse = np.unique(groups, return_inverse=True)
    if metric.kind == "class":
        recalls = []
        for c in np.unique(y):
            of_class = y == c
            n = counts @ _group_sums(inverse, of_class, counts.shape[1])
            hits = counts @ _group_sums(inverse, of_class & (predicted == c), counts.shape[1])
            recalls.append(np.where(n > 0, hits / np.maximum(n, 1), np.nan))
        return np.nanmean(np.stack(recalls), axis=0)
    if metric.period:
        a, b = 2 * np.pi * y / metric.period, 2 * np.pi * predicted / metric.period
        return (_weighted_r2(np.cos(a), np.cos(b), inverse, counts) + _weighted_r2(np.sin(a), np.sin(b), inverse,
                                                                                    counts)) / 2
    return _weighted_r2(y.astype(float), predicted.astype(float), inverse, counts)


def _group_sums(inverse: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    return np.bincount(inverse, weights=values.astype(float), minlength=n_groups)


def _weighted_r2(y: np.ndarray, predicted: np.ndarray, inverse: np.ndarray, counts: np.ndarray) -> np.ndarray:
    g = counts.shape[1]
    n, sy, syy = (counts @ _group_sums(inverse, v, g) for v in (np.ones_like(y), y, y * y))
    residual = counts @ _group_sums(inverse, (y - predicted) ** 2, g)
    total = syy - sy * sy / n
    return np.where(total > 0, 1 - residual / np.where(total > 0, total, 1.0), np.nan)
