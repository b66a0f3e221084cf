"""Which layer stands for a swept encoder (``layers=``), chosen on validation data only.

A sweep gives one results row per layer. Margins, comparisons and the verdict need one row per
encoder, so for each (dataset, target, encoder, probe) the layer whose probe scored best on data
held out of *train+val* stands for the encoder: the linear probe's grouped K-fold CV score, the
attentive probe's score on the val split (``VALIDATION_SCORE`` in each fit's ``probe_params``, of
the fit on the original view). Test labels are never read, so picking the best of L layers does
not inflate the test score the way picking on test would. Ties go to the shallower layer.

The lead's code asks :func:`standing_layer` for one key, or filters any rows with
:func:`standing_rows` (results records or json/prediction dicts alike).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeVar

from evaluate.probes.base import VALIDATION_SCORE
from evaluate.results import LayerChoice, Score

CRITERIA = {
    "linear": "linear probe's grouped K-fold CV score on train+val (balanced accuracy; R² for regression), fitted "
              "on the original view; test never read",
    "attentive": "attentive probe's score on the val split (a grouped holdout of train+val without one), fitted on "
                 "the original view; test never read",
}
GENERIC_CRITERION = "the probe's validation_score on held-out train+val data, fitted on the original view"
CIRCULAR_NOTE = " (circular target: the mean of its cos and sin fits)"

Row = TypeVar("Row")


def validation_score(params: dict[str, Any]) -> float | None:
    """A fit's validation score, or None. A circular target is fitted as (cos, sin): their mean."""
    if VALIDATION_SCORE in params:
        return float(params[VALIDATION_SCORE])
    parts = [p[VALIDATION_SCORE] for p in params.values() if isinstance(p, dict) and VALIDATION_SCORE in p]
    return float(sum(parts) / len(parts)) if parts else None


def choose_layers(scores: Iterable[Score]) -> list[LayerChoice]:
    """One choice per (dataset, target, encoder, probe) that has rows of several layers, from the
    within-view rows on the original view, in the order the rows come."""
    by_key: dict[tuple[str, str, str, str], dict[int, tuple[float, bool]]] = {}
    for s in scores:
        if s.layer is None or s.view != "original" or s.fit_view != "original":
            continue
        value = validation_score(s.probe_params)
        circular = VALIDATION_SCORE not in s.probe_params
        by_key.setdefault((s.dataset, s.target, s.encoder, s.probe), {})[s.layer] = (
            value if value is not None and math.isfinite(value) else -math.inf, circular)
    choices = []
    for (dataset, target, encoder, probe), per_layer in by_key.items():
        layers = sorted(per_layer)
        best = max(layers, key=lambda layer: (per_layer[layer][0], -layer))  # ties: the shallower layer
        if per_layer[best][0] == -math.inf:
            continue  # no layer has a validation score: none can stand for the encoder
        criterion = CRITERIA.get(probe.split(",")[0], GENERIC_CRITERION)
        if per_layer[best][1]:
            criterion += CIRCULAR_NOTE
        choices.append(LayerChoice(dataset=dataset, target=target, encoder=encoder, probe=probe, layer=best,
                                   criterion=criterion,
                                   validation_scores={layer: per_layer[layer][0] for layer in layers
                                                      if per_layer[layer][0] != -math.inf}))
    return choices


def _get(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def _as_choice(choice: LayerChoice | dict[str, Any]) -> LayerChoice:
    return choice if isinstance(choice, LayerChoice) else LayerChoice(**choice)


def standing_layer(layer_choices: Iterable[LayerChoice | dict[str, Any]], dataset: str, target: str, encoder: str,
                   probe: str) -> int | None:
    """The layer that stands for ``encoder`` on (dataset, target, probe); None when it is not swept
    (or no layer could be chosen). ``layer_choices``: results.json's list, as records or dicts."""
    for choice in map(_as_choice, layer_choices):
        if (choice.dataset, choice.target, choice.encoder, choice.probe) == (dataset, target, encoder, probe):
            return choice.layer
    return None


def standing_rows(rows: Iterable[Row], layer_choices: Iterable[LayerChoice | dict[str, Any]]) -> list[Row]:
    """The rows that speak for their encoder: every row without a layer, and of a sweep's rows only
    those of the standing layer of their (dataset, target, encoder, probe). Rows are results
    records (Score, Margin, ReversalScore) or dicts with the same fields (results.json rows,
    prediction lines). A swept key with no choice keeps none of its rows."""
    chosen = {(c.dataset, c.target, c.encoder, c.probe): c.layer for c in map(_as_choice, layer_choices)}
    return [row for row in rows if _get(row, "layer") is None or chosen.get(
        (_get(row, "dataset"), _get(row, "target"), _get(row, "encoder"), _get(row, "probe"))) == _get(row, "layer")]
