"""A run folder is never overwritten by accident, nor left half-written.

:func:`check_out` refuses, before any work, an ``--out`` that holds a finished run made with another
configuration (unless ``--replace``): a rerun with the same configuration may rewrite identical results
(it reuses the embedding cache), and one that adds encoders recomputes every earlier row from that cache,
so nothing is lost; anything else would replace a user's results. :func:`staged` writes a command's
outputs into a temporary folder inside ``--out`` and moves them into place only when the command
succeeds, so a failed or interrupted command leaves every earlier file as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evaluate.errors import EvaluateError

# Config fields that decide how a result is computed or where it goes, not what it is: a rerun may change them.
HOW_FIELDS = frozenset({"out", "cache", "device", "workers", "batch_size", "loader", "executor", "address",
                        "actors", "skip_bad", "verify_hashes", "probe_workers"})
STAGING_PREFIX = ".staging-"


def _flag(field: str) -> str:
    from evaluate.config import FLAGS

    return FLAGS.get(field, "--" + field.replace("_", "-"))


def config_change(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """What a new run's config changes that would lose the old run's results; None when it keeps them
    all (the same config, or more encoders or datasets). ``datasets`` are compared by their content
    (names -> content_sha256), not by the path they were given as."""
    for field in sorted((set(old) | set(new)) - HOW_FIELDS):
        before, after = old.get(field), new.get(field)
        if field in ("encoders", "datasets") and isinstance(before, (list, dict)) and isinstance(after, (list, dict)):
            dropped = [e for e in before if e not in after or (isinstance(before, dict) and before[e] != after[e])]
            if dropped:
                return f"{field[:-1]}(s) {', '.join(map(str, dropped))} that this run leaves out or changes"
        elif before != after:
            return f"another {_flag(field)} ({before!r}; now {after!r})"
    return None


def check_out(out_dir: Path, result_file: str, new_config: dict[str, Any], replace: bool, command: str,
              datasets: dict[str, str] | None = None) -> None:
    """Refuse (EvaluateError, one line) to write over a finished run whose results the new one would lose.
    ``datasets``: the new run's {name: content_sha256}, compared with the datasets the old run records."""
    path = Path(out_dir) / result_file
    if replace or not path.exists():
        return
    advice = "choose another --out, or pass --replace to replace it"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        old = payload["config"]
        if not isinstance(old, dict):
            raise TypeError
        if datasets is not None:
            old = {**old, "datasets": {d["name"]: d.get("content_sha256") for d in payload["datasets"]}}
            new_config = {**new_config, "datasets": datasets}
    except (OSError, ValueError, KeyError, TypeError):
        raise EvaluateError(f"{path} exists but is not a result of `{command}` that can be read; {advice}") from None
    change = config_change(old, new_config)
    if change:
        raise EvaluateError(f"{out_dir} holds a finished `{command}` run with {change}; its results would be "
                            f"replaced: {advice}")


@contextmanager
def staged(out_dir: Path) -> Iterator[Path]:
    """A temporary folder inside ``out_dir`` to write a command's outputs into; on success every file in it
    replaces its namesake in ``out_dir``, on an error (or Ctrl-C) it is removed and ``out_dir`` is as it was
    (a folder this created is removed again if it is left empty)."""
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
    try:
        yield stage
        for item in sorted(stage.iterdir()):
            if item.is_dir() and (out_dir / item.name).is_dir():  # a folder of figures: replaced whole
                shutil.rmtree(out_dir / item.name)
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()
