"""The run folder's files: their names, how they are written (atomically) and read back, and the
versions every result file records."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import evaluate
from evaluate.errors import EvaluateError
from simgen.dataset.io import atomic_write, atomic_write_json

RESULTS_FILE = "results.json"  # evaluate run
PREDICTIONS_FILE = "predictions.jsonl"
SURPRISE_FILE = "surprise.json"  # evaluate surprise
CURVES_FILE = "surprise_curves.jsonl"
# The keys a reader of each file needs (the schemas, `evaluate schema`, list the rest).
RUN_KEYS = ("config", "datasets", "encoders", "results")
SURPRISE_KEYS = ("config", "datasets", "encoders", "results")


def plain(value: Any) -> Any:
    """numpy scalars as Python ones, for json."""
    return value.item() if isinstance(value, np.generic) else value


def write_json(path: Path, obj: Any) -> None:
    atomic_write_json(path, obj, default=plain)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, text)


def read_json(path: Path, missing_hint: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A result file: a JSON object holding the keys ``required``; else an EvaluateError (or a
    FileNotFoundError) that names the file and what is wrong with it."""
    if path.parent.is_file():
        raise FileNotFoundError(f"{path.parent} is a file; give the folder that holds {path.name}")
    if not path.is_file():
        raise FileNotFoundError(f"{path.parent}: no {path.name}; {missing_hint}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise EvaluateError(f"{path}: not UTF-8 text; is it a {path.name}?") from None
    except json.JSONDecodeError as e:
        raise EvaluateError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if not isinstance(payload, dict):
        raise EvaluateError(f"{path}: a JSON {type(payload).__name__}, not the object a {path.name} holds")
    missing = [key for key in required if key not in payload]
    if missing:
        raise EvaluateError(f"{path}: no {', '.join(missing)}; not a {path.name} written by evaluate "
                            f"(`evaluate schema {path.name}` describes one)")
    return payload


def read_jsonl(path: Path, keep: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
    """The lines of a .jsonl file (those ``keep`` accepts), read one at a time: a reader that needs a
    few of a large run's lines holds those only. [] when the file is absent; an EvaluateError naming the
    file and line when a line is not a JSON object."""
    if not path.is_file():
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise EvaluateError(f"{path}:{number}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise EvaluateError(f"{path}:{number}: a JSON {type(row).__name__}, not an object")
            if keep is None or keep(row):
                out.append(row)
    return out


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


def load_results(rundir: str | Path) -> dict[str, Any]:
    """An `evaluate run` folder's results.json payload."""
    rundir = Path(rundir)
    return read_json(rundir / RESULTS_FILE, f"run `evaluate run ... --out {rundir}` first", RUN_KEYS)


def load_run(rundir: str | Path, keep: Callable[[dict[str, Any]], bool] | None = None
             ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An `evaluate run` folder's results.json payload and its predictions.jsonl lines (those ``keep``
    accepts: a 2,000-clip run has 27,000 lines a pair of encoders, ~3 KiB each as dicts)."""
    return load_results(rundir), read_jsonl(Path(rundir) / PREDICTIONS_FILE, keep)


def load_surprise(out_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An `evaluate surprise` folder's surprise.json payload and its surprise_curves.jsonl lines."""
    out_dir = Path(out_dir)
    payload = read_json(out_dir / SURPRISE_FILE, f"run `evaluate surprise ... --out {out_dir}` first", SURPRISE_KEYS)
    return payload, read_jsonl(out_dir / CURVES_FILE)
