"""timesformer:<dir>: a tiny TimesformerModel and its image processor, saved here, through from_pretrained,
the readout (time-major tokens, [CLS] dropped), the cache key and `evaluate run` end to end."""

import json
from pathlib import Path

import numpy as np
import pytest

from evaluate.encoders import build_encoder
from evaluate.encoders.timesformer import time_major
from evaluate.errors import EncoderError, WeightsMissingError
from tests.evaluate.test_cli import cli
from tests.evaluate.test_encoders import clips as random_clips

pytestmark = pytest.mark.usefixtures("one_torch_thread")
HIDDEN, FRAMES = 48, 4  # head_dim 12


def save_tiny_timesformer(directory: Path, seed: int = 0, crop: int = 32, **overrides) -> Path:
    import torch
    from transformers import TimesformerConfig, TimesformerModel, VideoMAEImageProcessor

    torch.manual_seed(seed)
    config = TimesformerConfig(**{"image_size": 32, "patch_size": 16, "num_frames": FRAMES, "hidden_size": HIDDEN,
                                  "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 96,
                                  **overrides})
    TimesformerModel(config).save_pretrained(directory)
    # TimeSformer checkpoints ship VideoMAE's image processor (shortest edge, then a centre crop).
    VideoMAEImageProcessor(size={"shortest_edge": crop + 4}, crop_size={"height": crop, "width": crop},
                           image_mean=[0.45] * 3, image_std=[0.225] * 3).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_timesformer(tmp_path_factory) -> Path:
    return save_tiny_timesformer(tmp_path_factory.mktemp("ckpt") / "timesformer-tiny")


def clips(n=2, t=8, size=48):
    return random_clips(n, t, size)


def test_time_major_drops_cls_and_orders_tokens_by_frame():
    import torch

    patches, frames = 3, 4
    # Token value = 10·patch + frame, laid out as TimeSformer emits them: [CLS], then patch-major.
    order = [10 * p + t for p in range(patches) for t in range(frames)]
    tokens = torch.tensor([-1.0, *order]).view(1, -1, 1)
    got = time_major(tokens, frames).flatten().tolist()
    assert got == [10 * p + t for t in range(frames) for p in range(patches)]
    with pytest.raises(EncoderError, match="do not split into 5 frames"):
        time_major(tokens, 5)


def test_loads_its_own_preprocessing_and_frame_count(tiny_timesformer):
    enc = build_encoder(f"timesformer:{tiny_timesformer}")
    assert enc.role == "frame-tokenizer"
    assert (enc.prep.height, enc.prep.mean, enc.prep.source) == (32, (0.45, 0.45, 0.45), "preprocessor_config.json")
    assert enc.fixed_frames == FRAMES and enc.tubelet == 1
    x = clips()
    timed = enc.encode(x)  # 8-frame clips resampled to the model's 4
    assert timed.shape == (2, FRAMES * HIDDEN) and timed.dtype == np.float32
    assert any("resampled to the model's 4" in n for n in enc.notes)
    np.testing.assert_array_equal(timed, build_encoder(f"timesformer:{tiny_timesformer}").encode(x))
    np.testing.assert_allclose(enc.encode(x[:1]), timed[:1], atol=1e-5)  # batching leaves a clip alone
    # pool=time is the mean over each frame's patches: their mean is the mean of all patch tokens.
    mean = build_encoder(f"timesformer:{tiny_timesformer},pool=mean").encode(x)
    np.testing.assert_allclose(timed.reshape(2, FRAMES, HIDDEN).mean(axis=1), mean, rtol=1e-5, atol=1e-6)


def test_frame_order_reaches_pool_time(tiny_timesformer):
    """Reversing the frames reverses pool=time's steps up to what attention mixes across time: the
    readout's time axis is the clip's, so the per-frame vectors of a reversed clip are not the same list."""
    enc = build_encoder(f"timesformer:{tiny_timesformer},frames=4")
    x = clips(1, t=4)
    forward = enc.encode(x).reshape(FRAMES, HIDDEN)
    backward = enc.encode([x[0][::-1].copy()]).reshape(FRAMES, HIDDEN)
    # The layer-0 tokens (patch embedding + space and time position) keep each frame's pixels: a reversed
    # clip gives the same frame vectors up to the time embedding, which differs per step.
    first = build_encoder(f"timesformer:{tiny_timesformer},frames=4,layer=0")
    f0, b0 = (first.encode(c).reshape(FRAMES, HIDDEN) for c in (x, [x[0][::-1].copy()]))
    assert not np.allclose(forward, backward)
    time_embedding = first.model.embeddings.time_embeddings[0].detach().numpy()
    np.testing.assert_allclose(f0 - time_embedding, (b0 - time_embedding)[::-1], atol=1e-5)


def test_layers_and_layer_sweep(tiny_timesformer):
    x = clips()
    final = build_encoder(f"timesformer:{tiny_timesformer},pool=mean").encode(x)
    layer1 = build_encoder(f"timesformer:{tiny_timesformer},pool=mean,layer=1").encode(x)
    assert layer1.shape == final.shape and not np.allclose(layer1, final)
    sweep = build_encoder(f"timesformer:{tiny_timesformer},pool=mean,layers=1,2").encode(x)
    assert sweep.shape == (2, 2, HIDDEN)
    np.testing.assert_allclose(sweep[:, 0], layer1, atol=1e-5)
    with pytest.raises(EncoderError, match="out of range"):
        build_encoder(f"timesformer:{tiny_timesformer},layer=7").encode(x)


def test_identity_is_keyed_by_the_weights(tiny_timesformer, tmp_path):
    same = build_encoder(f"timesformer:{save_tiny_timesformer(tmp_path / 'copy')}").identity()
    other = build_encoder(f"timesformer:{save_tiny_timesformer(tmp_path / 'other', seed=1)}").identity()
    mine = build_encoder(f"timesformer:{tiny_timesformer}").identity()
    assert same["encoder_sha256"] == mine["encoder_sha256"] != other["encoder_sha256"]
    assert mine["fixed_frames"] == FRAMES and tuple(mine["preprocessing"]["mean"]) == (0.45,) * 3


def test_a_classifier_checkpoint_loads_its_backbone(tmp_path):
    """The published TimeSformers are TimesformerForVideoClassification checkpoints (k400, ssv2): their
    backbone loads, and hashes as the same weights saved as a bare TimesformerModel."""
    from safetensors.torch import load_file
    from transformers import TimesformerConfig, TimesformerForVideoClassification

    bare = save_tiny_timesformer(tmp_path / "bare")
    config = TimesformerConfig.from_pretrained(bare)
    config.num_labels = 3
    classifier = TimesformerForVideoClassification(config)
    classifier.timesformer.load_state_dict(load_file(bare / "model.safetensors"))
    classifier.save_pretrained(tmp_path / "k3")
    (tmp_path / "k3" / "preprocessor_config.json").write_text((bare / "preprocessor_config.json").read_text())
    head, plain = (build_encoder(f"timesformer:{d}") for d in (tmp_path / "k3", bare))
    assert not any("initialised at random" in n for n in head.notes)
    assert head.identity()["encoder_sha256"] == plain.identity()["encoder_sha256"]
    np.testing.assert_allclose(head.encode(clips()), plain.encode(clips()), atol=1e-5)


def test_bad_checkpoints_are_one_line(tmp_path):
    with pytest.raises(WeightsMissingError, match="no such directory") as missing:
        build_encoder(f"timesformer:{tmp_path / 'nope'}")
    assert "\n" not in str(missing.value)
    with pytest.raises(EncoderError, match="only divided_space_time"):
        build_encoder(f"timesformer:{save_tiny_timesformer(tmp_path / 'space', attention_type='space_only')}")
    with pytest.raises(EncoderError, match="not the model's image_size 32"):
        build_encoder(f"timesformer:{save_tiny_timesformer(tmp_path / 'crop', crop=16)}")


def test_evaluate_run_end_to_end(tiny_timesformer, tiny_falling_rising, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    spec = f"timesformer:{tiny_timesformer}"
    code, _, err = cli(monkeypatch, capsys, "run", tiny_falling_rising, "-e", spec, "-e", "pixels", "--out", out,
                       "--bootstrap", "50", "--device", "cpu")
    assert code == 0, err
    payload = json.loads((out / "results.json").read_text())
    rows = [r for r in payload["results"] if r["encoder"] == spec]
    assert rows and all(0.0 <= r["value"] <= 1.0 for r in rows if r["metric"] == "balanced_accuracy")
    assert {r["view"] for r in rows} >= {"original", "shuffled", "single_frame"}
    code, stdout, _ = cli(monkeypatch, capsys, "ls")
    assert code == 0 and "timesformer" in stdout
