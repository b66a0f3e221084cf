"""Encoders against each other on the same test clips: the paired comparisons of a run.

For each pair of encoders ``(a, b)``, each dataset, target and probe, three quantities are compared:
the ``original`` score, the ``static_margin`` (original − max(chance, single_frame)) and the
``order_margin`` (original − max(chance, shuffled)). Each record is ``a − b`` with a paired
group-bootstrap CI and a paired permutation p (evaluate.paired); the p-values of every record of the
run form one family, adjusted by Holm, and the call is made at the adjusted level.

Everything is computed from the per-clip predictions (evaluate.predictions), so ``evaluate run``
and ``evaluate compare`` (runs made apart) give the same records on the same predictions.

Which pairs: every pair of contenders by default (controls, which certify a task rather than compete
on it, are left out), or the pairs a user names (``--compare "A vs B"``). In each pair ``a`` is the
encoder of the earlier role in :data:`ROLE_ORDER` (tubelets first), so a positive difference reads
"the tubelet model is ahead".
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluate.errors import EvaluateError
from evaluate.metrics import Metric
from evaluate.paired import Quantity, WeightedScorer, call, clip_terms, holm, paired_difference
from evaluate.predictions import Predictions
from evaluate.results import Comparison, VerdictRow
from evaluate.roles import ROLES

# What an encoder stands for in the verdict (evaluate/roles.py); an encoder class declares its role.
ROLE_ORDER = ROLES
CONTENDER_ROLES = tuple(r for r in ROLE_ORDER if r != "control")
QUANTITIES = {"original": None, "static_margin": "single_frame", "order_margin": "shuffled"}  # -> control view
PAIR_SEPARATOR = " vs "


def encoder_role(spec: str) -> str:
    """The role its kind declares (``tubelet``, ``album``, ``pixels``, ``control``...)."""
    from evaluate.encoders import parse_spec
    from evaluate.encoders.base import ENCODERS

    return getattr(ENCODERS[parse_spec(spec).kind], "role", "pixels")


def parse_pairs(requested: list[str], encoders: list[str]) -> list[tuple[str, str]]:
    """``["A vs B", ...]`` -> pairs of encoders of the run (each as the run spells it); one-line errors."""
    out = []
    for text in requested:
        a, sep, b = text.partition(PAIR_SEPARATOR)
        a, b = a.strip(), b.strip()
        if not sep or not a or not b:
            raise EvaluateError(f"--compare {text!r}: write two encoders as 'A{PAIR_SEPARATOR}B', e.g. "
                                f"'random-vjepa2:tiny{PAIR_SEPARATOR}random-image:tiny'")
        for name in (a, b):
            if name not in encoders:
                raise EvaluateError(f"--compare {text!r}: {name!r} is not an encoder of this run "
                                    f"({', '.join(encoders)})")
        if a == b:
            raise EvaluateError(f"--compare {text!r}: an encoder against itself")
        out.append((a, b))
    return list(dict.fromkeys(out))


def ordered_pair(a: str, b: str, roles: dict[str, str], order: list[str]) -> tuple[str, str]:
    """(a, b) with the earlier role first, then the run's order."""
    def rank(e: str) -> tuple[int, int]:
        return ROLE_ORDER.index(roles[e]) if roles[e] in ROLE_ORDER else len(ROLE_ORDER), order.index(e)

    return (a, b) if rank(a) <= rank(b) else (b, a)


def default_pairs(encoders: list[str], roles: dict[str, str]) -> list[tuple[str, str]]:
    """Every pair of contenders (not controls), tubelets first within each pair."""
    contenders = [e for e in encoders if roles[e] != "control"]
    return [ordered_pair(a, b, roles, encoders) for a, b in itertools.combinations(contenders, 2)]


@dataclass
class Standing:
    """One encoder's predictions of one (dataset, target, probe) under the views the quantities need,
    at its standing layer (None for encoders without a layer sweep)."""

    layer: int | None
    views: dict[str, Predictions]


def standing_predictions(rows: Iterable[Predictions], layer_choices: list[dict[str, Any]]
                         ) -> dict[tuple[str, str, str, str], Standing]:
    """(dataset, target, probe, encoder) -> its within-view predictions under ``original`` and the
    control views. A swept encoder stands at the layer chosen on validation data (``layer_choices``)."""
    chosen = {(c["dataset"], c["target"], c["encoder"], c["probe"]): c["layer"] for c in layer_choices}
    out: dict[tuple[str, str, str, str], Standing] = {}
    for p in rows:
        k = p.key
        if k.fit_view != k.test_view or k.test_view not in ("original", *filter(None, QUANTITIES.values())):
            continue
        if k.layer is not None and chosen.get((k.dataset, k.target, k.encoder, k.probe)) != k.layer:
            continue
        entry = out.setdefault((k.dataset, k.target, k.probe, k.encoder), Standing(k.layer, {}))
        entry.views[k.test_view] = p
    return out


def keep_line(line: dict[str, Any]) -> bool:
    """The prediction lines comparisons read: within-view, under original or a control view."""
    return line["fit_view"] == line["test_view"] and line["test_view"] in ("original", "single_frame", "shuffled")


def _aligned(a: Predictions, b: Predictions, where: str) -> Predictions:
    """``b`` in ``a``'s clip order; refuses unequal clip sets (never compare different test sets)."""
    if a.clip_ids == b.clip_ids:
        return b
    if sorted(a.clip_ids) != sorted(b.clip_ids):
        missing = sorted(set(a.clip_ids) ^ set(b.clip_ids))
        raise EvaluateError(f"{where}: the two encoders were tested on different clips ({len(missing)} differ, e.g. "
                            f"{missing[0]}); comparisons need the same test clips")
    index = {c: i for i, c in enumerate(b.clip_ids)}
    order = np.array([index[c] for c in a.clip_ids])
    return Predictions(b.key, b.kind, a.clip_ids, b.group_ids[order], b.y_true[order], b.y_pred[order])


def point_value(metric: Metric, y_true: np.ndarray, preds: list[Predictions], floor: float | None) -> float:
    """The score (or floored margin) exactly as the results rows compute it (evaluate.metrics)."""
    value = metric.primary(y_true, preds[0].y_pred)
    return value if floor is None else value - max(floor, metric.primary(y_true, preds[1].y_pred))


def compare(standing: dict[tuple[str, str, str, str], Standing], targets: dict[tuple[str, str], Metric],
            pairs: list[tuple[str, str]], n_bootstrap: int, seed: int = 0) -> list[Comparison]:
    """Every quantity of every pair on every (dataset, target, probe) both encoders were scored on,
    Holm-adjusted together."""
    records: list[dict[str, Any]] = []
    cells = dict.fromkeys((d, t, p) for d, t, p, _ in standing)
    for (dataset, target, probe), (a, b) in itertools.product(cells, pairs):
        sa, sb = standing.get((dataset, target, probe, a)), standing.get((dataset, target, probe, b))
        if sa is None or sb is None:
            continue
        metric = targets[(dataset, target)]
        for quantity, control in QUANTITIES.items():
            needed = ("original",) + ((control,) if control else ())
            if not all(v in sa.views and v in sb.views for v in needed):
                continue
            where = f"{dataset}/{target} ({probe}, {quantity})"
            ref = sa.views["original"]
            preds_a = [_aligned(ref, sa.views[v], where) for v in needed]
            preds_b = [_aligned(ref, sb.views[v], where) for v in needed]
            y_true, groups = ref.y_true, ref.group_ids
            if any(not np.array_equal(p.y_true, y_true) for p in preds_a + preds_b):
                raise EvaluateError(f"{where}: the two encoders' test labels differ; the runs read different data")
            floor = metric.chance(y_true) if control else None
            q = Quantity(WeightedScorer(metric, y_true), floor)

            result = paired_difference(q, [clip_terms(metric, y_true, p.y_pred) for p in preds_a],
                                       [clip_terms(metric, y_true, p.y_pred) for p in preds_b], groups,
                                       n_bootstrap, seed, values=(point_value(metric, y_true, preds_a, floor),
                                               point_value(metric, y_true, preds_b, floor)))
            records.append(dict(dataset=dataset, target=target, kind=metric.kind, metric=metric.name,
                                fit_view="original", test_view="original", control_view=control, probe=probe,
                                quantity=quantity, a=a, b=b, a_layer=sa.layer, b_layer=sb.layer, **result,
                                n_test=len(y_true), test_groups=len(set(groups.tolist()))))
    adjusted = holm([r["p"] for r in records])
    return [Comparison(**r, p_adjusted=p, call=call(r["diff"], p)) for r, p in zip(records, adjusted, strict=True)]


FAMILY_TEXT = ("Holm over every comparison in this file: each pair of encoders × dataset × target × probe × "
               "quantity (original, static_margin, order_margin); calls at adjusted p < 0.05")


CERTIFICATION = {"temporal": "certified", "static": "static", "not identified": "not identified"}


def verdict(comparisons: list[Comparison], identifiability: list[Any], roles: dict[str, str],
            one_frame: dict[tuple[str, str], bool | None] | None = None) -> list[VerdictRow]:
    """The answer of the run: each tubelet encoder against each contender of another kind (the album, pixels,
    3-D kernels...), per dataset, target and probe: the difference in score and in static margin, with
    whether the task is certified as one that needs time: the run's oracles say so, and the family does not
    declare that one frame may give the target (``one_frame``: its ``in_one_frame`` promise, which
    ``simgen audit`` checks at scale)."""
    status = {(i.dataset, i.target, i.probe): CERTIFICATION.get(i.verdict, "no controls") for i in identifiability}
    for key in status:
        if (one_frame or {}).get(key[:2]):
            status[key] = "static"
    margins = {(c.dataset, c.target, c.probe, c.a, c.b): c for c in comparisons if c.quantity == "static_margin"}
    rows = []
    for c in comparisons:
        if c.quantity != "original" or roles.get(c.a) != "tubelet" or roles.get(c.b) in ("tubelet", "control"):
            continue
        rows.append(VerdictRow(dataset=c.dataset, target=c.target, probe=c.probe, tubelet=c.a, opponent=c.b,
                               opponent_role=roles.get(c.b, "pixels"),
                               certified=status.get((c.dataset, c.target, c.probe), "no controls"), original=c,
                               static_margin=margins.get((c.dataset, c.target, c.probe, c.a, c.b))))
    return rows


def compare_predictions(predictions: Iterable[Predictions], targets: dict[tuple[str, str], Metric], encoders: list[str],
                        pairs: list[tuple[str, str]] | None, layer_choices: list[dict[str, Any]],
                        identifiability: list[Any], n_bootstrap: int,
                        one_frame: dict[tuple[str, str], bool | None] | None = None
                        ) -> tuple[list[Comparison], list[VerdictRow]]:
    """The comparisons and the verdict of predictions (e.g. :func:`read_predictions` of a file, lines kept
    by :func:`keep_line`); ``pairs`` None: every pair of contenders."""
    roles = {e: encoder_role(e) for e in encoders}
    pairs = default_pairs(encoders, roles) if pairs is None else [ordered_pair(a, b, roles, encoders)
                                                                   for a, b in pairs]
    standing = standing_predictions(predictions, layer_choices)
    comparisons = compare(standing, targets, pairs, n_bootstrap)
    return comparisons, verdict(comparisons, identifiability, roles, one_frame)
