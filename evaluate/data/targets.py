"""Targets as a probe sees them: each one made to mean one thing before it is scored.

- A target ``defined_when`` a class holds (a light's ``speed`` among moving lights) is scored
  only on those clips; elsewhere its value (0, or 1 for a steady light's duty cycle) would only
  restate the class.
- A target with ``residual_on`` (impact's ``impulse_given_mass``) is replaced by the part of it
  those targets do not explain: the residual of a log-log least-squares fit on train+val, applied
  unchanged to test (no test label is used to fit it).
- A circular target (``period``) is regressed as (cos, sin) and scored by angle (see
  :class:`evaluate.metrics.Metric`).
- ``reversed_test`` holds what each test clip's time reversal should be labelled, by the
  target's declared ``reversal`` rule (None where undefined): the labels reversal sensitivity
  scores the reversed clips against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluate.data.dataset import Target
from evaluate.metrics import Metric
from simgen.families.base import reversed_targets


@dataclass
class TargetData:
    info: Target
    train_rows: np.ndarray  # indices into the split's train clips where the target is defined
    test_rows: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    reversed_test: np.ndarray | None  # expected label of each test clip's reversal (None entries: undefined)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def metric(self) -> Metric:
        return Metric(self.info.kind, self.info.period)

    @property
    def subset(self) -> str | None:
        """'moves=linear' for a target scored on a subset of the clips."""
        return ", ".join(f"{k}={v}" for k, v in self.info.defined_when.items()) if self.info.defined_when else None


def prepare_target(target: Target, train: list, test: list) -> TargetData | str:
    """The target's data on the clips where it is defined, or why it cannot be probed."""
    info = target.info

    def defined(clips: list) -> np.ndarray:
        return np.array([i for i, c in enumerate(clips) if info.defined_on(c.targets)], dtype=int)

    train_rows, test_rows = defined(train), defined(test)
    where = f" among clips with {target.defined_when}" if target.defined_when else ""
    if not len(test_rows):
        return f"the test split has no clips{where} (render more clips: a larger -n)"
    if not len(train_rows):
        return f"the train and val splits have no clips{where} (render more clips: a larger -n)"
    y_train = np.array([train[i].targets.get(target.name) for i in train_rows], dtype=object)
    y_test = np.array([test[i].targets.get(target.name) for i in test_rows], dtype=object)
    if any(v is None for v in (*y_train, *y_test)):
        return "some clips have no value for it"
    cast = float if target.kind == "regression" else str
    y_train, y_test = y_train.astype(cast), y_test.astype(cast)
    if target.residual_on:
        explained = [[[clips[i].targets.get(name) for name in target.residual_on] for i in rows]
                     for clips, rows in ((train, train_rows), (test, test_rows))]
        if any(v is None for part in explained for row in part for v in row):
            return f"some clips have no value for {', '.join(target.residual_on)}"
        y_train, y_test = residualise(y_train, y_test, *(np.asarray(part, dtype=float) for part in explained))
    reversed_test = None
    if target.reversal and target.reversal.get("rule") not in (None, "undefined"):
        reversed_test = np.array([reversed_targets({target.name: info}, test[i].targets).get(target.name)
                                  for i in test_rows], dtype=object)
    return TargetData(target, train_rows, test_rows, y_train, y_test, reversed_test)


def residualise(y_train: np.ndarray, y_test: np.ndarray, x_train: np.ndarray,
                x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The residual of y after least squares on x (with an intercept), fitted on train only. In logs
    when every value is positive: impulse = mass × Δv is a product, so its log is a sum."""
    logs = all(np.all(a > 0) for a in (y_train, y_test, x_train, x_test))
    f = np.log if logs else (lambda a: a)
    design_train = np.column_stack([np.ones(len(x_train)), f(x_train)])
    design_test = np.column_stack([np.ones(len(x_test)), f(x_test)])
    coef, *_ = np.linalg.lstsq(design_train, f(y_train), rcond=None)
    return f(y_train) - design_train @ coef, f(y_test) - design_test @ coef
