"""Encoders: spec parsing, weight-free baselines, and tiny checkpoints through from_pretrained."""

import json

import numpy as np
import pytest

from evaluate.encoders import build_encoder, parse_spec
from evaluate.errors import EncoderError, WeightsMissingError
from tests.evaluate.conftest import save_tiny_vjepa2


def clips(n=3, t=8, size=64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(t, size, size, 3), dtype=np.uint8) for _ in range(n)]


def collect_views(stream) -> dict:
    """{view: (its clips, its embeddings)} of an encode_views_async stream, waiting for each."""
    return {view: (view_clips, wait()) for view, view_clips, wait in stream}


def assert_same_views(built: dict, made_first: dict) -> None:
    """Every view, with the same clips and bit-identical embeddings: the cache key does not say which
    way a view was made, and need not."""
    from evaluate.data.views import VIEWS

    assert built.keys() == made_first.keys() == set(VIEWS)
    for view, (view_clips, vectors) in made_first.items():
        assert built[view][0] == view_clips
        np.testing.assert_array_equal(built[view][1], vectors, err_msg=view)


def test_spec_parsing_and_did_you_mean():
    spec = parse_spec("vjepa2:some/dir,pool=time,layer=2")
    assert (spec.kind, spec.arg, spec.options) == ("vjepa2", "some/dir", {"pool": "time", "layer": "2"})
    with pytest.raises(EncoderError, match="did you mean 'motion'"):
        parse_spec("motoin")
    with pytest.raises(EncoderError, match="did you mean 'pool'"):
        parse_spec("vjepa2:x,pol=time")
    with pytest.raises(EncoderError, match="needs a checkpoint"):
        parse_spec("vjepa2")


def test_pixels_and_motion_shapes():
    x = clips(2, t=8, size=64)
    assert build_encoder("pixels").encode(x).shape == (2, 8 * 16 * 16 * 3)
    motion = build_encoder("motion,size=8").encode(x)
    assert motion.shape == (2, 7 * 8 * 8 * 3)
    still = [np.repeat(c[:1], 8, axis=0) for c in x]
    assert not build_encoder("motion").encode(still).any()  # no change, no motion


def test_tiny_vjepa2_loads_through_from_pretrained(tiny_vjepa2):
    enc = build_encoder(f"vjepa2:{tiny_vjepa2}", device="cpu")
    assert enc.prep.height == 32 and enc.prep.mean == (0.5, 0.5, 0.5)  # read from the checkpoint's json
    assert enc.prep.source == "video_preprocessor_config.json"
    x = clips(3)  # 64x64 frames: resized (whole frame) to the checkpoint's 32
    a = enc.encode(x)
    assert enc.pool == "time" and a.shape == (3, 4 * 48) and a.dtype == np.float32  # pool=time by default
    assert np.array_equal(a, build_encoder(f"vjepa2:{tiny_vjepa2}").encode(x))  # deterministic
    assert np.allclose(enc.encode(x[:1]), a[:1], atol=1e-5)  # batching does not change a clip's embedding


def test_pool_time_and_layer_selection(tiny_vjepa2):
    x = clips(2)
    timed = build_encoder(f"vjepa2:{tiny_vjepa2},pool=time").encode(x)
    assert timed.shape == (2, (8 // 2) * 48)  # one vector per tubelet step
    np.testing.assert_array_equal(build_encoder(f"vjepa2:{tiny_vjepa2}").encode(x), timed)  # the default
    final = build_encoder(f"vjepa2:{tiny_vjepa2},pool=mean").encode(x)
    # Every step has as many tokens, so the mean of the steps' means is the mean of all tokens.
    np.testing.assert_allclose(timed.reshape(2, 4, 48).mean(axis=1), final, rtol=1e-5, atol=1e-6)
    layer1 = build_encoder(f"vjepa2:{tiny_vjepa2},layer=1,pool=mean").encode(x)
    assert layer1.shape == (2, 48) and not np.allclose(layer1, final)
    with pytest.raises(EncoderError, match="out of range"):
        build_encoder(f"vjepa2:{tiny_vjepa2},layer=9").encode(x)


def test_odd_frame_count_is_padded_and_noted(tiny_vjepa2):
    enc = build_encoder(f"vjepa2:{tiny_vjepa2},pool=time")
    out = enc.encode(clips(1, t=7))
    assert out.shape == (1, 4 * 48)
    assert any("padded" in n for n in enc.notes)


def test_checkpoint_without_preprocessor_falls_back_with_a_note(tmp_path):
    d = save_tiny_vjepa2(tmp_path / "noprep", with_preprocessor=False)
    enc = build_encoder(f"vjepa2:{d}")
    assert enc.prep.source == "fallback" and enc.prep.height == 32
    assert any("ImageNet" in n for n in enc.notes)


def test_identity_covers_the_weights(tmp_path):
    a = build_encoder(f"vjepa2:{save_tiny_vjepa2(tmp_path / 'a', seed=0)}").identity()
    b = build_encoder(f"vjepa2:{save_tiny_vjepa2(tmp_path / 'b', seed=1)}").identity()
    assert a["checkpoint"]["weights_sha256"] != b["checkpoint"]["weights_sha256"]


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(WeightsMissingError) as e:
        build_encoder("vjepa2:facebook/not-a-real-vjepa2-checkpoint")
    msg = str(e.value)
    assert "huggingface-cli download facebook/not-a-real-vjepa2-checkpoint" in msg and "\n" not in msg
    with pytest.raises(WeightsMissingError, match="no such directory"):
        build_encoder(f"vjepa2:{tmp_path}/nothing/here/at/all")


def test_random_vjepa2_is_seeded_and_leaves_global_rng_alone():
    import torch

    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_encoder("random-vjepa2:tiny").encode(clips(2))
    after = torch.rand(1)
    assert torch.equal(before, after)
    assert np.array_equal(a, build_encoder("random-vjepa2:tiny").encode(clips(2)))
    with pytest.raises(EncoderError, match="unknown size"):
        build_encoder("random-vjepa2:huge")


def test_videomae_resamples_to_its_frame_count(tmp_path):
    from transformers import VideoMAEConfig, VideoMAEModel

    cfg = VideoMAEConfig(image_size=32, patch_size=16, num_frames=4, tubelet_size=2, hidden_size=48,
                         num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)
    VideoMAEModel(cfg).save_pretrained(tmp_path / "vmae")
    enc = build_encoder(f"videomae:{tmp_path / 'vmae'},pool=time")
    assert enc.encode(clips(2, t=8)).shape == (2, 2 * 48)
    assert any("resampled" in n for n in enc.notes)


def test_image_album_averages_frames(tmp_path):
    from transformers import Dinov2Config, Dinov2Model

    cfg = Dinov2Config(image_size=32, patch_size=16, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=96)
    Dinov2Model(cfg).save_pretrained(tmp_path / "dino")
    (tmp_path / "dino" / "preprocessor_config.json").write_text(json.dumps(
        {"crop_size": {"height": 32, "width": 32}, "image_mean": [0.4, 0.4, 0.4], "image_std": [0.2, 0.2, 0.2]}))
    enc = build_encoder(f"image:{tmp_path / 'dino'},pool=mean")  # the default is pool=time (tests/evaluate/test_album.py)
    x = clips(2)
    out = enc.encode(x)
    assert out.shape == (2, 48)
    # the averaged album is blind to order: reversed frames give the same embedding
    assert np.allclose(out, enc.encode([c[::-1].copy() for c in x]), atol=1e-5)


@pytest.mark.gpu
def test_vjepa2_on_cuda_matches_cpu(tiny_vjepa2):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = clips(4)
    gpu = build_encoder(f"vjepa2:{tiny_vjepa2}", device="cuda")
    assert gpu.dtype == torch.bfloat16
    a, b = gpu.encode(x), build_encoder(f"vjepa2:{tiny_vjepa2}", device="cpu").encode(x)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.99


@pytest.mark.gpu
def test_queueing_batches_never_waits_for_the_gpu():
    """Between two forwards the host must not drain the GPU's queue (a copy from pageable memory,
    a tensor made from a list on the device, ``.cpu()``): the GPU would idle while the host launches
    the next forward. Sync-debug mode turns any such wait into an error."""
    import torch

    from evaluate.data.views import VIEWS

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from types import SimpleNamespace

    encoder = build_encoder("random-vjepa2:tiny", device="cuda")
    frames = np.stack(clips(4, t=8, size=48))
    refs = [SimpleNamespace(clip_id=f"c{i}") for i in range(4)]
    needs = [VIEWS, VIEWS, ("original", "frame_mean"), ("shuffled",)]
    warm = [wait() for _, _, wait in encoder.encode_views_async(refs, frames, needs)]  # kernels, constants
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        queued = [wait for _, _, wait in encoder.encode_views_async(refs, frames, needs)]
        queued.append(encoder.encode_async(list(frames)))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    results = [wait() for wait in queued]
    for a, b in zip(results, warm, strict=False):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["random-vjepa2:tiny", "random-image:tiny", "random-image:tiny,pool=trajectory",
                                  "random-cnn3d:tiny"])
def test_views_built_on_the_device_equal_views_built_in_numpy(name):
    """The video transformers, the image models and the 3D CNNs take one copy of the original frames and
    make every view on their device; the result must be what making each view first
    (evaluate.data.views) gives, bit for bit."""
    from types import SimpleNamespace

    from evaluate.data.views import VIEWS
    from evaluate.encoders.base import Encoder

    encoder = build_encoder(name)  # 32² crop: the 48² frames are resized
    frames = np.stack(clips(4, t=6, size=48, seed=3))
    refs = [SimpleNamespace(clip_id=f"train-{i:06d}-falling") for i in range(4)]
    some = [VIEWS, ("shuffled", "frame_mean"), ("original",), ("reversed", "single_frame", "frame_mean")]
    numpy_path = Encoder.encode_views_async
    for needs in (some, [VIEWS] * 4):  # some clips need a view, or every clip does (no selection then)
        Encoder.encode_views_async = None  # the device path must not fall back to numpy views
        try:
            on_device = collect_views(encoder.encode_views_async(refs, frames, needs))
        finally:
            Encoder.encode_views_async = numpy_path
        assert_same_views(on_device, collect_views(Encoder.encode_views_async(encoder, refs, frames, needs)))
        assert not np.allclose(on_device["original"][1][:1], on_device["shuffled"][1][:1])  # the views differ


@pytest.mark.parametrize("name", ["random-vjepa2:tiny,frames=4", "random-image:tiny,frames=4",
                                  "random-cnn3d:tiny,step=2"])
def test_clips_the_model_resamples_make_their_views_in_numpy(name):
    from types import SimpleNamespace

    encoder = build_encoder(name)
    frames = np.stack(clips(2, t=6, size=32))
    refs = [SimpleNamespace(clip_id=f"c{i}") for i in range(2)]
    calls = []
    encoder.encode_async = lambda batch: calls.append(len(batch)) or (lambda: np.zeros((len(batch), 1)))
    views = [view for view, _, _ in encoder.encode_views_async(refs, frames, [("original", "reversed")] * 2)]
    assert views == ["original", "reversed"] and calls == [2, 2]


@pytest.mark.gpu
@pytest.mark.parametrize("loader", ["torch", "threads"])
def test_loader_batches_reach_the_device_without_a_copy_on_the_host(monkeypatch, loader):
    """The DataLoader pins each batch in its own thread, and the threads loader stacks into pinned
    memory; the array handed over must still be seen as pinned, or ``to_device`` would copy ~100 MB a
    batch into fresh pinned memory on the main thread."""
    import torch

    import evaluate.data as data
    from evaluate.encoders.hf import to_device

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    import multiprocessing
    from types import SimpleNamespace

    if loader == "torch" and multiprocessing.get_start_method() != "fork":
        pytest.skip("the loader's workers must fork to see the patched reader")
    frames = clips(6, t=8, size=48, seed=5)
    refs = [SimpleNamespace(clip_id=f"train-{i:06d}-falling", split="train") for i in range(6)]
    # Workers fork from this process, so they decode through the patched reader (no mp4 needed: the
    # GPU box may have neither pybullet nor PyAV).
    monkeypatch.setattr(data, "read_clip", lambda dataset, clip: frames[int(clip.clip_id[6:12])])
    work = [(ref, ("original",)) for ref in refs]
    batches = list(data.iter_view_batches(SimpleNamespace(name="synthetic"), work, batch_size=4, workers=2,
                                          loader=loader, pin_memory=True))
    assert [len(b.views["original"][0]) for b in batches] == [4, 2]
    for k, batch in enumerate(batches):
        host = torch.from_numpy(batch.views["original"][1])
        assert host.is_pinned()
        assert host.pin_memory().data_ptr() == host.data_ptr()  # pinning it again is no copy
        on_device = to_device(batch.views["original"][1], "cuda")
        np.testing.assert_array_equal(on_device.cpu().numpy(), np.stack(frames[4 * k:4 * k + 4]))


@pytest.mark.parametrize("spec", ["pixels", "motion,size=8", "pixels,frames=5"])
def test_weight_free_views_from_downsampled_frames_equal_views_made_first(spec):
    """pixels and motion downsample each clip once and make its views from the small frames; the
    result must be what downsampling each view made from the raw frames (evaluate.data.views) gives."""
    from types import SimpleNamespace

    from evaluate.data.views import VIEWS
    from evaluate.encoders.base import Encoder

    encoder = build_encoder(spec)
    frames = clips(4, t=6, size=48, seed=7)
    refs = [SimpleNamespace(clip_id=f"train-{i:06d}-falling") for i in range(4)]
    needs = [VIEWS, ("shuffled", "frame_mean"), ("original",), ("reversed", "single_frame", "frame_mean")]
    assert_same_views(collect_views(encoder.encode_views_async(refs, frames, needs)),
                      collect_views(Encoder.encode_views_async(encoder, refs, frames, needs)))


def test_encoders_of_one_batch_share_preprocessing_and_one_models_frame_vectors():
    """With the batch's memo, V-JEPA 2 and the album of the same preprocessing resize the frames once, and
    the album's readouts (time, trajectory) run one forward; every vector is what each computes alone."""
    from types import SimpleNamespace

    from evaluate.data.views import VIEWS

    names = ["random-vjepa2:tiny", "random-image:tiny", "random-image:tiny,pool=trajectory", "random-image:tiny,pool=mean"]
    frames = np.stack(clips(3, t=6, size=48, seed=5))
    refs = [SimpleNamespace(clip_id=f"train-{i:06d}-falling") for i in range(3)]
    needs = [VIEWS, ("original", "shuffled"), VIEWS]
    memo: dict = {}
    shared = {name: collect_views(build_encoder(name).encode_views_async(refs, frames, needs, memo)) for name in names}
    alone = {name: collect_views(build_encoder(name).encode_views_async(refs, frames, needs)) for name in names}
    for name in names:
        assert_same_views(shared[name], alone[name])
    preprocessed = [k for k in memo if k[0] == "device_views"]
    forwards = [k for k in memo if k[0][0] == "frame_vectors"]
    assert len(preprocessed) == 1  # one resize served the tubelet model and the album
    assert len(forwards) == len(VIEWS)  # one forward per view served the three album readouts
