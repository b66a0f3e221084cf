"""Timing a method from outside, for the benchmarks: the code measured stays as it ships."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def calls_timed(owner: Any, name: str, record: Callable[[float, float], None]) -> Iterator[None]:
    """While inside, each call of ``owner.name`` (a class's method, or one instance's) is followed by
    ``record(start, seconds)``; ``start`` is when the call began. Restored on the way out."""
    original = getattr(owner, name)
    own = name in vars(owner)  # an instance usually has none: it reads its class's

    def call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            record(start, time.perf_counter() - start)

    setattr(owner, name, call)
    try:
        yield
    finally:
        if own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)
