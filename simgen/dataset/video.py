"""H.264 mp4 in and out, in-process through PyAV (FFmpeg's libraries).

In-process encoding costs about half of what an ffmpeg subprocess per clip does (see
bench/render.py), and one encoder thread keeps the bytes identical run to run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class VideoError(RuntimeError):
    """A clip that cannot be decoded (missing, truncated or corrupt)."""


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: int, *, codec: str = "libx264rgb",
              pix_fmt: str = "rgb24", crf: int = 0, preset: str = "ultrafast") -> None:
    """Encode (T, H, W, 3) uint8 frames. Not atomic by itself: the dataset writer renames."""
    import av

    _, height, width, _ = frames.shape
    # bitexact: no library version strings in the container, so bytes depend on content only.
    with av.open(str(path), "w", format="mp4", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.thread_count = 1  # x264 output depends on its thread count; pin it
        stream.options = {"crf": str(crf), "preset": preset, "flags": "+bitexact"}
        for frame in frames:
            # Per-frame contiguity is all PyAV needs, so a reversed view (the rising twin) is not copied.
            image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(image):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def read_mp4(path: str | os.PathLike) -> np.ndarray:
    """Decode every frame to (T, H, W, 3) uint8. Uses PyAV, or imageio-ffmpeg where PyAV is absent."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such video file")
    try:
        import av
    except ImportError:
        return _read_with_imageio(path)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            # One thread: clips are decoded many at a time (loader workers, threads), so the
            # decoder's own threads would only compete with them.
            stream.thread_count = 1
            frames = [_rgb(f) for f in container.decode(stream)]
    except (av.FFmpegError, ValueError, IndexError) as e:
        raise VideoError(f"{path}: cannot decode ({e})") from None
    if not frames:
        raise VideoError(f"{path}: no frames could be decoded (truncated or corrupt)")
    return np.stack(frames)


def _rgb(frame) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a decoded frame. libx264rgb's planar G, B, R is interleaved here in
    numpy: exactly what swscale's ``to_ndarray(format="rgb24")`` gives, which cost more than the
    decoding itself (5.5 against 2.6 ms for a 16-frame 256² clip). Other formats go through swscale."""
    if frame.format.name != "gbrp":
        return frame.to_ndarray(format="rgb24")
    height, width = frame.height, frame.width
    g, b, r = (np.frombuffer(plane, np.uint8, count=plane.line_size * height)
               .reshape(height, plane.line_size)[:, :width] for plane in frame.planes)
    return np.stack((r, g, b), axis=-1)


def _read_with_imageio(path: Path) -> np.ndarray:
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
        width, height = meta["size"]
        frames = [np.frombuffer(buf, np.uint8).reshape(height, width, 3) for buf in reader]
    except (RuntimeError, OSError, StopIteration) as e:
        raise VideoError(f"{path}: cannot decode ({e})") from None
    if not frames:
        raise VideoError(f"{path}: no frames could be decoded (truncated or corrupt)")
    return np.stack(frames)
