"""Scores of test predictions, with 95% bootstrap CIs that resample test *groups*.

Resampling groups (not clips) keeps a falling clip and its rising twin together, so the
interval reflects the number of independent scenes. The metrics are written in numpy: the
bootstrap calls them a thousand times per result.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

N_BOOTSTRAP = 1000
# Bootstrap CIs resample test groups; with fewer the interval understates the uncertainty (a test split
# of one group gives a CI of zero width). Below this many, the console and the reports say so.
MIN_TEST_GROUPS = 20
PRIMARY = {"class": "balanced_accuracy", "regression": "r2"}


CONSTANT_RTOL = 1e-9  # values closer than this (relative) are one value: R² over them is undefined
UNDEFINED_SHARE = 0.025  # a bootstrap CI is undefined when more of its resamples than this are

def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in y_true."""
    classes = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = y_true.astype(float), y_pred.astype(float)
    total = np.sum((y_true - y_true.mean()) ** 2)
    scale = float(np.abs(y_true).max()) if len(y_true) else 0.0
    if total <= len(y_true) * (CONSTANT_RTOL * max(scale, 1e-300)) ** 2:  # one value, up to float rounding:
        return float("nan")  # R² is undefined (its denominator is rounding noise, whence −9.5e29)
    return float(1 - np.sum((y_true - y_pred) ** 2) / total)


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(y_true.astype(float) - y_pred.astype(float))))


def spearman(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from scipy.stats import rankdata

    a, b = rankdata(y_true), rankdata(y_pred)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "balanced_accuracy": balanced_accuracy, "accuracy": accuracy, "r2": r2, "mae": mae, "spearman": spearman,
}
SECONDARY = {"class": ("accuracy",), "regression": ("spearman", "mae")}


def circular_r2(period: float) -> Callable[[np.ndarray, np.ndarray], float]:
    """R² of an angle's two components (cos, sin), averaged: 1 for exact angles, 0 for a predictor
    that knows only the mean direction. An angle regressed as a number would count 359° and 1° as
    far apart."""
    def fn(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        a, b = 2 * np.pi * y_true.astype(float) / period, 2 * np.pi * y_pred.astype(float) / period
        return float(np.nanmean([r2(np.cos(a), np.cos(b)), r2(np.sin(a), np.sin(b))]))

    return fn


def angular_error(period: float) -> Callable[[np.ndarray, np.ndarray], float]:
    """Mean absolute difference of two angles, the short way round, in the angle's unit."""
    def fn(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        d = np.mod(y_pred.astype(float) - y_true.astype(float) + period / 2, period) - period / 2
        return float(np.mean(np.abs(d)))

    return fn


@dataclass(frozen=True)
class Metric:
    """How one target is scored: the primary metric (higher is better; margins use it), its chance
    level, and the secondary metrics."""

    kind: str  # class | regression
    period: float | None = None  # circular regression targets: scored by angle, not as a number

    @property
    def name(self) -> str:
        return "circular_r2" if self.period else PRIMARY[self.kind]

    def primary(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return circular_r2(self.period)(y_true, y_pred) if self.period else METRICS[self.name](y_true, y_pred)

    def chance(self, y_true: np.ndarray) -> float:
        """The primary metric of a predictor that knows nothing: 1/K balanced accuracy, R² 0."""
        return 1.0 / len(np.unique(y_true)) if self.kind == "class" else 0.0

    def secondary(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        if self.period:
            return {"angular_error": angular_error(self.period)(y_true, y_pred)}
        return {name: METRICS[name](y_true, y_pred) for name in SECONDARY[self.kind]}


def chance(kind: str, y_true: np.ndarray) -> float:
    """The primary metric of a predictor that knows nothing: 1/K balanced accuracy, R² 0."""
    return Metric(kind).chance(y_true)


def group_resamples(groups: np.ndarray, n: int = N_BOOTSTRAP, seed: int = 0) -> list[np.ndarray]:
    """``n`` index arrays, each the clips of len(unique groups) groups drawn with replacement."""
    rng = np.random.default_rng(seed)
    unique, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(unique))]
    return [np.concatenate([members[g] for g in rng.integers(len(unique), size=len(unique))]) for _ in range(n)]


def ci95(values: list[float]) -> list[float]:
    """The percentile 95% interval of bootstrap values; [nan, nan] (undefined) when more than
    UNDEFINED_SHARE of them are undefined: an interval over the rest would describe other data."""
    arr = np.asarray(values, dtype=float)
    finite = arr[np.isfinite(arr)]
    if not len(finite) or len(arr) - len(finite) > UNDEFINED_SHARE * len(arr):
        return [float("nan"), float("nan")]
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return [float(lo), float(hi)]


def ci_note(values: list[float]) -> str | None:
    """Why ci95(values) is undefined, or None when it is defined."""
    arr = np.asarray(values, dtype=float)
    undefined = int((~np.isfinite(arr)).sum())
    if len(arr) and undefined <= UNDEFINED_SHARE * len(arr):
        return None
    return (f"CI undefined: the metric is undefined in {undefined} of {len(arr)} resamples of the test groups "
            f"(too few test groups, or one target value among them)")


def resample_weights(groups: np.ndarray, n: int = N_BOOTSTRAP, seed: int = 0) -> np.ndarray:
    """(n, len(groups)) clip weights of the resamples :func:`group_resamples` draws (the same draws):
    weight[b, i] is how many times clip i's group was drawn in resample b. Every primary metric is a
    function of the resampled clips as a multiset, so it can be computed under these weights for all
    resamples at once (:func:`weighted_primary`)."""
    unique, inverse = np.unique(groups, return_inverse=True)
    # One call draws the same numbers as group_resamples' n calls of len(unique) each (tested).
    draws = np.random.default_rng(seed).integers(len(unique), size=(n, len(unique)))
    counts = np.zeros((n, len(unique)))
    np.add.at(counts, (np.arange(n)[:, None], draws), 1.0)
    return counts[:, inverse]


def _weighted_r2(y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray) -> np.ndarray:
    """:func:`r2` of each weighted resample (rows of ``w``), undefined where it is."""
    y, sq = y_true.astype(float), (y_true.astype(float) - y_pred.astype(float)) ** 2
    total_w = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w @ y) / total_w
        total = (w * (y[None, :] - mean[:, None]) ** 2).sum(axis=1)
        scale = np.where(w > 0, np.abs(y)[None, :], 0.0).max(axis=1, initial=0.0)
        undefined = total <= total_w * (CONSTANT_RTOL * np.maximum(scale, 1e-300)) ** 2
        return np.where(undefined, np.nan, 1 - (w @ sq) / total)


def weighted_primary(metric: Metric, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``metric.primary`` of every resample at once: row b of ``w`` (B, n) says how many times each
    clip is in resample b. Equal, up to float rounding, to scoring each resample's clips."""
    if metric.kind == "class":
        classes, index = np.unique(y_true, return_inverse=True)
        onehot = np.eye(len(classes))[index]  # (n, K)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a class not drawn: left out of the mean
            recall = ((w * (y_pred == y_true)) @ onehot) / (w @ onehot)
            return np.nanmean(recall, axis=1)
    if metric.period:
        a, b = 2 * np.pi * y_true.astype(float) / metric.period, 2 * np.pi * y_pred.astype(float) / metric.period
        parts = np.stack([_weighted_r2(np.cos(a), np.cos(b), w), _weighted_r2(np.sin(a), np.sin(b), w)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(parts, axis=0)
    return _weighted_r2(y_true, y_pred, w)


def score(metric: Metric | str, y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray,
          n_bootstrap: int = N_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Primary metric with its CI, the chance level and the secondary metrics. The resamples are
    scored all at once, under clip weights (:func:`weighted_primary`)."""
    metric = Metric(metric) if isinstance(metric, str) else metric
    boot = list(weighted_primary(metric, y_true, y_pred, resample_weights(groups, n_bootstrap, seed)))
    note = ci_note(boot)
    return {"metric": metric.name, "value": metric.primary(y_true, y_pred), "ci95": ci95(boot),
            **({"ci_note": note} if note else {}), "chance": metric.chance(y_true), **metric.secondary(y_true, y_pred)}


def floored_margin(metric: Metric | str, y_true: np.ndarray, groups: np.ndarray, original: np.ndarray,
                   control: np.ndarray, n_bootstrap: int = N_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """``original − max(chance, control)``, with a paired group-bootstrap CI (the same resampled
    groups score both). The floor keeps a control that scores below chance (an R² of −1.4) from
    inflating the margin of an encoder that knows nothing."""
    metric = Metric(metric) if isinstance(metric, str) else metric
    floor = metric.chance(y_true)
    w = resample_weights(groups, n_bootstrap, seed)
    controls = weighted_primary(metric, y_true, control, w)
    # As Python's max(floor, control): an undefined control leaves the floor.
    boot = list(weighted_primary(metric, y_true, original, w) - np.where(controls > floor, controls, floor))
    note = ci_note(boot)
    value = metric.primary(y_true, original) - max(floor, metric.primary(y_true, control))
    return {"value": value, "ci95": ci95(boot), **({"ci_note": note} if note else {}), "floor": floor,
            "original": metric.primary(y_true, original), "control": metric.primary(y_true, control)}


def psychometric(theta: np.ndarray, z: np.ndarray, floor: float) -> np.ndarray:
    """A logistic from ``floor`` (chance) to 1: threshold theta[0], slope theta[1]."""
    from scipy.special import expit

    return floor + (1 - floor) * expit(theta[1] * (z - theta[0]))


# --------------------------------------------------------------------------- violation of expectation


TIE_RTOL = 1e-9  # surprises closer than this (relative) are one value: float rounding, not a preference


def pairwise_accuracy(s_possible: np.ndarray, s_impossible: np.ndarray) -> np.ndarray:
    """Per pair: 1 when the impossible clip is more surprising, 0.5 on a tie, else 0."""
    return np.where(s_impossible > s_possible, 1.0, np.where(s_impossible == s_possible, 0.5, 0.0))


def relative_win(possible: np.ndarray, impossible: np.ndarray) -> float:
    """IntPhys's relative score of one group: 1 when its impossible clips are more surprising in total
    than its possible ones, 0.5 on a tie, else 0. Totals are compared as means, which orders them as
    the sums do when the counts match (2 and 2, 1 and 1) and stays fair when a clip was skipped."""
    a, b = float(np.mean(possible)), float(np.mean(impossible))
    if abs(a - b) <= TIE_RTOL * max(abs(a), abs(b)):  # the same values summed in another order
        return 0.5
    return float(pairwise_accuracy(a, b))


def pairwise_win(possible: np.ndarray, impossible: np.ndarray) -> float:
    """The mean pairwise accuracy over every (possible, impossible) combination of one group."""
    return float(pairwise_accuracy(possible[:, None], impossible[None, :]).mean())


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for ``positive`` (Mann–Whitney, ties averaged)."""
    from scipy.stats import rankdata

    pos, neg = int(positive.sum()), int((~positive).sum())
    if not pos or not neg:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def weighted_auroc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC under each row of ``weights`` (B, n): clip i counted weights[b, i] times, as a bootstrap
    over groups does. Vectorised over the rows: the bootstrap would otherwise rank B times."""
    neg_order = np.argsort(scores[~positive], kind="stable")
    neg_sorted = scores[~positive][neg_order]
    w_neg = weights[:, ~positive][:, neg_order]
    w_pos = weights[:, positive]
    below = np.searchsorted(neg_sorted, scores[positive], side="left")
    upto = np.searchsorted(neg_sorted, scores[positive], side="right")
    cum = np.concatenate([np.zeros((len(weights), 1)), np.cumsum(w_neg, axis=1)], axis=1)
    wins = cum[:, below] + 0.5 * (cum[:, upto] - cum[:, below])  # (B, n_pos): weighted negatives beaten
    total = w_pos.sum(axis=1) * w_neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (w_pos * wins).sum(axis=1) / total, np.nan)


def snap_ties(values: np.ndarray, rtol: float = TIE_RTOL) -> np.ndarray:
    """``values`` with every run of sorted values that lie within ``rtol`` of their neighbour set to the
    run's first. A matched design gives an impossible clip exactly the windows of possible ones, and
    the mean of the same numbers summed in another order differs in the last bit: without this, that
    bit would decide a tie."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new_run = np.r_[True, np.diff(ordered) > rtol * np.maximum(np.abs(ordered[1:]), np.abs(ordered[:-1]))]
    snapped = np.empty_like(values)
    snapped[order] = ordered[np.flatnonzero(new_run)[np.cumsum(new_run) - 1]]
    return snapped


def group_scores(groups: list[tuple[np.ndarray, np.ndarray]], n_bootstrap: int, seed: int = 0) -> dict[str, Any]:
    """Relative accuracy, pairwise accuracy and AUROC of groups of (possible, impossible) surprises,
    each with a 95% CI from a bootstrap over groups (a quadruplet's four clips stay together). Values
    within :data:`TIE_RTOL` of each other are ties (:func:`snap_ties`)."""
    flat = snap_ties(np.concatenate([np.r_[p, i] for p, i in groups]).astype(np.float64))
    bounds = np.cumsum([0] + [len(p) + len(i) for p, i in groups])
    groups = [(flat[a:a + len(p)], flat[a + len(p):b]) for (p, _), a, b in zip(groups, bounds[:-1], bounds[1:],
                                                                                   strict=True)]
    rel = np.array([relative_win(p, i) for p, i in groups])
    pair = np.array([pairwise_win(p, i) for p, i in groups])
    scores = np.concatenate([np.r_[p, i] for p, i in groups])
    positive = np.concatenate([np.r_[np.zeros(len(p), bool), np.ones(len(i), bool)] for p, i in groups])
    clip_group = np.concatenate([np.full(len(p) + len(i), g) for g, (p, i) in enumerate(groups)])
    draws = np.random.default_rng(seed).integers(len(groups), size=(n_bootstrap, len(groups)))
    counts = np.zeros((n_bootstrap, len(groups)))
    np.add.at(counts, (np.arange(n_bootstrap)[:, None], draws), 1.0)
    n = len(groups)
    return {"relative_accuracy": float(rel.mean()), "relative_ci95": ci95(list(counts @ rel / n)),
            "pairwise_accuracy": float(pair.mean()), "pairwise_ci95": ci95(list(counts @ pair / n)),
            "auroc": auroc(scores, positive),
            "auroc_ci95": ci95(list(weighted_auroc(scores, positive, counts[:, clip_group]))), "n_groups": n}


def pair_scores(possible: np.ndarray, impossible: np.ndarray, n_bootstrap: int, seed: int = 0) -> dict[str, Any]:
    """:func:`group_scores` of twin pairs: ``possible[g]`` and ``impossible[g]`` are group g's clips."""
    return group_scores([(possible[g:g + 1], impossible[g:g + 1]) for g in range(len(possible))], n_bootstrap, seed)
