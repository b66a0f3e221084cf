"""Decode a clip's frames: one clip (``read_clip``) or a batch at a time (``iter_frames``), so
memory does not grow with the dataset. Uses PyAV where present, else imageio-ffmpeg, OpenCV or an
ffmpeg binary: a GPU box may have torch but neither of simgen's two."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from evaluate.data.dataset import EvalDataset
from evaluate.errors import BadClipError, EvaluateError
from simgen.dataset.format import ClipRef
from simgen.dataset.video import VideoError


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
    from simgen.dataset.video import read_mp4

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
