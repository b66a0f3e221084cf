"""simgen's V-JEPA 2 forward against transformers' own, on the same weights."""

import numpy as np
import pytest
import torch
from transformers import VJEPA2Config, VJEPA2Model
from transformers.models.vjepa2.modeling_vjepa2 import VJEPA2RopeAttention

from evaluate.encoders import build_encoder
from evaluate.encoders.fast_vjepa2 import FastVJEPA2Encoder, attention_kernels, rope_tables, rotate, tubelets
from evaluate.errors import EncoderError
from tests.evaluate.conftest import TINY_VJEPA2


def tiny_model(seed=0, dtype=torch.float32, **overrides) -> VJEPA2Model:
    torch.manual_seed(seed)
    config = VJEPA2Config(**{**TINY_VJEPA2, "attn_implementation": "sdpa", **overrides})
    return VJEPA2Model(config).eval().to(dtype)


def video(model, batch=3, frames=8, seed=1, dtype=torch.float32) -> torch.Tensor:
    crop = model.config.crop_size  # positions are the config's grid: inputs must be at crop size
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, 3, crop, crop, generator=g).to(dtype)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm())


# head_dim 12 rotates every dimension; 16 and 20 leave 4 and 2 unrotated at the end.
@pytest.mark.parametrize("hidden,heads", [(48, 4), (64, 4), (80, 4)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rotation_is_bit_identical_to_transformers(hidden, heads, dtype):
    config = VJEPA2Config(**{**TINY_VJEPA2, "hidden_size": hidden, "num_attention_heads": heads})
    attention = VJEPA2RopeAttention(config, hidden, heads)
    tokens = 4 * (config.crop_size // config.patch_size) ** 2  # 4 tubelet steps of a 2x2 grid
    head_dim = hidden // heads
    x = torch.randn(2, heads, tokens, head_dim).to(dtype)
    theirs = attention.apply_rotary_embeddings(x, attention.get_position_ids(torch.zeros(2, tokens, hidden)))
    cos, sin = rope_tables(config, tokens, dtype, "cpu")
    ours = rotate(x.transpose(1, 2), cos[:, None], sin[:, None]).transpose(1, 2)
    assert torch.equal(ours, theirs)


def test_forward_equals_transformers_in_float32():
    model = tiny_model()
    x = video(model)
    with torch.inference_mode():
        theirs = model(pixel_values_videos=x, skip_predictor=True, output_hidden_states=True)
        fast = FastVJEPA2Encoder(model)
        ours = fast(x)
        assert ours.shape == theirs.last_hidden_state.shape
        assert relative_error(ours, theirs.last_hidden_state) < 1e-5
        # Every hidden state as transformers numbers them (0: patch embedding; before the final norm).
        layers = len(theirs.hidden_states)
        for layer in [0, 1, 2, -1, -2]:
            assert relative_error(fast(x, layer=layer), theirs.hidden_states[layer]) < 1e-5, layer
        for layer in (layers, -layers):  # as transformers' hidden_states, which has L + 1 entries
            with pytest.raises(IndexError, match="out of range"):
                fast(x, layer=layer)


def test_forward_within_bf16_tolerance_of_transformers():
    model = tiny_model(dtype=torch.bfloat16)
    x = video(model, dtype=torch.bfloat16)
    with torch.inference_mode():
        theirs = model(pixel_values_videos=x, skip_predictor=True).last_hidden_state
        ours = FastVJEPA2Encoder(model)(x)
    assert ours.dtype == torch.bfloat16
    assert relative_error(ours, theirs) < 1e-2


def test_patch_embedding_as_one_product_equals_the_conv():
    """The GPU's patch embedding (unfolded tubelets times the conv weight as a matrix), checked here
    on the CPU against the Conv3d it replaces."""
    model = tiny_model()
    conv = model.encoder.embeddings.patch_embeddings.proj
    x = video(model)
    with torch.inference_mode():
        theirs = model.encoder.embeddings(x)
        ours = torch.nn.functional.linear(tubelets(x, 2, 16), conv.weight.view(conv.weight.shape[0], -1), conv.bias)
    assert ours.shape == theirs.shape
    assert relative_error(ours, theirs) < 1e-6


def test_fusing_keeps_one_copy_of_the_weights_and_the_model_unchanged():
    model = tiny_model()
    x = video(model, batch=1)
    with torch.inference_mode():
        before = model(pixel_values_videos=x, skip_predictor=True).last_hidden_state.clone()
        fast = FastVJEPA2Encoder(model)
        after = model(pixel_values_videos=x, skip_predictor=True).last_hidden_state
    assert torch.equal(before, after)
    attention = model.encoder.layer[0].attention
    fused = fast.layers[0][2]
    d = model.config.hidden_size
    assert attention.query.weight.data_ptr() == fused.data_ptr()
    assert attention.value.weight.data_ptr() == fused[2 * d:].data_ptr()
    assert fast.patch_w.data_ptr() == model.encoder.embeddings.patch_embeddings.proj.weight.data_ptr()


def test_attention_kernels_are_read_off_the_profiler():
    model = tiny_model()
    fast = FastVJEPA2Encoder(model)
    x = video(model, batch=1)
    with torch.inference_mode():
        kernels = attention_kernels(lambda: fast(x))
    assert kernels and all("scaled_dot_product" in k for k in kernels)
    assert not any("math" in k for k in kernels)  # the CPU's flash kernel, not the unfused fallback


def test_encoder_forward_option(tiny_vjepa2):
    rng = np.random.default_rng(0)
    clips = [rng.integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8) for _ in range(3)]
    fast = build_encoder(f"vjepa2:{tiny_vjepa2}")
    reference = build_encoder(f"vjepa2:{tiny_vjepa2},forward=transformers")
    assert fast.fast is not None and reference.fast is None
    np.testing.assert_allclose(fast.encode(clips), reference.encode(clips), rtol=1e-4, atol=1e-5)
    # Embeddings of the two forwards are cached apart (in bf16 they differ in rounding).
    assert fast.identity() != reference.identity()
    for spec in ("pool=time", "layer=1", "layer=-1"):
        np.testing.assert_allclose(build_encoder(f"vjepa2:{tiny_vjepa2},{spec}").encode(clips),
                                   build_encoder(f"vjepa2:{tiny_vjepa2},{spec},forward=transformers").encode(clips),
                                   rtol=1e-4, atol=1e-5, err_msg=spec)
    with pytest.raises(EncoderError, match="forward=fast or forward=transformers"):
        build_encoder(f"vjepa2:{tiny_vjepa2},forward=flash")
    with pytest.raises(EncoderError, match="compile=1 applies to forward=fast"):
        build_encoder(f"vjepa2:{tiny_vjepa2},forward=transformers,compile=1")


def test_compiled_forward_pads_smaller_batches_to_one_shape(tiny_vjepa2):
    """compile=1 (the default on CUDA; here on the CPU, one ~20 s compile): a smaller batch is padded to
    the largest seen, so it reuses the compiled shape, and every clip's embedding is its own."""
    rng = np.random.default_rng(0)
    clips = [rng.integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8) for _ in range(5)]
    compiled = build_encoder(f"vjepa2:{tiny_vjepa2},compile=1")
    eager = build_encoder(f"vjepa2:{tiny_vjepa2}")
    assert compiled.compiled and not eager.compiled and compiled.identity() != eager.identity()
    full, rest = compiled.encode(clips[:3]), compiled.encode(clips[3:])
    assert compiled.padded_batch == {(8, 3, 32, 32): 3} and rest.shape == (2, 4 * 48)  # pool=time
    np.testing.assert_allclose(np.concatenate([full, rest]), eager.encode(clips), rtol=1e-4, atol=1e-5)


def test_batches_are_padded_per_clip_shape(tiny_vjepa2):
    """A smaller batch is padded up to the largest batch of its own clip shape only: 2 clips of 4
    frames after 3 of 8 run as 2 (the padding logic, with the fast forward recorded, not compiled)."""
    rng = np.random.default_rng(0)
    encoder = build_encoder(f"vjepa2:{tiny_vjepa2}")
    encoder.compiled = True  # as compile=1 would set it; the forward stays eager here
    seen, forward = [], encoder.fast
    encoder.fast = lambda x, layer=None: seen.append(len(x)) or forward(x, layer=layer)
    long, short = ([rng.integers(0, 256, size=(t, 32, 32, 3), dtype=np.uint8) for _ in range(n)]
                   for t, n in ((8, 5), (4, 2)))
    out = [encoder.encode(long[:3]), encoder.encode(short), encoder.encode(long[3:])]
    assert seen == [3, 2, 3] and [len(o) for o in out] == [3, 2, 2]
    encoder.compiled, encoder.fast = False, forward
    np.testing.assert_allclose(out[2], encoder.encode(long[3:]), rtol=1e-5, atol=1e-6)


def test_a_failing_compile_is_one_line_not_a_traceback(tiny_vjepa2, monkeypatch):
    """compile=1 where torch.compile cannot work (no compiler toolchain, say): the first forward's failure
    becomes an EncoderError that says to pass compile=0."""
    encoder = build_encoder(f"vjepa2:{tiny_vjepa2},compile=1")

    def broken(*args, **kwargs):
        raise RuntimeError("InductorError: no working C compiler\n(long backtrace)")

    monkeypatch.setattr(encoder.fast, "block", broken)
    clip = np.zeros((8, 32, 32, 3), np.uint8)
    with pytest.raises(EncoderError, match="torch.compile failed on this machine .*no working C compiler.*compile=0"):
        encoder.encode([clip])


def test_random_giant_is_vjepa2_vitg():
    from evaluate.encoders.vjepa2 import random_config

    config = random_config("giant")
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (1408, 40, 22)
    assert int(config.hidden_size * config.mlp_ratio) == 6144  # the checkpoint's MLP width


@pytest.mark.gpu
@pytest.mark.parametrize("compile", [False, True])
def test_fast_forward_is_as_accurate_as_transformers_at_full_size_on_cuda(compile):
    """ViT-L, 16 frames at 256², random weights drawn on the device. In bf16 the two forwards round
    differently, by ~1.4e-2 relative after 24 random-weight layers (seen on an H200), so the yardstick
    is the exact answer: the same weights and inputs in float32. simgen's bf16 forward, eager or
    compiled, must be no further from it than transformers' own bf16 forward (10% slack), and must
    attend with a fused kernel, not the math fallback."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from evaluate.encoders.vjepa2 import random_config, random_model

    model = random_model(random_config("large"), seed=0, device="cuda")
    x = torch.randn(2, 16, 3, 256, 256, device="cuda")
    with torch.inference_mode():
        exact = model(pixel_values_videos=x, skip_predictor=True).last_hidden_state
        model.to(torch.bfloat16)
        xb = x.to(torch.bfloat16)
        theirs = model(pixel_values_videos=xb, skip_predictor=True).last_hidden_state
        fast = FastVJEPA2Encoder(model, compile=compile)
        ours = fast(xb)
        kernels = attention_kernels(lambda: fast(xb))
    their_error, our_error = relative_error(theirs, exact), relative_error(ours, exact)
    assert our_error <= 1.1 * their_error + 1e-3, (our_error, their_error)
    assert our_error < 5e-2
    assert kernels and not any("math" in k for k in kernels), kernels


def test_hidden_states_of_a_sweep_equal_transformers_from_one_pass():
    """hidden_states(x, layers): every requested layer from one pass, each equal to transformers'
    hidden_states[layer], and the same as asking for that layer alone."""
    model = tiny_model(num_hidden_layers=3)
    x = video(model)
    with torch.inference_mode():
        theirs = model(pixel_values_videos=x, skip_predictor=True, output_hidden_states=True).hidden_states
        fast = FastVJEPA2Encoder(model)
        layers = [3, 1, 0, -2]
        ours = fast.hidden_states(x, layers)
        for layer, state in zip(layers, ours, strict=True):
            assert relative_error(state, theirs[layer]) < 1e-5, layer
            assert torch.equal(state, fast(x, layer=layer)), layer
        with pytest.raises(IndexError, match="out of range"):
            fast.hidden_states(x, [1, 4])
