"""Surprise models against each other, paired on the same groups: the tubelet-versus-album verdict of
``evaluate surprise`` (``random-vjepa2:tiny`` against ``trajectory:random-image:tiny``, say).

For every pair of evaluated models (controls left out: they certify a set, they do not compete on it;
seeds of one random-init model, which differ only by ``seed=``, are not paired with each other) and each
dataset × violation kind × context × aggregate, the record is ``a − b`` of the **relative accuracy**
(IntPhys) on the groups both scored, ``a`` being the model named first on the command line:

- each group's outcome is its relative win (1, ½ on a tie, 0), computed as the run's own scores compute
  it (:func:`evaluate.metrics.group_scores`: ties snapped over the kind's groups), so ``a_value`` is the
  relative accuracy in the results' ``by_violation`` whenever both models scored the same groups;
- the 95% CI is a paired group bootstrap (the same resampled groups for both models) and the p-value a
  paired permutation test that swaps the two models' outcomes within groups (:mod:`evaluate.paired`);
- the p-values of every record of the run form one family, adjusted by Holm; the call (``a``, ``b`` or
  ``tie``) is made at adjusted α = 0.05. ``certified`` says whether the run's controls certify the kind.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np

from evaluate.metrics import relative_win, snap_ties
from evaluate.paired import Terms, call, holm, paired_difference

QUANTITY = "relative_accuracy"
SEED = 0  # the bootstrap draws of the run's per-model CIs

# (dataset, encoder, context, horizon) -> group_id -> (its violation kind, aggregate -> (possible, impossible)
# surprises, or None where the group could not be scored at that context)
GroupTable = dict[tuple[str, str, int, int], dict[str, tuple[str, dict[str, tuple[np.ndarray, np.ndarray]] | None]]]


def _family(name: str) -> str:
    return re.sub(r",seed=\d+", "", name)


def model_pairs(models: list[str]) -> list[tuple[str, str]]:
    """Every pair of evaluated models, in command-line order, except two seeds of the same model."""
    return [(a, b) for a, b in itertools.combinations(models, 2) if _family(a) != _family(b)]


def group_wins(groups: dict[str, tuple[str, dict | None]], kind: str, aggregate: str) -> dict[str, float]:
    """group_id -> relative win of the groups of ``kind`` scored at ``aggregate``, ties snapped over them all
    as :func:`evaluate.metrics.group_scores` snaps them."""
    have = [(g, v[aggregate]) for g, (k, v) in groups.items() if k == kind and v is not None and aggregate in v]
    if not have:
        return {}
    flat = snap_ties(np.concatenate([np.r_[p, i] for _, (p, i) in have]).astype(np.float64))
    wins, at = {}, 0
    for g, (p, i) in have:
        wins[g] = relative_win(flat[at:at + len(p)], flat[at + len(p):at + len(p) + len(i)])
        at += len(p) + len(i)
    return wins


def mean_win(parts: list[Terms], w: np.ndarray) -> np.ndarray:
    """Relative accuracy under rows of group weights ``w`` (B, n): the weighted mean of the wins."""
    return (w * parts[0].values["win"]).sum(-1) / w.sum(-1)


def compare_models(table: GroupTable, models: list[str], certified: dict[tuple[str, str], bool],
                   aggregates: tuple[str, ...], n_resamples: int) -> list[dict[str, Any]]:
    """The paired comparisons of a run (see the module doc); ``certified``: (dataset, kind) -> certified."""
    cells = sorted({(d, c, h) for d, _, c, h in table})
    records = []
    for a, b in model_pairs(models):
        for dataset, context, horizon in cells:
            ga, gb = table.get((dataset, a, context, horizon)), table.get((dataset, b, context, horizon))
            if ga is None or gb is None:
                continue
            kinds = sorted({k for k, _ in ga.values()} & {k for k, _ in gb.values()} - {"none"})
            for kind, aggregate in itertools.product(kinds, aggregates):
                wa, wb = group_wins(ga, kind, aggregate), group_wins(gb, kind, aggregate)
                common = sorted(set(wa) & set(wb))
                if not common:
                    continue
                terms = [Terms({"win": np.array([w[g] for g in common])}) for w in (wa, wb)]
                paired = paired_difference(mean_win, [terms[0]], [terms[1]], np.array(common), n_resamples, SEED)
                records.append({"dataset": dataset, "kind": kind, "context": context, "horizon": horizon,
                                "aggregate": aggregate, "quantity": QUANTITY, "a": a, "b": b, **paired,
                                "n_groups": len(common), "certified": certified.get((dataset, kind), False)})
    for record, adjusted in zip(records, holm([r["p"] for r in records]), strict=True):
        record["p_adjusted"] = adjusted
        record["call"] = call(record["diff"], adjusted)
    return records
