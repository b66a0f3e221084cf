"""Feature matrices that probes read a block of rows at a time.

A probe's input is an (n clips, ...) matrix. ``ArrayRows`` wraps one already in memory;
``CachedRows`` reads the rows from the embedding cache as they are asked for, so that a linear
probe on wide features (pixels at 1,000 clips are 50 MB a view) never holds the whole matrix:
memory stays a few blocks, whatever the number of clips. Both have a ``key`` that names their
content exactly, which is what a probe may remember prepared features by.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.embed.cache import stack_files

BLOCK_BYTES = 4 << 20  # rows per block: about 4 MiB of float64 features


class Rows:
    shape: tuple[int, ...]
    dtype: np.dtype
    key: bytes

    def __len__(self) -> int:
        return self.shape[0]

    def block(self, start: int, stop: int) -> np.ndarray:
        """Rows start:stop as an array."""
        raise NotImplementedError

    def array(self) -> np.ndarray:
        """Every row, in memory (for probes that need the whole matrix, e.g. the attentive one)."""
        return self.block(0, len(self))

    def blocks(self) -> list[tuple[int, int]]:
        """(start, stop) of consecutive row blocks of about BLOCK_BYTES of float64 each."""
        step = max(1, BLOCK_BYTES // max(8 * int(np.prod(self.shape[1:], dtype=np.int64)), 1))
        return [(lo, min(lo + step, len(self))) for lo in range(0, len(self), step)]


class ArrayRows(Rows):
    def __init__(self, array: np.ndarray):
        self._array = np.asarray(array)
        self.shape, self.dtype = self._array.shape, self._array.dtype
        digest = hashlib.blake2b(np.ascontiguousarray(self._array).view(np.uint8), digest_size=16)
        digest.update(repr((self.shape, self.dtype.str)).encode())
        self.key = digest.digest()

    def block(self, start: int, stop: int) -> np.ndarray:
        return self._array[start:stop]

    def array(self) -> np.ndarray:
        return self._array


class CachedRows(Rows):
    """Rows read from cached embeddings: one .npy file per row (see :meth:`from_cache`)."""

    def __init__(self, paths: list[Path]):
        self.paths = list(paths)
        first = np.load(self.paths[0], mmap_mode="r") if self.paths else np.empty((0,))
        self.shape, self.dtype = (len(self.paths), *first.shape), first.dtype
        # A cache file's name is a digest of everything its content depends on, so the paths are the content.
        digest = hashlib.blake2b(digest_size=16)
        for path in self.paths:
            digest.update(str(path).encode() + b"\0")
        self.key = digest.digest()

    @classmethod
    def from_cache(cls, cache: Any, group_dir: Path, clips: list[dict[str, Any]]) -> CachedRows:
        """The embeddings of ``clips`` in ``cache`` (an EmbeddingCache) under ``group_dir``."""
        return cls([cache.path(Path(group_dir), clip) for clip in clips])

    def block(self, start: int, stop: int) -> np.ndarray:
        return stack_files(self.paths[start:stop])

    def split(self, n: int) -> tuple[CachedRows, CachedRows]:
        """(rows :n, rows n:)."""
        return CachedRows(self.paths[:n]), CachedRows(self.paths[n:])

    def take(self, index: np.ndarray | list[int]) -> CachedRows:
        """These rows, in this order."""
        return CachedRows([self.paths[int(i)] for i in index])

    @classmethod
    def concat(cls, parts: list[CachedRows]) -> CachedRows:
        return cls([path for part in parts for path in part.paths])

    def is_constant(self) -> bool:
        """Every row equal to the first: features that cannot tell any two clips apart (e.g. frame
        differences of a repeated frame), which makes a control view degenerate."""
        if not len(self):
            return True
        first = self.block(0, 1)[0]
        return all(np.array_equal(self.block(lo, hi), np.broadcast_to(first, (hi - lo, *first.shape)))
                   for lo, hi in self.blocks())


def as_rows(x: Rows | np.ndarray) -> Rows:
    return x if isinstance(x, Rows) else ArrayRows(x)


def as_array(x: Rows | np.ndarray) -> np.ndarray:
    return x.array() if isinstance(x, Rows) else np.asarray(x)
