"""Batches of decoded clips put under their views, for the embedding loop: decoding threads (the
default) or torch DataLoader workers, with pinned memory on CUDA."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluate.data.dataset import EvalDataset
from evaluate.data.decode import read_clip
from evaluate.errors import BadClipError
from simgen.dataset.format import ClipRef

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
    from evaluate.data.views import apply_view

    try:
        frames = read_clip(dataset, clip)
    except BadClipError as e:
        return e
    return {v: np.ascontiguousarray(apply_view(v, frames, clip.clip_id)) for v in views}


def stack_frames(arrays: list):
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
    return _group(items, stack_frames)


def _torch_batches(dataset: EvalDataset, work: list, batch_size: int, workers: int, pin_memory: bool):
    from torch.utils.data import DataLoader

    loader = DataLoader(_ClipViewsDataset(dataset, work), batch_size=batch_size, shuffle=False,
                        num_workers=workers, collate_fn=_collate, pin_memory=pin_memory,
                        prefetch_factor=2 if workers else None, persistent_workers=False)
    for bad, views in loader:
        yield bad, {v: (idx, f.numpy() if hasattr(f, "numpy") else [t.numpy() for t in f])
                    for v, (idx, f) in views.items()}


def stack_pinned(arrays: list):
    """As :func:`stack_frames`, into page-locked memory (from torch's caching host allocator, so reused
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

    stack = stack_pinned if pin_memory else stack_frames
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
