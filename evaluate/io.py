"""The run folder's files: their names, how they are written (atomically) and read back, and the
versions every result file records."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

import evaluate
from simgen.io import atomic_write, atomic_write_json

RESULTS_FILE = "results.json"  # evaluate run
PREDICTIONS_FILE = "predictions.jsonl"
SURPRISE_FILE = "surprise.json"  # evaluate surprise
CURVES_FILE = "surprise_curves.jsonl"


def plain(value: Any) -> Any:
    """numpy scalars as Python ones, for json."""
    return value.item() if isinstance(value, np.generic) else value


def write_json(path: Path, obj: Any) -> None:
    atomic_write_json(path, obj, default=plain)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, text)


def read_json(path: Path, missing_hint: str) -> dict[str, Any]:
    """A result file, or FileNotFoundError naming it and how to make it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path.parent}: no {path.name}; {missing_hint}")
    return json.loads(path.read_text())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a .jsonl file; [] when it is absent."""
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.is_file() else []


def versions() -> dict[str, str]:
    """The versions a result depends on, for results.json and surprise.json."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"evaluate": evaluate.__version__, "python": platform.python_version()}
    for pkg in ("simgen", "numpy", "torch", "transformers", "scikit-learn", "av"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def load_run(rundir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An `evaluate run` folder's results.json payload and its predictions.jsonl lines."""
    rundir = Path(rundir)
    payload = read_json(rundir / RESULTS_FILE, f"run `evaluate run ... --out {rundir}` first")
    return payload, read_jsonl(rundir / PREDICTIONS_FILE)


def load_surprise(out_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An `evaluate surprise` folder's surprise.json payload and its surprise_curves.jsonl lines."""
    out_dir = Path(out_dir)
    payload = read_json(out_dir / SURPRISE_FILE, f"run `evaluate surprise ... --out {out_dir}` first")
    return payload, read_jsonl(out_dir / CURVES_FILE)
