"""``evaluate compare RUN [RUN ...] --out DIR``: the paired comparisons of runs made apart (V-JEPA 2 on
a GPU box, the baselines on a laptop) from their predictions, as ``evaluate run`` makes them within
one run (evaluate.comparisons).

Runs are compared only on the same data: every run must hold the same datasets (by name, with the
same fingerprint, which covers the spec and seed, and the same content hash, which covers the split
lists), and each (dataset, target) must have been tested on the same clips in every run. Anything
else is refused in one line, before anything is written.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evaluate.comparisons import FAMILY_TEXT, compare_predictions, keep_line
from evaluate.errors import EvaluateError
from evaluate.io import PREDICTIONS_FILE, RESULTS_FILE, read_json, versions, write_json
from evaluate.metrics import N_BOOTSTRAP, Metric
from evaluate.predictions import Predictions, read_predictions
from evaluate.progress import Log
from evaluate.results import ComparedRun, CompareResults, EncoderRecord, Identifiability, LayerChoice

COMPARISONS_FILE = "comparisons.json"
FORMAT_VERSION = 1


def _load(rundir: Path) -> dict[str, Any]:
    payload = read_json(rundir / RESULTS_FILE, "make it with `evaluate run`")
    if not isinstance(payload, dict) or not isinstance(payload.get("datasets"), list):
        raise EvaluateError(f"{rundir / RESULTS_FILE}: not an `evaluate run` results file (no datasets list)")
    if not (rundir / PREDICTIONS_FILE).is_file():
        raise EvaluateError(f"{rundir}: no {PREDICTIONS_FILE}; comparisons are computed from the per-clip predictions")
    return payload


def check_same_data(runs: dict[Path, dict[str, Any]]) -> None:
    """Refuses runs whose datasets differ (name, fingerprint, content hash)."""
    (first, reference), *rest = runs.items()
    want = {d["name"]: (d["fingerprint"], d["content_sha256"]) for d in reference["datasets"]}
    for path, payload in rest:
        have = {d["name"]: (d["fingerprint"], d["content_sha256"]) for d in payload["datasets"]}
        if set(have) != set(want):
            raise EvaluateError(f"{path} evaluated datasets {sorted(have)}, {first} evaluated {sorted(want)}: runs are "
                                "compared on the same datasets only")
        for name, (fingerprint, content) in have.items():
            if fingerprint != want[name][0]:
                raise EvaluateError(f"{path}: dataset {name} has fingerprint {fingerprint}, {first} has "
                                    f"{want[name][0]} (another spec or seed): not the same data")
            if content != want[name][1]:
                raise EvaluateError(f"{path}: dataset {name} has content sha256 {content}, {first} has "
                                    f"{want[name][1]} (other clips or splits): not the same data")


def _merged_predictions(runs: dict[Path, dict[str, Any]], owner: dict[str, Path]) -> Iterator[Predictions]:
    """Each encoder's predictions from the run that owns it; refuses test clips that differ between runs."""
    clips: dict[tuple[str, str, str], tuple[Path, list[str]]] = {}
    for path in runs:
        for p in read_predictions(path / PREDICTIONS_FILE, keep_line):
            if owner.get(p.key.encoder) != path:
                continue
            key = (p.key.dataset, p.key.target, p.key.test_view)
            seen = clips.setdefault(key, (path, sorted(p.clip_ids)))
            if seen[1] != sorted(p.clip_ids):
                raise EvaluateError(f"{path}: {p.key.dataset}/{p.key.target} was tested on other clips than in "
                                    f"{seen[0]} ({len(set(seen[1]) ^ set(p.clip_ids))} differ: clips skipped in one "
                                    "run?); comparisons need the same test clips")
            yield p


def compare_runs(rundirs: list[Path], out: Path, pairs: list[tuple[str, str]] | None = None,
                 n_bootstrap: int | None = None, log: Log = lambda _: None) -> CompareResults:
    """Compare the encoders of ``rundirs`` pairwise; writes OUT/comparisons.json and returns it.
    ``n_bootstrap`` None: the runs' own (so one run compared alone repeats its comparisons), else 1000."""
    if len(rundirs) < 1:
        raise EvaluateError("give at least one run folder")
    if len(set(map(Path.resolve, rundirs))) != len(rundirs):
        raise EvaluateError("a run folder is given twice")
    started = time.perf_counter()
    runs = {Path(r): _load(Path(r)) for r in rundirs}
    check_same_data(runs)
    if n_bootstrap is None:
        own = {payload.get("config", {}).get("n_bootstrap") for payload in runs.values()}
        n_bootstrap = own.pop() if len(own) == 1 and None not in own else N_BOOTSTRAP
    owner: dict[str, Path] = {}
    encoders: list[EncoderRecord] = []
    notes = []
    for path, payload in runs.items():
        for e in payload.get("encoders", []):
            if e["encoder"] in owner:
                notes.append(f"{e['encoder']} is in {owner[e['encoder']]} and {path}: compared once, from "
                             f"{owner[e['encoder']]}")
                continue
            owner[e["encoder"]] = path
            encoders.append(EncoderRecord(**e))
    for note in notes:
        log(f"[yellow]note[/yellow] {note}")
    names = [e.encoder for e in encoders]
    for a, b in pairs or []:
        for name in (a, b):
            if name not in owner:
                raise EvaluateError(f"--compare '{a} vs {b}': {name!r} is in none of the runs ({', '.join(names)})")
    first = next(iter(runs.values()))
    targets = {(d["name"], t): Metric(info["kind"], info.get("period"))
               for d in first["datasets"] for t, info in (d.get("targets") or {}).items()}
    identified = {(i["dataset"], i["target"], i["probe"]): Identifiability(**i)
                  for payload in runs.values() for i in payload.get("identifiability", [])}  # oracles in any run
    choices = [LayerChoice(**c) for path, payload in runs.items() for c in payload.get("layer_choices", [])
               if owner.get(c["encoder"]) == path]
    comparisons, verdict = compare_predictions(_merged_predictions(runs, owner), targets, names, pairs,
                                               [c.row() for c in choices], list(identified.values()), n_bootstrap,
                                               {(d["name"], t): info.get("in_one_frame") for d in first["datasets"]
                                                for t, info in (d.get("targets") or {}).items()})
    if not comparisons:
        raise EvaluateError("nothing to compare: the runs share no (dataset, target, probe) scored by two contenders "
                            "(controls are compared only when named with --compare)")
    result = CompareResults(
        format_version=FORMAT_VERSION, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        runs=[ComparedRun(path=str(p), created=payload.get("created", ""),
                          encoders=[e["encoder"] for e in payload.get("encoders", [])]) for p, payload in runs.items()],
        versions=versions(), datasets=first["datasets"], encoders=encoders,
        identifiability=list(identified.values()), layer_choices=choices, comparison_family=FAMILY_TEXT,
        comparisons=comparisons, verdict=verdict, notes=notes)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / COMPARISONS_FILE, result.row())
    log(f"compared {len(names)} encoders of {len(runs)} runs: {len(comparisons)} comparisons in "
        f"{time.perf_counter() - started:.1f} s")
    return result
