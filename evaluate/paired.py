"""Paired tests of two encoders (or surprise models) scored on the same test clips.

Two encoders probed on the same clips make correlated errors, so their separate CIs say nothing
about their difference. Here the difference itself is resampled:

- the 95% CI comes from a **paired group bootstrap**: each resample draws test groups with
  replacement (the draws :func:`evaluate.metrics.group_resamples` makes for every other CI of the
  run, same seed) and scores both encoders on it;
- the p-value comes from a **paired permutation test**: under the null that the two encoders are
  exchangeable, swapping their predictions within a group leaves the distribution of the difference
  unchanged, so each permutation swaps every group's predictions with probability 1/2. The p is the
  Monte-Carlo count (1 + k) / (1 + n) of permutations at least as extreme. Where none is (k = 0), the
  count says only p < 1/(n + 1), which Holm over hundreds of tests would turn into "never
  significant": there the tail is read off a normal with the permutations' spread (the difference is
  a sum over groups of nearly independent terms), capped at 1/(n + 1);
- :func:`holm` adjusts the p-values of a family of tests (Holm's step-down: controls the
  family-wise error rate under any dependence between the tests).

The statistics are vectorised: each quantity is written as a function of per-clip *terms* (for
balanced accuracy, whether each clip is right; for R², its squared error) summed under a row of
clip weights, so a thousand resamples are a few matrix products.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from evaluate.metrics import N_BOOTSTRAP, Metric, ci95

ALPHA = 0.05
Call = Literal["a", "b", "tie"]


@dataclass(frozen=True)
class Terms:
    """Per-clip terms of one prediction vector, from which its metric under any clip weights follows."""

    values: dict[str, np.ndarray]  # name -> (n,) float

    def select(self, other: Terms, take_other: np.ndarray) -> Terms:
        """(B, n) terms: ``other``'s where ``take_other`` (B, n) is true, else these."""
        return Terms({k: np.where(take_other, other.values[k], v) for k, v in self.values.items()})


def clip_terms(metric: Metric, y_true: np.ndarray, y_pred: np.ndarray) -> Terms:
    """What :func:`weighted_score` needs of one prediction vector."""
    if metric.kind == "class":
        return Terms({"correct": (np.asarray(y_pred) == np.asarray(y_true)).astype(float)})
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    if metric.period:
        a, b = 2 * np.pi * y_true / metric.period, 2 * np.pi * y_pred / metric.period
        return Terms({"sq_cos": (np.cos(a) - np.cos(b)) ** 2, "sq_sin": (np.sin(a) - np.sin(b)) ** 2})
    return Terms({"sq": (y_true - y_pred) ** 2})


class WeightedScorer:
    """The primary metric of a target under rows of clip weights: ``score(terms, w)`` with ``w`` (B, n)
    is the metric of B resampled test sets at once (a clip drawn twice counts twice). Equal to
    :meth:`Metric.primary` under unit weights."""

    def __init__(self, metric: Metric, y_true: np.ndarray):
        self.metric = metric
        if metric.kind == "class":
            classes, index = np.unique(np.asarray(y_true), return_inverse=True)
            self.onehot = np.eye(len(classes))[index]  # (n, K)
        else:
            y = np.asarray(y_true, float)
            if metric.period:
                angle = 2 * np.pi * y / metric.period
                self.parts = {"sq_cos": np.cos(angle), "sq_sin": np.sin(angle)}
            else:
                self.parts = {"sq": y}

    def __call__(self, terms: Terms, w: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a resample that drew one class: NaN, left out
            if self.metric.kind == "class":  # mean recall over the classes drawn
                recall = ((w * terms.values["correct"]) @ self.onehot) / (w @ self.onehot)
                return np.nanmean(np.where(np.isfinite(recall), recall, np.nan), axis=-1)
            r2 = []
            for name, y in self.parts.items():
                total = w.sum(-1)
                sst = w @ y ** 2 - (w @ y) ** 2 / total
                sse = (w * terms.values[name]).sum(-1)
                r2.append(np.where(sst > 1e-12 * np.maximum(w @ y ** 2, 1e-300), 1 - sse / sst, np.nan))
            return np.nanmean(np.stack(r2), axis=0) if len(r2) > 1 else r2[0]


@dataclass(frozen=True)
class Quantity:
    """A score (``original``) or a margin (``original − max(floor, control)``) of one encoder, as a
    function of its per-clip terms: ``parts`` are the terms of its original predictions and, for a
    margin, of its control view's."""

    scorer: WeightedScorer
    floor: float | None = None  # a margin: the control is floored at chance

    def __call__(self, parts: Sequence[Terms], w: np.ndarray) -> np.ndarray:
        value = self.scorer(parts[0], w)
        if self.floor is None:
            return value
        return value - np.maximum(self.floor, self.scorer(parts[1], w))


def group_weights(groups: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """(B, n) clip weights of B bootstrap resamples of test groups: the same draws as
    :func:`evaluate.metrics.group_resamples` with this seed (a clip of a group drawn twice weighs 2)."""
    unique, inverse = np.unique(groups, return_inverse=True)
    draws = np.random.default_rng(seed).integers(len(unique), size=(n_resamples, len(unique)))
    counts = np.zeros((n_resamples, len(unique)))
    np.add.at(counts, (np.arange(n_resamples)[:, None], draws), 1.0)
    return counts[:, inverse]


def group_swaps(groups: np.ndarray, n_permutations: int, seed: int) -> np.ndarray:
    """(B, n) booleans: in permutation b, clip i takes the other encoder's prediction. Whole groups
    swap together (a clip and its reversed twin are not independent)."""
    unique, inverse = np.unique(groups, return_inverse=True)
    flips = np.random.default_rng([seed, 1]).random((n_permutations, len(unique))) < 0.5
    return flips[:, inverse]


def permutation_p(observed: float, null: np.ndarray) -> float:
    """Two-sided p of ``observed`` among the permutation differences ``null`` (see the module doc)."""
    from scipy.stats import norm

    null = null[np.isfinite(null)]
    scale = max(abs(observed), 1.0)
    if abs(observed) <= 1e-12 * scale or not len(null):
        return 1.0  # no difference at all: nothing to reject
    extreme = int(np.sum(np.abs(null) >= abs(observed) - 1e-12 * scale))
    counted = (1 + extreme) / (1 + len(null))
    if extreme:
        return float(counted)
    spread = float(np.sqrt(np.mean(null ** 2)))  # about 0, as the null is
    if spread <= 1e-12 * scale:
        return 0.0  # every swap gives a difference of 0, and the observed one is not 0
    return float(min(counted, 2 * norm.sf(abs(observed) / spread)))


def paired_difference(quantity: Quantity, a: Sequence[Terms], b: Sequence[Terms], groups: np.ndarray,
                      n_resamples: int = N_BOOTSTRAP, seed: int = 0,
                      values: tuple[float, float] | None = None) -> dict[str, Any]:
    """``a − b`` of one quantity on the same clips: values, difference, paired group-bootstrap CI and
    the paired permutation p-value. ``values``: the two point values as the results rows computed
    them (the same numbers up to float rounding), so that the record repeats them exactly."""
    n = len(groups)
    ones = np.ones((1, n))
    a_value, b_value = values or (float(quantity(a, ones)[0]), float(quantity(b, ones)[0]))
    w = group_weights(groups, n_resamples, seed)
    boot = quantity(a, w) - quantity(b, w)
    swap = group_swaps(groups, n_resamples, seed)
    null = (quantity([ta.select(tb, swap) for ta, tb in zip(a, b, strict=True)], ones)
            - quantity([tb.select(ta, swap) for ta, tb in zip(a, b, strict=True)], ones))
    diff = a_value - b_value
    return {"a_value": a_value, "b_value": b_value, "diff": diff, "ci95": ci95(list(boot)),
            "p": permutation_p(diff, null)}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: the i-th smallest p times (m − i), made monotone, capped at 1.
    NaN p-values (a test that could not be made) stay NaN and do not count in m."""
    p = np.asarray(p_values, float)
    adjusted = np.full(len(p), np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return [float(x) for x in adjusted]


def call(diff: float, p_adjusted: float, alpha: float = ALPHA) -> Call:
    """Which side wins at the adjusted level: ``a``, ``b``, or ``tie`` (the difference could be chance)."""
    if not np.isfinite(p_adjusted) or p_adjusted >= alpha or diff == 0:
        return "tie"
    return "a" if diff > 0 else "b"
