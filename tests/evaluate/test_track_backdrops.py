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


def dense_colour_edges(frames: np.ndarray, fg: np.ndarray, max_angle: float) -> np.ndarray:
    """The definition: a foreground pixel is cut where its right or lower foreground neighbour's colour
    direction differs by more than max_angle, every pixel compared in float32."""
    v = frames.astype(np.float32) + 1.0
    v /= np.sqrt((v * v).sum(axis=-1, keepdims=True))
    limit = np.float32(np.cos(np.radians(max_angle)))
    cut = np.zeros_like(fg)
    cut[:, :, :-1] |= ((v[:, :, 1:] * v[:, :, :-1]).sum(axis=-1) < limit) & fg[:, :, 1:]
    cut[:, :-1] |= ((v[:, 1:] * v[:, :-1]).sum(axis=-1) < limit) & fg[:, 1:]
    return fg & ~cut


def test_colour_cuts_and_blobs_on_the_foreground_box_match_the_whole_frames():
    from scipy import ndimage

    from evaluate.encoders.track import blob_features, colour_edges

    rng = np.random.default_rng(3)
    frames = scene(rng, t=5)
    frames[:, 20:30, 20:26] = (200, 30, 30)  # two touching bodies of different colours: one cut between them
    frames[:, 20:30, 26:32] = (30, 30, 200)
    fg = foreground(frames, 0.02, 4)
    for angle in (3.0, 30.0, 180.0):
        cut = colour_edges(frames, fg, angle)
        assert np.array_equal(cut, dense_colour_edges(frames, fg, angle))
    assert (colour_edges(frames, fg, 3.0) != fg).any()
    assert not colour_edges(frames, np.zeros_like(fg), 3.0).any()
    # blobs labelled on the box around the foreground are those of the whole frames
    cut = colour_edges(frames, fg, 3.0)
    blobs = blob_features(frames, cut, 6)
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = ndimage.generate_binary_structure(2, 1)
    labels, n = ndimage.label(cut, structure=structure)
    sizes = np.bincount(labels.ravel())[1:]
    for f in range(len(frames)):
        in_frame = np.unique(labels[f][labels[f] > 0]) - 1
        largest = np.sort(sizes[in_frame])[::-1][:6] / cut[f].size
        assert np.allclose(blobs[f, :len(largest), 3], largest)
        assert (blobs[f, len(largest):] == 0).all()
    assert not blob_features(frames, np.zeros_like(fg), 6).any()
