"""V-JEPA 2 readout parity: pool=time by default, V-JEPA 2's frame sampling (step=), resize=hf against
transformers' VJEPA2VideoProcessor, classifier checkpoints (pool=classifier), and the encoder weight
hash in identity(). Every checkpoint is a tiny one saved here."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from evaluate.encoders import build_encoder
from evaluate.encoders.hf import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, preprocess, processor_size
from evaluate.errors import EncoderError
from tests.evaluate.conftest import TINY_VJEPA2, preprocessor_json, save_tiny_vjepa2

# What transformers' VJEPA2VideoProcessor(crop_size=32) made of two random clips (a 40x56 landscape of
# 2 frames, a 60x44 portrait of 1), made once where torchvision was installed: the "versions" entry says
# with what (transformers 5.24.0, torchvision 0.28.0, torch 2.13.0 on an AVX-512 CPU). The test
# environment has no torchvision, which the processor needs.
REFERENCE = Path(__file__).with_name("vjepa2_processor_reference.npz")


def clips(n=2, t=8, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(t, size, size, 3), dtype=np.uint8) for _ in range(n)]


def numbered(t=64, size=32):
    """A clip whose frame i is filled with the value i: sampled frames read off as their indices."""
    return np.broadcast_to(np.arange(t, dtype=np.uint8)[:, None, None, None], (t, size, size, 3)).copy()


def test_frame_step_samples_every_s_th_frame_then_n(tiny_vjepa2):
    enc = build_encoder(f"vjepa2:{tiny_vjepa2},frames=16,step=4")
    assert enc.name.endswith("frames=16,step=4")  # reports name the encoder by its spec
    assert (enc.identity()["frames"], enc.identity()["step"]) == (16, 4)
    assert enc.identity() != build_encoder(f"vjepa2:{tiny_vjepa2},frames=16").identity()  # cached apart
    # 64 frames at 24 fps, every 4th from the first: 16 frames at 6 fps over 2.6 s.
    assert enc.frames_for_model(numbered(64))[:, 0, 0, 0].tolist() == list(range(0, 64, 4))
    # Too short for 16: padded with the last sampled frame (as V-JEPA's loader), and noted.
    assert enc.frames_for_model(numbered(40))[:, 0, 0, 0].tolist() == [*range(0, 40, 4), *[36] * 6]
    assert any("padded with the last sampled frame" in n for n in enc.notes)
    # step alone keeps every S-th frame; frames alone resamples evenly over the clip, as before.
    step_only = build_encoder(f"vjepa2:{tiny_vjepa2},step=3").frames_for_model(numbered(24))
    assert step_only[:, 0, 0, 0].tolist() == list(range(0, 24, 3))
    even = build_encoder(f"vjepa2:{tiny_vjepa2},frames=4").frames_for_model(numbered(64))
    assert even[:, 0, 0, 0].tolist() == [0, 21, 42, 63]
    # The embedding is that of the sampled clip.
    long = clips(2, t=64)
    np.testing.assert_array_equal(enc.encode(long), build_encoder(f"vjepa2:{tiny_vjepa2}").encode(
        [c[::4][:16] for c in long]))
    with pytest.raises(EncoderError, match="step=.0.; a whole number from 1"):
        build_encoder(f"vjepa2:{tiny_vjepa2},step=0")


def test_random_vjepa2_takes_step_and_resize():
    enc = build_encoder("random-vjepa2:tiny,frames=4,step=2,resize=hf")
    identity = enc.identity()
    assert (identity["step"], identity["preprocessing"]["resize"], identity["preprocessing"]["short_edge"]) == (
        2, "hf", 36)  # int(32 * 256 / 224)
    assert enc.encode(clips(1, t=16, size=40)).shape == (1, 2 * 96)


def test_processor_size_is_transformers_shortest_edge_arithmetic():
    assert processor_size(256, 256, 292) == (292, 292)  # a 256 crop: 292, then the centre 256
    assert processor_size(40, 56, 36) == (36, 50)  # int(36 * 56 / 40) = 50
    assert processor_size(60, 44, 36) == (49, 36)


@pytest.mark.parametrize("native", [True, False])
def test_resize_hf_matches_vjepa2_video_processor(monkeypatch, native):
    """resize=hf against the processor's own output. On a CPU where torchvision resizes uint8 natively
    (AVX2, AVX-512, ARM: where the reference was made) the two run the same kernels, so they agree to
    float32 rounding of the normalisation (the processor divides by std·255, we multiply by 1/255 first):
    1e-5. Elsewhere (a GPU, other CPUs) both resize in float32 and round to uint8, which can differ from
    the uint8 kernel by one level in a few pixels: 1/255/std = 0.0175 at most, after normalising."""
    import evaluate.encoders.hf as hf

    if native and not hf._native_uint8_resize():
        pytest.skip("torchvision resizes uint8 in float32 on this CPU")
    monkeypatch.setattr(hf, "_native_uint8_resize", lambda: native)
    reference = np.load(REFERENCE)
    hf_prep = Preprocessing(32, 32, IMAGENET_MEAN, IMAGENET_STD).with_resize("hf")
    full_prep = Preprocessing(32, 32, IMAGENET_MEAN, IMAGENET_STD)
    tolerance = 1e-5 if native else 1 / 255 / min(IMAGENET_STD) + 1e-5
    for name in ("landscape", "portrait"):
        theirs = reference[f"{name}_processed"]
        ours = preprocess([reference[name]], hf_prep, "cpu", torch.float32)[0].numpy()
        assert ours.shape == theirs.shape == (len(reference[name]), 3, 32, 32)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=tolerance, err_msg=name)
        full = preprocess([reference[name]], full_prep, "cpu", torch.float32)[0].numpy()
        assert np.abs(full - theirs).max() > 0.5  # the whole frame squeezed in: not what the processor does


def test_resize_hf_matches_the_processor_itself_where_torchvision_is_installed():
    """The same comparison on a fresh random clip, where the processor can run (it needs torchvision)."""
    try:
        from transformers import VJEPA2VideoProcessor

        VJEPA2VideoProcessor(crop_size=32)
    except (ImportError, RuntimeError, OSError):
        pytest.skip("VJEPA2VideoProcessor needs torchvision")
    import evaluate.encoders.hf as hf

    clip = np.random.default_rng(7).integers(0, 256, size=(3, 72, 96, 3), dtype=np.uint8)
    theirs = VJEPA2VideoProcessor(crop_size=64)(clip, return_tensors="pt")["pixel_values_videos"][0].numpy()
    prep = Preprocessing(64, 64, IMAGENET_MEAN, IMAGENET_STD).with_resize("hf")
    ours = preprocess([clip], prep, "cpu", torch.float32)[0].numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 if hf._native_uint8_resize() else 0.018)


def test_resize_option_is_recorded_and_changes_the_input(tiny_vjepa2):
    full = build_encoder(f"vjepa2:{tiny_vjepa2}")
    hf = build_encoder(f"vjepa2:{tiny_vjepa2},resize=hf")
    assert full.identity()["preprocessing"]["resize"] == "full" and full.prep.short_edge is None
    assert hf.identity()["preprocessing"]["resize"] == "hf" and hf.prep.short_edge == 36
    x = clips(2, size=48)
    assert not np.allclose(full.encode(x), hf.encode(x))
    with pytest.raises(EncoderError, match="resize=full .* or resize=hf"):
        build_encoder(f"vjepa2:{tiny_vjepa2},resize=crop")


def test_videomae_resize_hf_uses_its_processor_shortest_edge(tmp_path):
    from transformers import VideoMAEConfig, VideoMAEModel

    cfg = VideoMAEConfig(image_size=32, patch_size=16, num_frames=4, tubelet_size=2, hidden_size=48,
                         num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)
    VideoMAEModel(cfg).save_pretrained(tmp_path / "vmae")
    (tmp_path / "vmae" / "preprocessor_config.json").write_text(json.dumps(
        {"crop_size": {"height": 32, "width": 32}, "size": {"shortest_edge": 40}}))
    enc = build_encoder(f"videomae:{tmp_path / 'vmae'},resize=hf")
    assert enc.prep.short_edge == 40 and enc.pool == "time"
    assert enc.encode(clips(1, t=4, size=48)).shape == (1, 2 * 48)


def save_tiny_classifier(directory: Path, backbone=None, seed: int = 0, drop_predictor: bool = False) -> Path:
    """A VJEPA2ForVideoClassification (3 labels, one pooler self-attention layer) saved with
    save_pretrained: config.json's architectures say what it is, as on the hub's -ssv2 checkpoints.
    ``backbone``: a VJEPA2Model whose weights it takes (a frozen-backbone classifier, as Meta's)."""
    from transformers import VJEPA2Config, VJEPA2ForVideoClassification

    torch.manual_seed(seed)
    model = VJEPA2ForVideoClassification(VJEPA2Config(**TINY_VJEPA2, num_labels=3, num_pooler_layers=1))
    if backbone is not None:
        model.vjepa2.load_state_dict(backbone.state_dict())
    state = {k: v for k, v in model.state_dict().items() if not (drop_predictor and ".predictor." in k)}
    model.save_pretrained(directory, state_dict=state)
    (directory / "video_preprocessor_config.json").write_text(json.dumps(preprocessor_json(32)))
    return directory


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A base checkpoint, a classifier on its very weights, and one on other weights."""
    from transformers import VJEPA2Model

    root = tmp_path_factory.mktemp("classifier")
    base = save_tiny_vjepa2(root / "base", seed=0)
    same = save_tiny_classifier(root / "ssv2", backbone=VJEPA2Model.from_pretrained(base))
    other = save_tiny_classifier(root / "other", seed=5, drop_predictor=True)
    return base, same, other


def test_classifier_checkpoint_exposes_its_pooler(checkpoints):
    from transformers import VJEPA2ForVideoClassification

    _, ckpt, _ = checkpoints
    enc = build_encoder(f"vjepa2:{ckpt},pool=classifier")
    assert enc.checkpoint["architecture"] == "VJEPA2ForVideoClassification" and enc.checkpoint["num_labels"] == 3
    x = clips(3)
    pooled = enc.encode(x)
    assert pooled.shape == (3, 48)
    reference = VJEPA2ForVideoClassification.from_pretrained(ckpt).eval()
    pixels = preprocess(x, enc.prep, "cpu", torch.float32)
    with torch.inference_mode():
        tokens = reference.vjepa2(pixel_values_videos=pixels, skip_predictor=True).last_hidden_state
        np.testing.assert_allclose(pooled, reference.pooler(tokens).numpy(), rtol=1e-4, atol=1e-5)
        # It is what the classification head reads: the head on it gives the model's logits.
        logits = reference(pixel_values_videos=pixels).logits
        np.testing.assert_allclose(reference.classifier(torch.from_numpy(pooled)).numpy(), logits.numpy(),
                                   rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(build_encoder(f"vjepa2:{ckpt},pool=classifier,forward=transformers").encode(x),
                               pooled, rtol=1e-4, atol=1e-5)
    with pytest.raises(EncoderError, match="drop layer="):
        build_encoder(f"vjepa2:{ckpt},pool=classifier,layer=1")


def test_pool_classifier_needs_a_classifier_checkpoint(checkpoints):
    base, _, _ = checkpoints
    with pytest.raises(EncoderError, match="needs a V-JEPA 2 classifier checkpoint"):
        build_encoder(f"vjepa2:{base},pool=classifier")
    with pytest.raises(EncoderError, match="needs a V-JEPA 2 classifier checkpoint"):
        build_encoder("random-vjepa2:tiny,pool=classifier")


def test_encoder_sha256_says_which_encoders_share_weights(checkpoints, tmp_path):
    """A frozen-backbone classifier and its base model: different files, the same encoder. The hash
    is of the encoder's tensors as float32 values, predictor and head left out."""
    from evaluate.encoders.vjepa2 import random_config, random_model

    base, same, other = checkpoints
    b, s, o = (build_encoder(f"vjepa2:{d}") for d in (base, same, other))
    assert b.identity()["checkpoint"]["weights_sha256"] != s.identity()["checkpoint"]["weights_sha256"]
    assert b.identity()["encoder_sha256"] == s.identity()["encoder_sha256"] != o.identity()["encoder_sha256"]
    x = clips(2)
    np.testing.assert_array_equal(b.encode(x), s.encode(x))  # the default readout reads the backbone alone
    # The pooler's hash is in the identity of pool=classifier only (its embeddings depend on it).
    assert "pooler_sha256" not in s.identity()
    assert build_encoder(f"vjepa2:{same},pool=classifier").identity()["pooler_sha256"]
    # A classifier saved without the predictor: said in the notes (surprise would use a random one).
    assert any("no predictor weights" in n for n in o.notes) and not any("predictor" in n for n in s.notes)
    # random-vjepa2 hashes its drawn weights the same way: a saved copy of them has its hash.
    random_model(random_config("tiny"), seed=0).save_pretrained(tmp_path / "random-tiny")
    random = build_encoder("random-vjepa2:tiny").identity()["encoder_sha256"]
    assert build_encoder(f"vjepa2:{tmp_path / 'random-tiny'}").identity()["encoder_sha256"] == random
    assert build_encoder("random-vjepa2:tiny,seed=1").identity()["encoder_sha256"] != random
    assert build_encoder("random-vjepa2:tiny,pool=mean").identity()["encoder_sha256"] == random


def test_identity_gives_the_token_grid(tiny_vjepa2):
    identity = build_encoder(f"vjepa2:{tiny_vjepa2},pool=tokens").identity()
    assert identity["token_grid"] == [2, 2]  # 32 / 16 a side: pool=tokens emits (steps x 2 x 2, D), time major
    assert build_encoder(f"vjepa2:{tiny_vjepa2},pool=tokens").encode(clips(1)).shape == (1, 4 * 2 * 2, 48)
