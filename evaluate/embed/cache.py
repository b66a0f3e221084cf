"""On-disk embedding cache: one .npy per (encoder identity, view, dataset, clip).

The key is a sha256 over the encoder's identity (checkpoint hash, preprocessing, pooling,
layer, frame count), the view, the dataset fingerprint and the clip's identity (id, split,
file size). Any change to these misses. Files are written to a temporary name and renamed,
so a killed run leaves only complete embeddings, and a re-run computes only what is missing.

Layout: ``CACHE/<encoder kind>/<group key>/<clip_id>-<clip key>.npy``, with ``key.json`` in
each group folder saying in words what the group holds.

The cache is also where a run keeps its embeddings: ``evaluate run`` checks that a clip is
cached (:meth:`EmbeddingCache.has`, which reads only the .npy header), and its probes read one
(encoder, dataset, view) matrix a block of rows at a time (:func:`stack_files`, through
evaluate.probes.rows.CachedRows), so its memory does not grow with the number of encoders, views or clips.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from simgen.dataset.io import atomic_write, atomic_write_json

CACHE_VERSION = 1


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def group_dir(self, encoder_kind: str, encoder_identity: dict[str, Any], view: str,
                  dataset_fingerprint: str) -> Path:
        group = {"cache_version": CACHE_VERSION, "encoder": encoder_identity, "view": view,
                 "dataset": dataset_fingerprint}
        directory = self.root / encoder_kind.replace("/", "_") / _digest(group)[:20]
        if not (directory / "key.json").is_file():
            directory.mkdir(parents=True, exist_ok=True)
            atomic_write_json(directory / "key.json", group, default=str)
        return directory

    @staticmethod
    def path(group_dir: Path, clip: dict[str, Any]) -> Path:
        return group_dir / f"{clip['clip_id']}-{_digest(clip)[:12]}.npy"

    def get(self, group_dir: Path, clip: dict[str, Any]) -> np.ndarray | None:
        """The cached embedding, or None; counts a hit or a miss."""
        return self._load(self.path(group_dir, clip), mmap_mode=None)

    def has(self, group_dir: Path, clip: dict[str, Any]) -> bool:
        """Whether a readable embedding is cached (only its header is read); counts a hit or a miss."""
        return self._load(self.path(group_dir, clip), mmap_mode="r") is not None

    def _load(self, path: Path, mmap_mode: str | None) -> np.ndarray | None:
        if path.is_file():
            try:
                value = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
            except (ValueError, OSError, EOFError):
                path.unlink(missing_ok=True)  # unreadable (should not happen with atomic writes): recompute
            else:
                self.hits += 1
                return value
        self.misses += 1
        return None

    def put(self, group_dir: Path, clip: dict[str, Any], embedding: np.ndarray) -> None:
        import io

        buf = io.BytesIO()
        dtype = np.float16 if np.asarray(embedding).dtype == np.float16 else np.float32  # tokens stay half
        np.save(buf, np.asarray(embedding, dtype=dtype), allow_pickle=False)
        atomic_write(self.path(group_dir, clip), buf.getvalue())


def stack_files(paths: list[Path]) -> np.ndarray:
    """The .npy files at ``paths`` (one embedding each, all of one shape and dtype), stacked in order.

    Probes read the same rows several times (evaluate.probes.rows), so this is a hot path: the header
    of the first file is parsed once, and every file whose header bytes match is read straight
    into its row of the output (np.load would parse each header and copy each array again).
    """
    if not paths:
        return np.empty((0, 0), np.float32)
    with open(paths[0], "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        header_length = f.tell()
        f.seek(0)
        header = f.read(header_length)
    if fortran or dtype.hasobject:
        raise ValueError(f"{paths[0]}: not an embedding written by this cache; delete it to recompute")
    out = np.empty((len(paths), *shape), dtype)
    for row, path in zip(out, paths, strict=True):
        with open(path, "rb") as f:
            same_header = f.read(header_length) == header
            if same_header and f.readinto(memoryview(row).cast("B")) == row.nbytes and not f.read(1):
                continue
        value = np.load(path, allow_pickle=False)  # another shape, or damaged: say which
        if value.shape != row.shape or value.dtype != row.dtype:
            raise ValueError(f"{path.parent}: cached embeddings differ in shape or dtype ({value.shape} {value.dtype} vs "
                             f"{row.shape} {row.dtype}); delete the folder to recompute")
        row[...] = value
    return out
