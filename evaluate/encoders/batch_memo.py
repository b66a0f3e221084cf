"""What the encoders of a run share of one decoded batch: the same resize of its frames (V-JEPA 2 and an
album of the same preprocessing), the same forward (an album's readouts). The embedding loop makes one
:class:`BatchMemo` per batch and hands it to every encoder; an encoder asks :func:`remembered` for a
value under a key that names everything the value depends on, and makes it only when no encoder before
it did. Two lanes share the memo (evaluate.embed.shared): a value one lane is making, the other waits
for rather than making it twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any


class BatchMemo(dict):
    """A dict whose :meth:`once` makes each value once, whichever thread asks first."""

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Event] = {}

    def once(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self:
                return self[key]
            busy = self._making.get(key)
            if busy is None:
                busy = self._making[key] = threading.Event()
                mine = True
            else:
                mine = False
        if not mine:
            busy.wait()
            if key in self:
                return self[key]
            return make()  # the lane making it failed (its error goes up there): make it here
        try:
            value = self[key] = make()
            return value
        finally:
            with self._lock:
                del self._making[key]
            busy.set()


def remembered(memo: dict | None, key: Hashable, make: Callable[[], Any]) -> Any:
    """``memo[key]``, made by ``make()`` when absent; without a memo (or a key), ``make()``. A plain dict
    works too, for one thread."""
    if memo is None or key is None:
        return make()
    if isinstance(memo, BatchMemo):
        return memo.once(key, make)
    if key not in memo:
        memo[key] = make()
    return memo[key]
