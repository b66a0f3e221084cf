"""The decoding loaders: threads and the torch DataLoader give the same batches, a bad clip is
returned (not raised) and the others still arrive, and decoding is lazy (bounded lookahead)."""

import shutil

import numpy as np
import pytest

import evaluate.data.decode as decode
import evaluate.data.loader as loader_module
from evaluate.config import RunConfig
from evaluate.data.dataset import open_dataset
from evaluate.data.loader import iter_view_batches
from evaluate.data.views import apply_view
from evaluate.errors import BadClipError
from evaluate.tasks.probe import run

VIEWS = ["original", "reversed", "frame_mean"]


def flatten(batches):
    """{(view, clip_id): frames}, [bad clip ids], [clip ids in the order they came]."""
    frames, bad, order = {}, [], []
    for batch in batches:
        bad += [c.clip_id for c, _ in batch.bad]
        for view, (clips, stacked) in batch.views.items():
            assert len(clips) == len(stacked)
            for clip, f in zip(clips, stacked, strict=True):
                frames[(view, clip.clip_id)] = np.asarray(f)
                if view == "original":
                    order.append(clip.clip_id)
    return frames, bad, order


@pytest.fixture
def broken(tiny_falling_rising, tmp_path):
    root = tmp_path / "falling_rising"
    shutil.copytree(tiny_falling_rising, root)
    victim = sorted((root / "train").glob("*.mp4"))[1]
    victim.write_bytes(victim.read_bytes()[:200])
    return root, victim.stem


@pytest.mark.parametrize("loader,workers", [("threads", 1), ("threads", 2), ("torch", 0), ("torch", 2)])
def test_loaders_agree_and_apply_views(tiny_falling_rising, loader, workers):
    ds = open_dataset(tiny_falling_rising)
    work = [(c, VIEWS if i % 2 else ["original"]) for i, c in enumerate(ds.clips)]
    frames, bad, order = flatten(iter_view_batches(ds, work, batch_size=3, workers=workers, loader=loader))
    assert not bad and order == [c.clip_id for c in ds.clips]
    assert len(frames) == len(ds.clips) + 2 * (len(ds.clips) // 2)
    for i, clip in enumerate(ds.clips):
        raw = decode.read_clip(ds, clip)
        for view in work[i][1]:
            assert np.array_equal(frames[(view, clip.clip_id)], apply_view(view, raw, clip.clip_id))


def test_batches_are_stacked_per_view(tiny_falling_rising):
    ds = open_dataset(tiny_falling_rising)
    batch = next(iter_view_batches(ds, [(c, VIEWS) for c in ds.clips], batch_size=4, loader="torch", workers=0))
    clips, stacked = batch.views["reversed"]
    assert isinstance(stacked, np.ndarray) and stacked.shape == (4, 8, 64, 64, 3) and stacked.dtype == np.uint8


def _stacked_where(items):
    stacked = loader_module.stack_frames(items)
    return stacked, stacked.is_shared()


def test_loader_workers_stack_batches_straight_into_shared_memory():
    """A batch leaves a loader worker through shared memory; stacked anywhere else it is copied once more."""
    import torch
    from torch.utils.data import DataLoader

    clips = [torch.full((2, 4, 4, 3), i, dtype=torch.uint8) for i in range(6)]
    loader = DataLoader(clips, batch_size=3, num_workers=1, collate_fn=_stacked_where)
    batches = list(loader)
    assert [shared for _, shared in batches] == [True, True]
    assert torch.equal(torch.cat([b for b, _ in batches]), torch.stack(clips))


@pytest.mark.parametrize("loader,workers", [("threads", 2), ("torch", 2)])
def test_bad_clip_is_returned_and_the_rest_still_decode(broken, loader, workers):
    root, victim = broken
    ds = open_dataset(root, verify_hashes=False)  # the decoder, not the hash check, must meet the bad clip
    batches = list(iter_view_batches(ds, [(c, ["original"]) for c in ds.clips], batch_size=4, workers=workers,
                                     loader=loader))
    errors = [e for b in batches for _, e in b.bad]
    assert len(errors) == 1 and isinstance(errors[0], BadClipError)
    assert errors[0].clip_id == victim and victim in str(errors[0]) and "--skip-bad" in str(errors[0])
    frames, bad, _ = flatten(batches)
    assert bad == [victim] and len(frames) == len(ds.clips) - 1


def test_decoding_is_lazy(tiny_falling_rising, monkeypatch):
    ds = open_dataset(tiny_falling_rising)
    calls = []
    real = decode.read_clip
    monkeypatch.setattr(loader_module, "read_clip", lambda d, c: calls.append(c.clip_id) or real(d, c))
    batches = iter_view_batches(ds, [(c, ["original"]) for c in ds.clips], batch_size=2, workers=2)
    next(batches)
    assert len(calls) <= 4 < len(ds.clips)  # the batch asked for, plus one batch of lookahead


def test_torch_loader_in_a_run_matches_threads_and_keeps_skip_bad(broken, tmp_path):
    root, victim = broken
    runs = {}
    for loader in ("threads", "torch"):
        out = tmp_path / loader
        payload = run(RunConfig(datasets=[str(root)], encoders=["pixels,size=8", "motion,size=8"], out=str(out), views=["original", "reversed"],
                                probes=[], skip_bad=True, loader=loader, workers=2,
                                batch_size=3)).row()
        assert [victim in c["clip"] for c in payload["skipped"]["clips"]] == [True]
        runs[loader] = {p.relative_to(out): np.load(p) for p in (out / "embeddings").rglob("*.npy")}
    assert runs["threads"].keys() == runs["torch"].keys() and len(runs["torch"]) == 2 * 2 * 15
    assert all(np.array_equal(runs["threads"][k], runs["torch"][k]) for k in runs["torch"])


def test_ffmpeg_binary_fallback_decodes_the_same_frames(tiny_falling_rising, monkeypatch):
    """A GPU box may lack PyAV and imageio-ffmpeg: an ffmpeg binary (here imageio-ffmpeg's) gives the same bytes."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    ds = open_dataset(tiny_falling_rising)
    expected = decode.read_clip(ds, ds.clips[0])
    monkeypatch.setattr(decode, "video_decoder", lambda: "ffmpeg")
    monkeypatch.setenv("SIMGEN_FFMPEG", imageio_ffmpeg.get_ffmpeg_exe())
    assert np.array_equal(decode.read_clip(ds, ds.clips[0]), expected)


def test_no_decoder_at_all_says_what_to_install(monkeypatch):
    import importlib.util

    from evaluate.errors import EvaluateError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("av", "imageio_ffmpeg", "cv2") else real(name, *a))
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("SIMGEN_FFMPEG", raising=False)
    with pytest.raises(EvaluateError, match="pip install av"):
        decode.video_decoder()


def test_opencv_fallback_decodes_the_same_frames(tiny_falling_rising, monkeypatch):
    """GPU boxes often have OpenCV but not PyAV (bench/gpu_check.sh found so): same bytes as PyAV."""
    pytest.importorskip("cv2")
    ds = open_dataset(tiny_falling_rising)
    expected = [decode.read_clip(ds, clip) for clip in ds.clips[:3]]
    monkeypatch.setattr(decode, "video_decoder", lambda: "opencv")
    for clip, frames in zip(ds.clips[:3], expected, strict=True):
        decoded = decode.read_clip(ds, clip)
        assert decoded.flags.c_contiguous
        np.testing.assert_array_equal(decoded, frames)
