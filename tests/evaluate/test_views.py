import numpy as np
import pytest

from evaluate.data.views import VIEWS, apply_view, check_views


@pytest.fixture
def clip() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(8, 6, 5, 3), dtype=np.uint8)


def test_original_is_untouched(clip):
    assert np.array_equal(apply_view("original", clip, "c"), clip)


def test_shuffled_is_a_seeded_permutation(clip):
    out = apply_view("shuffled", clip, "c")
    order = [next(i for i in range(8) if np.array_equal(f, clip[i])) for f in out]
    assert sorted(order) == list(range(8)) and order != list(range(8))
    assert np.array_equal(out, apply_view("shuffled", clip, "c"))  # fixed seed per clip
    assert not np.array_equal(out, apply_view("shuffled", clip, "another clip"))


def test_reversed(clip):
    assert np.array_equal(apply_view("reversed", clip, "c"), clip[::-1])


def test_single_frame_is_one_frame_repeated(clip):
    out = apply_view("single_frame", clip, "c")
    assert out.shape == clip.shape
    assert all(np.array_equal(f, out[0]) for f in out)
    assert any(np.array_equal(out[0], f) for f in clip)
    assert np.array_equal(out, apply_view("single_frame", clip, "c"))


def test_frame_mean_is_constant_and_blind_to_order(clip):
    out = apply_view("frame_mean", clip, "c")
    assert out.dtype == np.uint8 and out.shape == clip.shape
    assert all(np.array_equal(f, out[0]) for f in out)
    assert np.abs(out[0].astype(float) - clip.mean(axis=0)).max() <= 0.5
    # a clip and its time reversal (a falling/rising pair) have bit-identical frame means
    assert np.array_equal(out, apply_view("frame_mean", clip[::-1].copy(), "twin"))


def test_every_view_keeps_shape_and_dtype(clip):
    for view in VIEWS:
        out = apply_view(view, clip, "c")
        assert out.shape == clip.shape and out.dtype == np.uint8


def test_unknown_view_suggests():
    with pytest.raises(ValueError, match="did you mean 'shuffled'"):
        check_views(["shufled"])


@pytest.mark.parametrize("n_frames", [1, 16, 128, 129, 257, 258])
def test_frame_mean_sums_long_bright_clips_without_overflow(n_frames):
    """The sums run in narrow integers (uint16 in numpy, int16 in torch) only while they cannot overflow."""
    import torch

    from evaluate.encoders.device_views import frame_sum as _frame_sum

    frames = np.random.default_rng(n_frames).integers(0, 256, size=(n_frames, 4, 5, 3), dtype=np.uint8)
    frames[:, 0, 0] = 255  # the largest sum a pixel can have
    exact = frames.astype(np.int64).sum(axis=0)
    expected = ((2 * exact + n_frames) // (2 * n_frames)).astype(np.uint8)
    assert np.array_equal(apply_view("frame_mean", frames, "c")[0], expected)
    assert np.array_equal(_frame_sum(torch.from_numpy(frames[None]))[0].numpy(), exact)


def test_resizing_in_chunks_of_frames_gives_the_bits_of_the_whole_batch(monkeypatch):
    import torch

    from evaluate.encoders import hf

    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (19, 3, 40, 48), dtype=np.uint8))
    for size, antialias in (((16, 16), True), ((24, 30), False), ((40, 48), True)):
        chunked = hf.resize_float(frames, size, antialias)
        monkeypatch.setattr(hf, "CPU_RESIZE_CHUNK", len(frames))
        whole = hf.resize_float(frames, size, antialias)
        monkeypatch.undo()
        assert chunked.dtype == torch.float32 and tuple(chunked.shape) == (19, 3, *size)
        assert torch.equal(chunked, whole)
