"""track's whole-clip backdrop search finds, frame by frame, the colours the one-frame definition
(backdrop_colours) finds, so the vectorised foreground is the per-frame one."""

import numpy as np

from evaluate.encoders.track import backdrop_colours, clip_backdrops, foreground


def scene(rng: np.random.Generator, t: int = 6, size: int = 64) -> np.ndarray:
    """A sky over a floor (colours changing frame to frame), a few bodies and some noise."""
    frames = np.empty((t, size, size, 3), np.uint8)
    for f in range(t):
        frames[f, : size // 2] = rng.integers(0, 256, 3)
        frames[f, size // 2:] = rng.integers(0, 256, 3)
        for _ in range(3):
            y, x, r = rng.integers(4, size - 12), rng.integers(4, size - 12), rng.integers(2, 8)
            frames[f, y:y + r, x:x + r] = rng.integers(0, 256, 3)
    noise = rng.random(frames.shape[:3]) < 0.02
    frames[noise] = rng.integers(0, 256, (int(noise.sum()), 3))
    return frames


def per_frame_foreground(frames: np.ndarray, bg_frac: float, tol: int) -> np.ndarray:
    out = np.empty(frames.shape[:3], bool)
    for i, frame in enumerate(frames):
        colours = backdrop_colours(frame, bg_frac)[:8]
        near = np.zeros(frame.shape[:2], bool)
        for colour in colours:
            near |= (np.abs(frame.astype(int) - colour) <= tol).all(axis=-1)
        out[i] = ~near
    return out


def test_clip_backdrops_and_foreground_match_the_one_frame_definition():
    rng = np.random.default_rng(7)
    for bg_frac in (0.02, 0.3):
        frames = scene(rng)
        colours, frame_of = clip_backdrops(frames, bg_frac)
        for f, frame in enumerate(frames):
            assert np.array_equal(colours[frame_of == f], backdrop_colours(frame, bg_frac)[:8])
        assert np.array_equal(foreground(frames, bg_frac, 4), per_frame_foreground(frames, bg_frac, 4))
    assert foreground(frames, 0.02, 4).any() and not foreground(frames, 0.02, 4).all()
