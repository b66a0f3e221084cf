"""Scores of test predictions, with 95% bootstrap CIs that resample test *groups*.

Resampling groups (not clips) keeps a falling clip and its rising twin together, so the
interval reflects the number of independent scenes. The metrics are written in numpy: the
bootstrap calls them a thousand times per result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

N_BOOTSTRAP = 1000
PRIMARY = {"class": "balanced_accuracy", "regression": "r2"}


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in y_true."""
    classes = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = y_true.astype(float), y_pred.astype(float)
    total = np.sum((y_true - y_true.mean()) ** 2)
    if total == 0:
        return float("nan")
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


def chance(kind: str, y_true: np.ndarray) -> float:
    """The primary metric of a predictor that knows nothing: 1/K balanced accuracy, R² 0."""
    return 1.0 / len(np.unique(y_true)) if kind == "class" else 0.0


def group_resamples(groups: np.ndarray, n: int = N_BOOTSTRAP, seed: int = 0) -> list[np.ndarray]:
    """``n`` index arrays, each the clips of len(unique groups) groups drawn with replacement."""
    rng = np.random.default_rng(seed)
    unique, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(unique))]
    return [np.concatenate([members[g] for g in rng.integers(len(unique), size=len(unique))]) for _ in range(n)]


def _ci(values: list[float]) -> list[float]:
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        return [float("nan"), float("nan")]
    lo, hi = np.percentile(arr, [2.5, 97.5])
    return [float(lo), float(hi)]


def score(kind: str, y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray,
          n_bootstrap: int = N_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Primary metric with its CI, the chance level and the secondary metrics."""
    primary = PRIMARY[kind]
    fn = METRICS[primary]
    samples = group_resamples(groups, n_bootstrap, seed)
    out: dict[str, Any] = {"metric": primary, "value": fn(y_true, y_pred),
                           "ci95": _ci([fn(y_true[i], y_pred[i]) for i in samples]),
                           "chance": chance(kind, y_true)}
    for name in SECONDARY[kind]:
        out[name] = METRICS[name](y_true, y_pred)
    return out


def temporal_margin(kind: str, y_true: np.ndarray, groups: np.ndarray, original: np.ndarray,
                    static: dict[str, np.ndarray], n_bootstrap: int = N_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """original score minus the best static view's score, with a paired group bootstrap CI
    (the same resampled groups score every view)."""
    fn = METRICS[PRIMARY[kind]]

    def margin(index: np.ndarray | slice) -> tuple[float, str]:
        scores = {view: fn(y_true[index], pred[index]) for view, pred in static.items()}
        best = max(scores, key=lambda v: -np.inf if np.isnan(scores[v]) else scores[v])
        return fn(y_true[index], original[index]) - scores[best], best

    value, best_view = margin(slice(None))
    samples = group_resamples(groups, n_bootstrap, seed)
    return {"value": value, "ci95": _ci([margin(i)[0] for i in samples]), "best_static_view": best_view}
