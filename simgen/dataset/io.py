"""Atomic files: a reader sees the old file or the whole new one, never half of it.

Every file simgen and evaluate write goes through here: it is written under a hidden temporary
name in the same folder (so the rename stays on one filesystem) and renamed over the target.
An interruption leaves the old file intact and at most a ``.NAME.tmp-PID`` file beside it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def temporary_name(path: Path) -> Path:
    """The hidden name a file is written under before it is renamed to ``path``."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def leftover_temporaries(directory: Path) -> Iterator[tuple[Path, str]]:
    """(temporary file, name of the file it was to become) for each one an interrupted write
    left in ``directory`` (a killed process removes nothing)."""
    for tmp in directory.glob(".*.tmp-*"):
        yield tmp, tmp.name[1:].rsplit(".tmp-", 1)[0]


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on an error it is removed."""
    path = Path(path)
    tmp = temporary_name(path)
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def atomic_write_json(path: str | Path, obj: Any, default: Any = None) -> None:
    """``obj`` as indented JSON with a final newline, written atomically."""
    atomic_write(path, json.dumps(obj, indent=1, default=default) + "\n")
