"""What a probe is: fitted on train+val features, grouped for tuning, then it predicts test once.
Also the probe registry, the grouped folds every probe tunes on, and the target checks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from evaluate.errors import EvaluateError
from evaluate.probes.rows import Rows
from simgen.spec.registry import Registry

MAX_FOLDS = 5
# The key of ProbeFit.params every probe fills: its score on held-out train+val data (never test),
# higher is better. A layer sweep picks the layer that stands for an encoder on it (evaluate/layers.py).
VALIDATION_SCORE = "validation_score"


class ProbeSkipped(EvaluateError):
    """A target this probe cannot be fitted on (constant, one class, too few groups): reported, not fatal."""


@dataclass
class ProbeFit:
    y_pred: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)


class Probe(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    takes_options: ClassVar[bool] = False  # `name,key=value`: options go to __init__

    @abstractmethod
    def fit_predict(self, kind: str, x_train: Rows | np.ndarray, y_train: np.ndarray, groups: np.ndarray,
                    x_test: Rows | np.ndarray) -> ProbeFit:
        """Fit on (x_train, y_train), grouped by ``groups`` for tuning; predict x_test. The features
        are arrays or :class:`evaluate.probes.rows.Rows` (read a block at a time, e.g. from the cache)."""


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


# Filled by the probe modules, which evaluate/probes/__init__.py imports (importing this module runs
# that package first); this module imports none of them.
PROBES: Registry[type[Probe]] = Registry("probe")


def get_probe(name: str) -> Probe:
    """``name[,key=value...]``: options go to the probe (e.g. ``attentive,epochs=10``)."""
    head, *opts = name.split(",")
    cls = PROBES[head]
    options = dict(opt.partition("=")[::2] for opt in opts)
    if options and not cls.takes_options:
        raise ValueError(f"probe {name!r}: {head} takes no options")
    return cls(**options)
