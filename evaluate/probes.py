"""Probes: fitted on train+val embeddings, scored once on test. A registry, so that an
attentive probe can join the linear one later.

``linear``: standardised features, then
- classes: LogisticRegression, C tuned by grouped K-fold CV (balanced accuracy) on train+val;
- regression: ridge regression, alpha chosen on a log grid by the same grouped folds (what
  RidgeCV(alphas, cv=folds) does, solved for all alphas from one SVD per fold), on a
  standardised target (predictions are mapped back to the target's unit).
Groups (e.g. a falling clip and its time-reversed twin) never straddle a fold.

Speed: with fewer clips than feature dimensions, the standardised features are rotated onto
the row space of the train+val matrix (from its Gram matrix) before fitting. An L2-penalised linear model
is invariant under that rotation and its weights lie in that row space, so the fit, the CV
and the predictions are the same as in the full space, at a fraction of the cost.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from evaluate.errors import EvaluateError
from evaluate.registry import did_you_mean
from evaluate.rows import Rows, as_rows

C_GRID = np.logspace(-3, 3, 7)
ALPHA_GRID = np.logspace(-2, 6, 17)
MAX_FOLDS = 5


class ProbeSkipped(EvaluateError):
    """A target this probe cannot be fitted on (constant, one class, too few groups): reported, not fatal."""


@dataclass
class ProbeFit:
    y_pred: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)


class Probe(ABC):
    name: ClassVar[str]
    description: ClassVar[str]

    @abstractmethod
    def fit_predict(self, kind: str, x_train: Rows | np.ndarray, y_train: np.ndarray, groups: np.ndarray,
                    x_test: Rows | np.ndarray) -> ProbeFit:
        """Fit on (x_train, y_train), grouped by ``groups`` for tuning; predict x_test. The features
        are arrays or :class:`evaluate.rows.Rows` (read a block at a time, e.g. from the cache)."""


def grouped_folds(groups: np.ndarray, y: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ProbeSkipped(f"only {n_groups} group in train+val; grouped CV needs at least 2")
    folds = GroupKFold(n_splits=min(MAX_FOLDS, n_groups))
    return list(folds.split(np.zeros(len(groups)), y, groups))


def check_target(kind: str, y: np.ndarray) -> None:
    if kind == "class":
        if len(np.unique(y)) < 2:
            raise ProbeSkipped(f"only one class ({y[0]!r}) in train+val")
    else:
        y = y.astype(float)
        if not np.all(np.isfinite(y)):
            raise ProbeSkipped("target has missing or non-finite values")
        if np.std(y) <= 1e-9 * max(1.0, float(np.abs(y).mean())):
            raise ProbeSkipped(f"constant target (all {float(y.mean()):.6g}): nothing to predict")


_PREPARED: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()
_PREPARED_MAX = 2  # the runner probes every target of one feature matrix before it loads the next


def standardise_and_rotate(x_train: Rows | np.ndarray, x_test: Rows | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_standardise_and_rotate`, remembered by content: every target of a dataset probes the
    same features, and the rotation of wide features is most of a probe's cost."""
    x_train, x_test = as_rows(x_train), as_rows(x_test)
    digest = x_train.key + x_test.key
    if digest in _PREPARED:
        _PREPARED.move_to_end(digest)
        return _PREPARED[digest]
    result = _standardise_and_rotate(x_train, x_test)
    for array in result:
        array.flags.writeable = False  # shared between targets: nobody may change it in place
    _PREPARED[digest] = result
    if len(_PREPARED) > _PREPARED_MAX:
        _PREPARED.popitem(last=False)
    return result


def _features(rows: Rows, start: int, stop: int) -> np.ndarray:
    """Rows start:stop as float64 vectors; token features (pool=tokens) are read as their mean."""
    block = rows.block(start, stop)
    return block.mean(axis=1, dtype=np.float64) if block.ndim == 3 else block.astype(np.float64)


def _standardise_and_rotate(train: Rows, test: Rows) -> tuple[np.ndarray, np.ndarray]:
    """Standardise with train+val statistics; when dims > clips, rotate onto the train row space.

    A feature's scale is floored at 1% of the median scale: a pixel that moved in one training
    clip only would otherwise be blown up by a tiny std and dominate the test predictions.

    The features are read a block of rows at a time and never held whole (they may be read from
    the cache: :class:`evaluate.rows.CachedRows`). Wide features are never standardised as a
    whole either: the rotation comes from the (clips × clips) Gram matrix A·Aᵀ = U·S²·Uᵀ of the
    standardised train matrix A, accumulated block by block in float64, so memory holds a few
    clips × clips matrices, not clips × dims. The rotated train rows are A·V = U·S, and the test
    rows B·V = B·Aᵀ·U·S⁻¹.
    """
    n, d = len(train), train.shape[-1]
    train_blocks, test_blocks = train.blocks(), test.blocks()
    total = np.zeros(d)
    for lo, hi in train_blocks:
        total += _features(train, lo, hi).sum(axis=0)
    mean = total / n
    squares = np.zeros(d)
    for lo, hi in train_blocks:  # a second pass: exact where sums of squares would cancel
        squares += ((_features(train, lo, hi) - mean) ** 2).sum(axis=0)
    std = np.sqrt(squares / n)
    positive = std[std > 0]
    floor = 0.01 * float(np.median(positive)) if len(positive) else 1.0
    scale = np.maximum(std, floor)

    def standardised(rows: Rows, lo: int, hi: int) -> np.ndarray:
        return (_features(rows, lo, hi) - mean) / scale

    if d <= n:  # n × d ≤ n × n: small enough to hold
        return (np.concatenate([standardised(train, lo, hi) for lo, hi in train_blocks]),
                np.concatenate([standardised(test, lo, hi) for lo, hi in test_blocks]))
    gram, cross = np.zeros((n, n)), np.zeros((len(test), n))
    for i, (lo, hi) in enumerate(train_blocks):
        a = standardised(train, lo, hi)
        gram[lo:hi, lo:hi] = a @ a.T
        for lo2, hi2 in train_blocks[:i]:
            gram[lo:hi, lo2:hi2] = a @ standardised(train, lo2, hi2).T
            gram[lo2:hi2, lo:hi] = gram[lo:hi, lo2:hi2].T
        for lo2, hi2 in test_blocks:
            cross[lo2:hi2, lo:hi] = standardised(test, lo2, hi2) @ a.T
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    # Eigenvalues below float64 rounding of the Gram matrix (~n·eps·largest) are null directions.
    keep = eigenvalues > 1e-11 * max(float(eigenvalues[-1]), 1e-300)
    if not keep.any():  # features carry nothing (e.g. motion of a static view): one zero column
        return np.zeros((n, 1)), np.zeros((len(test), 1))
    u, s = eigenvectors[:, keep], np.sqrt(eigenvalues[keep])
    return u * s, (cross @ u) / s


class LinearProbe(Probe):
    name = "linear"
    description = "standardised features; LogisticRegression (C by grouped CV) or ridge (alpha by grouped CV)"

    def __init__(self, standardize_target: bool = True):
        self.standardize_target = standardize_target

    def fit_predict(self, kind, x_train, y_train, groups, x_test):
        check_target(kind, y_train)
        folds = grouped_folds(groups, y_train)
        x_train, x_test = standardise_and_rotate(x_train, x_test)
        if kind == "class":
            return self._logistic(x_train, y_train, folds, x_test)
        return self._ridge(x_train, y_train.astype(float), folds, x_test)

    @staticmethod
    def _logistic(x, y, folds, x_test) -> ProbeFit:
        from sklearn.linear_model import LogisticRegression

        from evaluate.metrics import balanced_accuracy

        def fit(c: float, rows: np.ndarray | slice) -> LogisticRegression:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter at extreme C; the CV judges C anyway
                return LogisticRegression(C=c, max_iter=300).fit(x[rows], y[rows])

        cv_scores = []
        for c in C_GRID:
            fold_scores = []
            for train, val in folds:
                if len(np.unique(y[train])) < 2:
                    continue  # a fold with one class says nothing about C
                fold_scores.append(balanced_accuracy(y[val], fit(c, train).predict(x[val])))
            cv_scores.append(np.mean(fold_scores) if fold_scores else 0.0)
        best = float(C_GRID[int(np.argmax(cv_scores))])  # ties: the strongest regularisation
        return ProbeFit(fit(best, slice(None)).predict(x_test), {"C": best, "cv_balanced_accuracy": float(max(cv_scores))})

    def _ridge(self, x, y, folds, x_test) -> ProbeFit:
        mu, sd = (y.mean(), y.std()) if self.standardize_target else (0.0, 1.0)
        z = (y - mu) / sd
        sse = np.zeros(len(ALPHA_GRID))
        for train, val in folds:
            pred = ridge_path(x[train], z[train], x[val], ALPHA_GRID)  # (n_val, n_alphas)
            sse += ((pred - z[val, None]) ** 2).sum(axis=0)
        best = float(ALPHA_GRID[int(np.argmin(sse))])
        pred = ridge_path(x, z, x_test, np.array([best]))[:, 0]
        return ProbeFit(pred * sd + mu, {"alpha": best, "cv_mse_standardised": float(sse.min() / len(y))})


def ridge_path(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Ridge predictions for every alpha at once (with an unpenalised intercept), from one SVD:
    w(alpha) = V diag(s / (s^2 + alpha)) U^T y on centred data. Same as sklearn's Ridge."""
    x_mean, y_mean = x.mean(axis=0), y.mean()
    u, s, vt = np.linalg.svd(x - x_mean, full_matrices=False)
    uty = u.T @ (y - y_mean)  # (k,)
    shrink = s[:, None] / (s[:, None] ** 2 + alphas[None, :])  # (k, n_alphas)
    proj = (x_test - x_mean) @ vt.T  # (n_test, k)
    return proj @ (shrink * uty[:, None]) + y_mean


PROBES: dict[str, type[Probe]] = {"linear": LinearProbe}


def get_probe(name: str) -> Probe:
    """``name[,key=value...]``: options go to the probe (e.g. ``attentive,epochs=10``)."""
    head, *opts = name.split(",")
    if head not in PROBES:
        raise ValueError(f"unknown probe {head!r}{did_you_mean(head, PROBES)}; probes: {', '.join(PROBES)}")
    options = dict(opt.partition("=")[::2] for opt in opts)
    if options and head == "linear":
        raise ValueError(f"probe {name!r}: linear takes no options")
    return PROBES[head](**options)


import evaluate.attentive  # noqa: E402, F401  (registers "attentive"; it builds on Probe, defined above)
