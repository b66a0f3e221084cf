"""Read simgen datasets for evaluation: targets, splits, groups, and frames decoded lazily.

Frames are decoded a batch at a time (``iter_frames``), so memory does not grow with the
dataset. Only ``simgen.dataset`` and ``simgen.video`` are imported: never pybullet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.errors import BadClipError
from simgen.dataset import DATASET_FILE, METADATA_FILE, SPLITS, ClipRef, Dataset
from simgen.video import VideoError

TRAIN_SPLITS = ("train", "val")  # the probe is fitted on both; C/alpha are tuned by grouped CV inside them
TEST_SPLIT = "test"


@dataclass(frozen=True)
class Target:
    """One label a dataset offers, as declared in its dataset.json."""

    name: str
    kind: str  # "class" or "regression"
    classes: tuple[str, ...] = ()
    unit: str | None = None
    description: str = ""


@dataclass
class EvalDataset:
    """A simgen dataset as the evaluator sees it."""

    root: Path
    name: str
    fingerprint: str  # simgen's spec+seed fingerprint: the clip bytes are a function of it
    content_hash: str  # sha256 of dataset.json and the metadata files, for results.json
    targets: list[Target]
    frames: int
    width: int
    height: int
    clips: list[ClipRef] = field(repr=False)

    def split(self, *splits: str) -> list[ClipRef]:
        return [c for c in self.clips if c.split in splits]


def dataset_name(root: Path) -> str:
    return Path(root).resolve().name


def open_dataset(root: str | Path) -> EvalDataset:
    """Open a dataset directory; raises simgen's DatasetError when it is not one."""
    ds = Dataset(root)
    info = ds.info
    targets = [Target(name, t["kind"], tuple(t.get("classes") or ()), t.get("unit"), t.get("description", ""))
               for name, t in info.targets.items()]
    h = hashlib.sha256((ds.root / DATASET_FILE).read_bytes())
    for split in SPLITS:
        meta = ds.root / split / METADATA_FILE
        h.update(meta.read_bytes() if meta.is_file() else b"")
    clips = ds.clips()
    if not clips:
        raise ValueError(f"{root}: dataset has no clips yet (render it with `simgen render`)")
    return EvalDataset(ds.root, dataset_name(ds.root), info.fingerprint, h.hexdigest()[:16], targets,
                       info.frames, info.width, info.height, clips)


def clip_identity(clip: ClipRef) -> dict[str, Any]:
    """What names one clip's bytes in a cache key: its id, split and file size (a re-render or
    truncation changes the size)."""
    path = clip.video_path
    return {"split": clip.split, "clip_id": clip.clip_id, "bytes": path.stat().st_size if path.is_file() else -1}


def read_clip(dataset: EvalDataset, clip: ClipRef) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of one clip; BadClipError names the clip when it cannot be decoded."""
    from simgen.video import read_mp4

    try:
        frames = read_mp4(clip.video_path)
    except VideoError as e:
        raise BadClipError(f"dataset {dataset.name}: clip {clip.split}/{clip.clip_id} cannot be decoded ({e}); "
                           f"re-render it with `simgen render`, or pass --skip-bad", dataset.name, clip.split,
                           clip.clip_id) from None
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise BadClipError(f"dataset {dataset.name}: clip {clip.split}/{clip.clip_id} has frames of shape "
                           f"{frames.shape}, expected (T, H, W, 3)", dataset.name, clip.split, clip.clip_id)
    return frames


def iter_frames(dataset: EvalDataset, clips: Sequence[ClipRef], *, batch_size: int = 8,
                workers: int = 2) -> Iterator[list[tuple[ClipRef, np.ndarray | BadClipError]]]:
    """Batches of (clip, frames or the decode error), in order. Decoding runs in ``workers``
    threads (PyAV releases the GIL) with one batch of lookahead, so memory stays bounded."""

    def load(clip: ClipRef) -> tuple[ClipRef, np.ndarray | BadClipError]:
        try:
            return clip, read_clip(dataset, clip)
        except BadClipError as e:
            return clip, e

    batches = [list(clips[i:i + batch_size]) for i in range(0, len(clips), batch_size)]
    if workers <= 1:
        for batch in batches:
            yield [load(c) for c in batch]
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = None
        for batch in batches:
            future = [pool.submit(load, c) for c in batch]
            if pending is not None:
                yield [f.result() for f in pending]
            pending = future
        if pending is not None:
            yield [f.result() for f in pending]
