"""On-disk embedding cache: one .npy per (encoder identity, view, dataset, clip).

The key is a sha256 over the encoder's identity (checkpoint hash, preprocessing, pooling,
layer, frame count), the view, the dataset fingerprint and the clip's identity (id, split,
file size). Any change to these misses. Files are written to a temporary name and renamed,
so a killed run leaves only complete embeddings, and a re-run computes only what is missing.

Layout: ``CACHE/<encoder kind>/<group key>/<clip_id>-<clip key>.npy``, with ``key.json`` in
each group folder saying in words what the group holds.

The cache is also where a run keeps its embeddings: ``evaluate run`` checks that a clip is
cached (:meth:`EmbeddingCache.has`, which reads only the .npy header) and loads one (encoder,
dataset, view) matrix at a time when it probes it (:meth:`EmbeddingCache.stack`), so its memory
does not grow with the number of encoders, views or clips.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

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
            _atomic_write(directory / "key.json", (json.dumps(group, indent=1, default=str) + "\n").encode())
        return directory

    @staticmethod
    def path(group_dir: Path, clip: dict[str, Any]) -> Path:
        return group_dir / f"{clip['clip_id']}-{_digest(clip)[:12]}.npy"

    def get(self, group_dir: Path, clip: dict[str, Any]) -> np.ndarray | None:
        path = self.path(group_dir, clip)
        if path.is_file():
            try:
                value = np.load(path, allow_pickle=False)
            except (ValueError, OSError, EOFError):
                path.unlink(missing_ok=True)  # unreadable (should not happen with atomic writes): recompute
            else:
                self.hits += 1
                return value
        self.misses += 1
        return None

    def has(self, group_dir: Path, clip: dict[str, Any]) -> bool:
        """Whether a readable embedding is cached (only its header is read); counts a hit or a miss."""
        path = self.path(group_dir, clip)
        if path.is_file():
            try:
                np.load(path, mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError, EOFError):
                path.unlink(missing_ok=True)  # unreadable (should not happen with atomic writes): recompute
            else:
                self.hits += 1
                return True
        self.misses += 1
        return False

    def stack(self, group_dir: Path, clips: list[dict[str, Any]]) -> np.ndarray:
        """The cached embeddings of ``clips``, stacked in order into one (n, ...) array. Every clip
        must be cached (after embedding, it is); a missing one raises FileNotFoundError."""
        out = None
        for i, clip in enumerate(clips):
            value = np.load(self.path(group_dir, clip), allow_pickle=False)
            if out is None:
                out = np.empty((len(clips), *value.shape), value.dtype)
            elif value.shape != out.shape[1:]:
                raise ValueError(f"{group_dir}: cached embeddings differ in shape ({value.shape} vs {out.shape[1:]}); "
                                 f"delete the folder to recompute")
            out[i] = value
        return out if out is not None else np.empty((0, 0), np.float32)

    def put(self, group_dir: Path, clip: dict[str, Any], embedding: np.ndarray) -> None:
        import io

        buf = io.BytesIO()
        dtype = np.float16 if np.asarray(embedding).dtype == np.float16 else np.float32  # tokens stay half
        np.save(buf, np.asarray(embedding, dtype=dtype), allow_pickle=False)
        _atomic_write(self.path(group_dir, clip), buf.getvalue())


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    tmp.replace(path)
