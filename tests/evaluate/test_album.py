"""The fair album: ``image:`` keeps its frames in time order by default and selects frames as the video
encoders do; ``random-image`` is random-vjepa2's architecture with a one-frame tubelet; ``pool=trajectory``
on every encoder with per-time outputs, through ``evaluate run``."""

import json

import numpy as np
import pytest

from evaluate.encoders import build_encoder
from evaluate.encoders.base import select_frames
from evaluate.errors import EncoderError
from evaluate.trajectory import feature_count, trajectory_features

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_dino(tmp_path_factory):
    from transformers import Dinov2Config, Dinov2Model

    directory = tmp_path_factory.mktemp("ckpt") / "dino"
    cfg = Dinov2Config(image_size=32, patch_size=16, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=96)
    Dinov2Model(cfg).save_pretrained(directory)
    (directory / "preprocessor_config.json").write_text(json.dumps(
        {"crop_size": {"height": 32, "width": 32}, "image_mean": [0.4, 0.4, 0.4], "image_std": [0.2, 0.2, 0.2]}))
    return directory


@pytest.fixture(scope="module")
def random_image():
    return build_encoder("random-image:tiny")


def clips(n=2, t=8, size=48, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(t, size, size, 3), dtype=np.uint8) for _ in range(n)]


def test_image_keeps_frames_in_time_order_by_default(tiny_dino):
    x = clips()
    timed = build_encoder(f"image:{tiny_dino}")
    assert timed.pool == "time" and timed.identity()["pool"] == "time"
    out = timed.encode(x)
    assert out.shape == (2, 8 * 48)
    reversed_clips = [c[::-1].copy() for c in x]
    # each frame is embedded alone: reversing the clip reverses the order of the frame vectors, nothing else
    np.testing.assert_allclose(timed.encode(reversed_clips).reshape(2, 8, 48), out.reshape(2, 8, 48)[:, ::-1],
                               atol=1e-5)
    mean = build_encoder(f"image:{tiny_dino},pool=mean").encode(x)
    np.testing.assert_allclose(mean, out.reshape(2, 8, 48).mean(axis=1), rtol=1e-5, atol=1e-6)
    assert np.allclose(mean, build_encoder(f"image:{tiny_dino},pool=mean").encode(reversed_clips), atol=1e-5)
    trajectory = build_encoder(f"image:{tiny_dino},pool=trajectory")
    np.testing.assert_allclose(trajectory.encode(x), trajectory_features(out.reshape(2, 8, 48)), rtol=1e-5, atol=1e-6)
    assert trajectory.identity() != timed.identity()  # cached apart
    with pytest.raises(EncoderError, match="pool='tokens'"):
        build_encoder(f"image:{tiny_dino},pool=tokens")


def test_frame_selection_is_the_video_encoders(random_image):
    """The same frames=/step= give the same frames to the album and to the tubelet model (the indices the
    video encoders took before the selection moved to base.py, worked out by hand)."""
    clip = np.arange(10)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)  # frame i is all i
    notes: list[str] = []
    assert select_frames(clip, 5, 3, notes)[:, 0, 0, 0].tolist() == [0, 3, 6, 9, 9] and "padded" in notes[0]
    assert select_frames(clip, 4, None, [])[:, 0, 0, 0].tolist() == [0, 3, 6, 9]  # evenly spaced
    assert select_frames(clip, None, 4, [])[:, 0, 0, 0].tolist() == [0, 4, 8]
    assert select_frames(clip, None, None, []) is clip
    for options in ("frames=4", "frames=4,step=2", "frames=5,step=3", "step=3"):
        video = build_encoder(f"random-vjepa2:tiny,{options}")
        album = build_encoder(f"random-image:tiny,{options}")
        expected = select_frames(clip, album.frames, album.step, [])
        chosen = video.frames_for_model(clip)[:len(expected)]  # the video encoder may pad to a whole tubelet
        np.testing.assert_array_equal(chosen, expected)
        assert (album.frames, album.step) == (video.frames, video.step)
        assert album.identity()["frames"] == video.identity()["frames"] and album.identity()["step"] == video.step
    x = clips(t=12)
    picked = [select_frames(c, 4, 3, []) for c in x]
    np.testing.assert_allclose(build_encoder("random-image:tiny,frames=4,step=3").encode(x), random_image.encode(picked),
                               atol=1e-6)
    with pytest.raises(EncoderError, match="step=.0.; a whole number from 1"):
        build_encoder("random-image:tiny,step=0")


def test_random_image_is_random_vjepa2_tiny_with_a_one_frame_tubelet(random_image):
    video = build_encoder("random-vjepa2:tiny")
    a, v = random_image.model.config, video.model.config
    for field in ("hidden_size", "num_hidden_layers", "num_attention_heads", "patch_size", "mlp_ratio", "crop_size"):
        assert getattr(a, field) == getattr(v, field), field
    assert (a.tubelet_size, v.tubelet_size) == (1, 2)
    assert (random_image.prep.height, random_image.prep.width) == (video.prep.height, video.prep.width) == (32, 32)
    assert random_image.role == "album" and video.role == "tubelet"
    x = clips()
    out = random_image.encode(x)
    assert out.shape == (2, 8 * 96) and out.dtype == np.float32
    # every frame is embedded alone: changing frame 5 changes its vector only
    changed = [c.copy() for c in x]
    changed[0][5] = 255 - changed[0][5]
    diff = np.abs(random_image.encode(changed) - out).reshape(2, 8, 96).max(axis=2)
    assert diff[0, 5] > 1e-3 and np.all(np.delete(diff[0], 5) == 0) and np.all(diff[1] == 0)


def test_random_image_is_drawn_from_its_seed_alone():
    import torch

    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = build_encoder("random-image:tiny")
    assert torch.equal(before, torch.rand(1))  # the caller's generator is left as it was
    x = clips(1)
    again, other = build_encoder("random-image:tiny"), build_encoder("random-image:tiny,seed=1")
    np.testing.assert_array_equal(first.encode(x), again.encode(x))
    assert first.identity() == again.identity()
    assert other.identity()["encoder_sha256"] != first.identity()["encoder_sha256"]
    assert not np.allclose(other.encode(x), first.encode(x))
    with pytest.raises(EncoderError, match="unknown size"):
        build_encoder("random-image:huge")


def test_pool_trajectory_of_video_encoders_and_pixels(random_image):
    x = clips()
    video_steps = build_encoder("random-vjepa2:tiny").encode(x).reshape(2, 4, 96)  # 8 frames: 4 tubelet steps
    np.testing.assert_allclose(build_encoder("random-vjepa2:tiny,pool=trajectory").encode(x),
                               trajectory_features(video_steps), rtol=1e-5, atol=1e-6)
    stacked = build_encoder("pixels,size=8").encode(x).reshape(2, 8, -1)
    pixels = build_encoder("pixels,size=8,pool=trajectory")
    np.testing.assert_allclose(pixels.encode(x), trajectory_features(stacked), rtol=1e-5, atol=1e-6)
    assert pixels.identity()["pool"] == "trajectory" and "pool" not in build_encoder("pixels").identity()
    assert build_encoder("random-image:tiny,pool=trajectory").encode(x).shape == (2, feature_count(8))
    with pytest.raises(EncoderError, match="at least 4"):
        build_encoder("random-vjepa2:tiny,pool=trajectory").encode(clips(t=6))  # 3 tubelet steps
    with pytest.raises(EncoderError, match="pool='mean'; use pool=time or pool=trajectory"):
        build_encoder("pixels,pool=mean")


def test_pool_trajectory_through_evaluate_run(tiny_falling_rising, tmp_path):
    from evaluate.config import RunConfig
    from evaluate.tasks.probe import run

    encoders = ["random-image:tiny,pool=trajectory", "random-vjepa2:tiny,pool=trajectory", "pixels,pool=trajectory",
                "random-image:tiny"]
    payload = run(RunConfig(datasets=[str(tiny_falling_rising)], encoders=encoders, out=str(tmp_path / "run"),
                            views=["original", "shuffled"], targets=["direction"], n_bootstrap=50,
                            device="cpu")).row()
    scored = {(r["encoder"], r["view"]) for r in payload["results"]}
    assert {(e, v) for e in encoders for v in ("original", "shuffled")} <= scored
    for r in payload["results"]:
        assert 0.0 <= r["value"] <= 1.0 and r["n_test"] == 4
    identities = {e["encoder"]: e["identity"] for e in payload["encoders"]}
    assert identities["random-image:tiny,pool=trajectory"]["pool"] == "trajectory"
    assert identities["random-image:tiny"]["pool"] == "time"
