"""The run's per-clip test predictions (``predictions.jsonl``): one line per (result row, test clip),
so that every score, margin and comparison of ``results.json`` can be recomputed from them.

Columns: ``dataset``, ``target``, ``kind``, ``encoder``, ``fit_view`` (the view the probe was fitted
on), ``test_view`` (the view of the test clips), ``probe``, ``layer`` (null unless the encoder
sweeps layers), ``clip_id``, ``group_id``, ``y_true`` and ``y_pred``. ``y_true`` is the test clip's
label; cross-view rows (fitted on ``original``, tested on another view) hold the same label as the
original row, as their results rows are scored against it. Class labels are strings, regression
values numbers, so the file is json lines (one table reads it: ``pandas.read_json(path, lines=True)``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from evaluate.io import plain

COLUMNS = ("dataset", "target", "kind", "encoder", "fit_view", "test_view", "probe", "layer", "clip_id", "group_id",
           "y_true", "y_pred")


@dataclass(frozen=True)
class RowKey:
    """What identifies a results row's predictions."""

    dataset: str
    target: str
    encoder: str
    fit_view: str
    test_view: str
    probe: str
    layer: int | None = None


def write_predictions(out: IO[str], key: RowKey, kind: str, clips: list, y_true: np.ndarray,
                      y_pred: np.ndarray) -> None:
    """One line per test clip of one results row."""
    head = {"dataset": key.dataset, "target": key.target, "kind": kind, "encoder": key.encoder,
            "fit_view": key.fit_view, "test_view": key.test_view, "probe": key.probe, "layer": key.layer}
    out.writelines(json.dumps({**head, "clip_id": c.clip_id, "group_id": c.group_id, "y_true": plain(yt),
                               "y_pred": plain(yp)}) + "\n"
                   for c, yt, yp in zip(clips, y_true, y_pred, strict=True))


@dataclass
class Predictions:
    """One results row's test predictions, in the file's clip order."""

    key: RowKey
    kind: str
    clip_ids: list[str]
    group_ids: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray


def read_predictions(path: Path, keep: Any = None) -> Iterator[Predictions]:
    """The file's rows, grouped by results row. ``keep(line) -> bool`` filters lines before they are
    grouped (a run's comparisons need a few views of each target, not every line)."""
    groups: dict[RowKey, dict[str, list]] = {}
    kinds: dict[RowKey, str] = {}
    with open(path) as fh:
        for text in fh:
            line = json.loads(text)
            if keep is not None and not keep(line):
                continue
            key = RowKey(line["dataset"], line["target"], line["encoder"], line["fit_view"], line["test_view"],
                         line["probe"], line.get("layer"))
            cols = groups.setdefault(key, {"clip_id": [], "group_id": [], "y_true": [], "y_pred": []})
            kinds[key] = line["kind"]
            for name, column in cols.items():
                column.append(line[name])
    for key, cols in groups.items():
        cast = float if kinds[key] == "regression" else str
        yield Predictions(key, kinds[key], cols["clip_id"], np.array(cols["group_id"]),
                          np.array([cast(v) for v in cols["y_true"]]), np.array([cast(v) for v in cols["y_pred"]]))


def by_key(rows: Iterable[Predictions]) -> dict[RowKey, Predictions]:
    return {p.key: p for p in rows}
