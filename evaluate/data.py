"""Read simgen datasets for evaluation: targets, splits, groups, and frames decoded lazily.

Frames are decoded a batch at a time (``iter_frames``), so memory does not grow with the
dataset. Only ``simgen.dataset`` and ``simgen.video`` are imported: never pybullet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.errors import BadClipError, EvaluateError
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
    skipped: list[str] = field(default_factory=list, repr=False)  # problems --skip-bad went past, one line each

    def split(self, *splits: str) -> list[ClipRef]:
        return [c for c in self.clips if c.split in splits]


def dataset_name(root: Path) -> str:
    return Path(root).resolve().name


def open_dataset(root: str | Path, *, skip_bad: bool = False) -> EvalDataset:
    """Open a dataset directory and verify it (``simgen.dataset.Dataset.checked_clips``): damaged
    metadata lines, counts against dataset.json, each clip's files. Raises simgen's DatasetError on
    the first problem; with ``skip_bad`` the intact clips are kept and the problems listed in
    ``skipped``."""
    ds = Dataset(root)
    info = ds.info
    targets = [Target(name, t["kind"], tuple(t.get("classes") or ()), t.get("unit"), t.get("description", ""))
               for name, t in info.targets.items()]
    h = hashlib.sha256((ds.root / DATASET_FILE).read_bytes())
    for split in SPLITS:
        meta = ds.root / split / METADATA_FILE
        h.update(meta.read_bytes() if meta.is_file() else b"")
    clips, skipped = ds.checked_clips(skip_bad=skip_bad)
    if not clips:
        raise ValueError(f"{root}: dataset has no clips yet (render it with `simgen render`)")
    return EvalDataset(ds.root, dataset_name(ds.root), info.fingerprint, h.hexdigest()[:16], targets,
                       info.frames, info.width, info.height, clips, skipped)


def clip_identity(clip: ClipRef) -> dict[str, Any]:
    """What names one clip's bytes in a cache key: its id, split and file size (a re-render or
    truncation changes the size)."""
    path = clip.video_path
    return {"split": clip.split, "clip_id": clip.clip_id, "bytes": path.stat().st_size if path.is_file() else -1}


def video_decoder() -> str:
    """Which decoder reads clips here: ``av`` (PyAV), ``imageio-ffmpeg``, ``opencv``, or ``ffmpeg`` (a
    binary on PATH, or $SIMGEN_FFMPEG). A GPU box may have torch but neither of simgen's two; raises
    EvaluateError saying what to install when there is none at all."""
    import importlib.util
    import os
    import shutil

    for module, name in (("av", "av"), ("imageio_ffmpeg", "imageio-ffmpeg"), ("cv2", "opencv")):
        if importlib.util.find_spec(module) is not None:
            return name
    if os.environ.get("SIMGEN_FFMPEG") or shutil.which("ffmpeg"):
        return "ffmpeg"
    raise EvaluateError("no video decoder on this machine: pip install av (or imageio-ffmpeg, or opencv-python), "
                        "or put an ffmpeg binary on PATH (or in $SIMGEN_FFMPEG)")


def _read_fallback(path: Path, decoder: str, width: int, height: int) -> np.ndarray:
    """Decode with OpenCV or an ffmpeg binary, for machines without PyAV and imageio-ffmpeg."""
    import os
    import shutil
    import subprocess

    if decoder == "opencv":
        import cv2

        # One decoding thread per clip: OpenCV's default (a thread per core, frame threading) runs
        # ~1.7x slower per clip beside other decoders, and loader workers decode many at a time.
        one_thread = [cv2.CAP_PROP_N_THREADS, 1] if hasattr(cv2, "CAP_PROP_N_THREADS") else None
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, one_thread) if one_thread else None
        if capture is None or not capture.isOpened():
            capture = cv2.VideoCapture(str(path))
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            # BGR -> RGB in OpenCV (2.3 against 4.8 ms a 16-frame 256² clip for a reversed view, which
            # np.stack then copied element by element).
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        capture.release()
    else:
        exe = os.environ.get("SIMGEN_FFMPEG") or shutil.which("ffmpeg")
        proc = subprocess.run([exe, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                              capture_output=True)
        if proc.returncode:
            raise VideoError(f"{path}: cannot decode ({proc.stderr.decode(errors='replace').strip()[:200]})")
        frames = list(np.frombuffer(proc.stdout, np.uint8).reshape(-1, height, width, 3))
    if not frames:
        raise VideoError(f"{path}: no frames could be decoded (truncated or corrupt)")
    return np.ascontiguousarray(np.stack(frames))


def read_clip(dataset: EvalDataset, clip: ClipRef) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of one clip; BadClipError names the clip when it cannot be decoded."""
    from simgen.video import read_mp4

    try:
        decoder = video_decoder()
        if decoder in ("av", "imageio-ffmpeg"):
            frames = read_mp4(clip.video_path)
        else:
            frames = _read_fallback(clip.video_path, decoder, dataset.width, dataset.height)
    except (VideoError, ValueError) as e:
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


# --------------------------------------------------------------------------- view batches for embedding

LOADERS = ("auto", "threads", "torch")


@dataclass
class ViewBatch:
    """One batch of clips, decoded and put under the views each clip still needs.

    ``views[view]`` is (clips, frames): frames is one (B, T, H, W, 3) uint8 array when the clips
    share a shape (pinned memory on CUDA), else a list of (T, H, W, 3) arrays.
    ``bad`` holds the clips that could not be decoded, with their error, in clip order.
    """

    bad: list[tuple[ClipRef, BadClipError]]
    views: dict[str, tuple[list[ClipRef], np.ndarray | list[np.ndarray]]]

    @property
    def clips(self) -> int:
        return sum(len(c) for c, _ in self.views.values())


def _decode_views(dataset: EvalDataset, clip: ClipRef, views: Sequence[str]) -> dict[str, np.ndarray] | BadClipError:
    from evaluate.views import apply_view

    try:
        frames = read_clip(dataset, clip)
    except BadClipError as e:
        return e
    return {v: np.ascontiguousarray(apply_view(v, frames, clip.clip_id)) for v in views}


def _stack(arrays: list):
    """One array (or tensor) of the list when shapes agree, else the list as it is."""
    if len({tuple(a.shape) for a in arrays}) != 1:
        return list(arrays)
    if isinstance(arrays[0], np.ndarray):
        return np.stack(arrays)
    from torch.utils.data import default_collate

    # In a loader worker, default_collate stacks straight into shared memory, which is how the batch
    # reaches the main process; torch.stack would leave pickling a second copy to make (~1.4 ms a clip).
    return default_collate(arrays)


def _group(items: list[tuple[int, Any]], stack: Callable[[list], Any]) -> tuple[list, dict[str, tuple[list, Any]]]:
    """[(index, views dict | error)] -> (bad [(index, message)], {view: (indices, stacked frames)})."""
    bad, per_view = [], {}
    for index, result in items:
        if isinstance(result, BadClipError):
            bad.append((index, str(result)))
            continue
        for v, frames in result.items():
            per_view.setdefault(v, ([], []))
            per_view[v][0].append(index)
            per_view[v][1].append(frames)
    return bad, {v: (idx, stack(frames)) for v, (idx, frames) in per_view.items()}


class _ClipViewsDataset:
    """torch map-style dataset: item i = (i, {view: uint8 tensor}) or (i, BadClipError).

    Frames go back to the main process as tensors, which the DataLoader moves through shared
    memory (numpy arrays would be pickled through a pipe)."""

    def __init__(self, dataset: EvalDataset, work: Sequence[tuple[ClipRef, Sequence[str]]]):
        self.dataset, self.work = dataset, list(work)

    def __len__(self) -> int:
        return len(self.work)

    def __getitem__(self, index: int):
        import torch

        clip, views = self.work[index]
        result = _decode_views(self.dataset, clip, views)
        if isinstance(result, BadClipError):
            return index, result
        return index, {v: torch.from_numpy(f) for v, f in result.items()}


def _collate(items):
    return _group(items, _stack)


def _torch_batches(dataset: EvalDataset, work: list, batch_size: int, workers: int, pin_memory: bool):
    from torch.utils.data import DataLoader

    loader = DataLoader(_ClipViewsDataset(dataset, work), batch_size=batch_size, shuffle=False,
                        num_workers=workers, collate_fn=_collate, pin_memory=pin_memory,
                        prefetch_factor=2 if workers else None, persistent_workers=False)
    for bad, views in loader:
        yield bad, {v: (idx, f.numpy() if hasattr(f, "numpy") else [t.numpy() for t in f])
                    for v, (idx, f) in views.items()}


def _stack_pinned(arrays: list):
    """As :func:`_stack`, into page-locked memory (from torch's caching host allocator, so reused
    from batch to batch): the host→device copy then starts from it as it is."""
    if len({tuple(a.shape) for a in arrays}) != 1:
        return list(arrays)
    import torch

    out = torch.empty((len(arrays), *arrays[0].shape), dtype=torch.uint8, pin_memory=True).numpy()
    return np.stack(arrays, out=out)


def _thread_batches(dataset: EvalDataset, work: list, batch_size: int, workers: int, pin_memory: bool = False):
    def load(item: tuple[int, tuple[ClipRef, Sequence[str]]]):
        index, (clip, views) = item
        return index, _decode_views(dataset, clip, views)

    stack = _stack_pinned if pin_memory else _stack
    indexed = list(enumerate(work))
    batches = [indexed[i:i + batch_size] for i in range(0, len(indexed), batch_size)]
    if workers <= 1:
        for batch in batches:
            yield _group([load(item) for item in batch], stack)
        return
    # Nothing to start: the first clips are being decoded as soon as this is called (the torch loader
    # forks its workers first). Decoders release the GIL; views built on the device leave the main
    # thread only the stacking.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = None
        for batch in batches:  # one batch of lookahead: memory stays bounded
            future = [pool.submit(load, item) for item in batch]
            if pending is not None:
                yield _group([f.result() for f in pending], stack)
            pending = future
        if pending is not None:
            yield _group([f.result() for f in pending], stack)


def iter_view_batches(dataset: EvalDataset, work: Sequence[tuple[ClipRef, Sequence[str]]], *, batch_size: int = 8,
                      workers: int = 2, loader: str = "threads", pin_memory: bool = False) -> Iterator[ViewBatch]:
    """Decode ``work`` = [(clip, views it needs)] in order, ``batch_size`` clips at a time, and yield
    each batch's frames under its views, stacked per view.

    ``loader="threads"``: ``workers`` decoding threads in this process, one batch of lookahead.
    ``loader="torch"``: a torch DataLoader with ``workers`` processes (decoding, views and stacking
    leave the main process, so they overlap with the encoder's forward instead of contending for
    the GIL), ``prefetch_factor`` 2 per worker. Either stacks batches in pinned memory when ``pin_memory``
    (CUDA).
    Either way memory is bounded by a few batches, whatever the dataset size, and a clip that
    cannot be decoded comes back in ``bad`` instead of stopping the others.
    """
    if loader not in LOADERS:
        raise ValueError(f"loader {loader!r}: allowed: {', '.join(LOADERS)}")
    work = [(clip, tuple(views)) for clip, views in work]
    if loader == "auto":
        loader = "threads"
    if loader == "torch":
        batches = _torch_batches(dataset, work, batch_size, workers, pin_memory)
    else:
        batches = _thread_batches(dataset, work, batch_size, workers, pin_memory)
    for bad, views in batches:
        bad_clips = []
        for index, message in bad:
            clip = work[index][0]
            bad_clips.append((clip, BadClipError(message, dataset.name, clip.split, clip.clip_id)))
        yield ViewBatch(bad_clips, {v: ([work[i][0] for i in idx], frames) for v, (idx, frames) in views.items()})
