"""The 3D kernels: cnn3d:<checkpoint> and random-cnn3d[:size].

The key-list fixtures (tests/evaluate/fixtures/cnn3d/*.json) hold every tensor name and shape of the reference
implementations' state dicts (torchvision 0.29.1, pytorchvideo 0.1.5), into which their hubs load the published
files with strict=True; they were dumped from those libraries, which cannot be installed beside the pinned torch.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from evaluate.encoders import build_encoder
from evaluate.encoders.cnn3d.recipes import CHECKPOINTS, Recipe, build_network, preprocess_clips
from evaluate.encoders.cnn3d.weights import load_strict
from evaluate.errors import EncoderError, WeightsMissingError
from tests.evaluate.test_cli import cli
from tests.evaluate.test_encoders import clips as random_clips

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FIXTURES = Path(__file__).parent / "fixtures" / "cnn3d"


@pytest.mark.parametrize("name", list(CHECKPOINTS))
def test_parameter_names_and_shapes_match_the_published_key_lists(name):
    fixture = json.loads((FIXTURES / f"{name}.json").read_text())
    assert fixture["checkpoint"] == name
    network = build_network(name)
    ours = {k: list(v.shape) for k, v in network.state_dict().items()}
    assert sorted(set(fixture["tensors"]) - set(ours)) == []  # nothing of the file left out
    assert sorted(set(ours) - set(fixture["tensors"])) == []  # nothing the file lacks
    assert ours == fixture["tensors"]


def test_every_checkpoint_has_its_fixture():
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(CHECKPOINTS)


@pytest.fixture(scope="module")
def x3d_xs_files(tmp_path_factory):
    """X3D-XS's network with seeded weights, saved as PyTorchVideo publishes it (under "model_state") and as a
    plain state dict (torchvision's form); the smallest published architecture (3.8 M parameters)."""
    import torch

    torch.manual_seed(0)
    network = build_network("x3d_xs")
    with torch.no_grad():  # running statistics away from 0 and 1, so a lost buffer would show
        for name, tensor in network.state_dict().items():
            if name.endswith(("running_mean", "running_var")):
                tensor.uniform_(0.5, 1.5)
    directory = tmp_path_factory.mktemp("cnn3d")
    wrapped, plain = directory / "X3D_XS.pyth", directory / "plain.pth"
    torch.save({"model_state": network.state_dict(), "epoch": 300}, wrapped)
    torch.save(network.state_dict(), plain)
    return network, wrapped, plain


def test_published_file_loads_strictly_in_either_wrapping(x3d_xs_files):
    from evaluate.encoders.hf import module_digest

    network, wrapped, plain = x3d_xs_files
    a = build_encoder(f"cnn3d:x3d_xs,weights={wrapped}")
    b = build_encoder(f"cnn3d:x3d_xs,weights={plain}")
    assert a.role == "3d-kernel"
    assert a.encoder_sha256 == b.encoder_sha256 == module_digest(network)
    for key, tensor in network.state_dict().items():
        assert np.array_equal(a.network.state_dict()[key].numpy(), tensor.numpy()), key
    x = random_clips(2, 16, 48)
    np.testing.assert_array_equal(a.encode(x), b.encode(x))
    assert a.identity()["checkpoint"]["file"] == "X3D_XS.pyth"


def test_a_file_that_differs_is_refused_in_one_line(x3d_xs_files, tmp_path):
    import torch

    network, _, _ = x3d_xs_files
    state = network.state_dict()
    first = next(iter(state))
    cases = {
        "missing": {k: v for k, v in state.items() if k != first},
        "unexpected": {**state, "blocks.9.extra.weight": torch.zeros(3)},
        "of another shape": {**state, first: torch.zeros(1, 2, 3)},
    }
    for what, broken in cases.items():
        path = tmp_path / f"{what.replace(' ', '_')}.pth"
        torch.save({"model_state": broken}, path)
        with pytest.raises(EncoderError) as info:
            build_encoder(f"cnn3d:x3d_xs,weights={path}")
        message = str(info.value)
        assert "\n" not in message and f"1 tensor(s) {what}" in message and str(path) in message
        if what != "unexpected":
            assert first in message
    (tmp_path / "not_weights.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(EncoderError, match="cannot read"):
        build_encoder(f"cnn3d:x3d_xs,weights={tmp_path / 'not_weights.pth'}")


def test_strict_load_tolerates_only_a_missing_batch_norm_counter():
    network = build_network("x3d_xs")
    state = {k: v for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    load_strict("cnn3d:x3d_xs", network, state, "old.pth")  # torch fills the counters, as load_state_dict does


def test_weights_not_on_this_machine_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMGEN_CNN3D_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsMissingError) as info:  # HF_HUB_OFFLINE=1 in the tests: no download is tried
        build_encoder("cnn3d:r3d_18")
    message = str(info.value)
    assert "\n" not in message and "r3d_18-b3b3357e.pth" in message and str(tmp_path / "mine") in message
    assert "https://download.pytorch.org/models/r3d_18-b3b3357e.pth" in message and "weights=" in message
    with pytest.raises(WeightsMissingError, match="no such file"):
        build_encoder(f"cnn3d:r3d_18,weights={tmp_path / 'nowhere.pth'}")
    with pytest.raises(EncoderError, match="did you mean 'slowfast_r50'"):
        build_encoder("cnn3d:slowfast")


def test_a_file_in_the_weights_folder_is_found(x3d_xs_files, tmp_path, monkeypatch):
    import shutil

    _, wrapped, _ = x3d_xs_files
    shutil.copy(wrapped, tmp_path / CHECKPOINTS["x3d_xs"].filename)
    monkeypatch.setenv("SIMGEN_CNN3D_DIR", str(tmp_path))
    assert build_encoder("cnn3d:x3d_xs").identity()["checkpoint"]["file"] == "X3D_XS.pyth"


# (name, frames, side): a small input each network takes; its head width; time steps its head keeps.
SMALL_INPUTS = {"r3d_18": (8, 32, 512, 1), "mc3_18": (8, 32, 512, 8), "r2plus1d_18": (8, 32, 512, 1),
                "i3d_r50": (8, 32, 2048, 4), "slowfast_r50": (16, 32, 2304, 4), "x3d_xs": (4, 32, 2048, 4)}


@pytest.mark.parametrize("name", list(SMALL_INPUTS))
def test_readout_shapes_of_each_family(name):
    import torch

    frames, side, width, steps = SMALL_INPUTS[name]
    network = build_network(name).eval()
    x = torch.randn(2, 3, frames, side, side)
    with torch.inference_mode():
        (head_time,) = network.features(x, None, keep_time=True)
        (head_mean,) = network.features(x, None, keep_time=False)
        stages = network.features(x, [0, 1, 2, 3, 4], keep_time=True)
    assert head_time.shape == (2, width, steps) and head_mean.shape == (2, width, 1)
    assert len(stages) == 5 and stages[-1].shape[1] == (width if name not in ("x3d_xs",) else 192)
    if name != "x3d_xs":  # the ResNets' head is the last stage averaged (no projection before fc)
        torch.testing.assert_close(head_mean[..., 0], stages[-1].mean(dim=-1), rtol=1e-4, atol=1e-5)


def test_slowfast_takes_its_slow_frames_at_alpha():
    import torch

    from evaluate.encoders.cnn3d.slowfast import ALPHA, SlowFast

    x = torch.arange(32.0).view(1, 1, 32, 1, 1).expand(1, 3, 32, 2, 2)
    slow, fast = SlowFast.pathways(x)
    assert ALPHA == 4 and fast is x
    # PyTorchVideo's PackPathway: torch.linspace(0, T - 1, T // alpha).long()
    assert slow[0, 0, :, 0, 0].tolist() == [0, 4, 8, 13, 17, 22, 26, 31]


def test_preprocessing_follows_each_recipe():
    import torch

    tv, ptv = CHECKPOINTS["r3d_18"].recipe, CHECKPOINTS["slowfast_r50"].recipe
    assert (tv.frames, tv.step, tv.resize, tv.crop, tv.mean[0]) == (16, 2, (128, 171), 112, 0.43216)
    assert (ptv.frames, ptv.step, ptv.short_side, ptv.crop, ptv.alpha, ptv.mean) == (32, 2, 256, 256, 4, (0.45,) * 3)
    assert CHECKPOINTS["x3d_m"].recipe.frames == 16 and CHECKPOINTS["x3d_m"].recipe.step == 5
    # A 128x171 frame is not resized; the 112 crop starts at row 8 and column round(29.5) = 30.
    columns = np.broadcast_to(np.arange(171, dtype=np.uint8)[None, :, None], (128, 171, 3))
    x = torch.from_numpy(np.stack([columns] * 2)[None].copy())  # (1, 2, 128, 171, 3)
    out = preprocess_clips(x, tv, torch.float32)
    assert out.shape == (1, 3, 2, 112, 112)
    expected = (np.arange(30, 142) / 255 - tv.mean[0]) / tv.std[0]
    np.testing.assert_allclose(out[0, 0, 0, 0].numpy(), expected, rtol=1e-5, atol=1e-6)
    # The short side to 256 keeps the aspect (floor of the long side), then the centre 256x256.
    assert ptv.resized_size(64, 96) == (256, 384) and ptv.resized_size(90, 60) == (384, 256)
    grey = torch.full((1, 1, 64, 96, 3), 115, dtype=torch.uint8)
    out = preprocess_clips(grey, ptv, torch.float32)
    assert out.shape == (1, 3, 1, 256, 256)
    torch.testing.assert_close(out, torch.full_like(out, (115 / 255 - 0.45) / 0.225))
    with pytest.raises(ValueError, match="smaller than the 112 crop"):
        preprocess_clips(x, Recipe(None, None, 112, tv.mean, tv.std, resize=(100, 100)), torch.float32)


def test_frames_and_step_default_to_the_recipe(x3d_xs_files):
    _, wrapped, _ = x3d_xs_files
    assert (build_encoder(f"cnn3d:x3d_xs,weights={wrapped}").frames,
            build_encoder(f"cnn3d:x3d_xs,weights={wrapped}").step) == (4, 12)
    own = build_encoder(f"cnn3d:x3d_xs,weights={wrapped},frames=6")
    assert (own.frames, own.step) == (6, None)
    assert own.encode(random_clips(1, 12, 48)).shape == (1, 6 * 2048)  # pool=time: X3D keeps every frame


def test_random_cnn3d_is_deterministic_and_tiny():
    import torch

    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    enc = build_encoder("random-cnn3d:tiny")
    assert torch.rand(1) == before  # the caller's random state is left alone
    assert enc.role == "3d-kernel" and enc.kind == "random-cnn3d"
    assert sum(p.numel() for p in enc.network.parameters()) < 300_000
    x = random_clips(3, 8, 64)
    a = enc.encode(x)
    assert a.shape == (3, 64) and a.dtype == np.float32 and np.isfinite(a).all() and a.std() > 0
    np.testing.assert_array_equal(a, build_encoder("random-cnn3d:tiny").encode(x))
    other = build_encoder("random-cnn3d:tiny,seed=1")
    assert other.encoder_sha256 != enc.encoder_sha256 and not np.allclose(other.encode(x), a)
    assert build_encoder("random-cnn3d:tiny,pool=mean").encode(random_clips(1, 32, 64)).shape == (1, 64)
    assert build_encoder("random-cnn3d:tiny").encode(random_clips(1, 32, 64)).shape == (1, 4 * 64)
    assert build_encoder("random-cnn3d:tiny,layer=1").encode(random_clips(1, 32, 64)).shape == (1, 32 * 8)
    assert enc.identity() != build_encoder("random-cnn3d:tiny,layer=-1").identity()


def test_bad_options_are_one_line():
    for spec, words in (("random-cnn3d:huge", "unknown size"), ("random-cnn3d:tiny,pool=tokens", "pool=time"),
                        ("random-cnn3d:tiny,layer=5", "out of range"), ("cnn3d", "needs a checkpoint"),
                        ("random-cnn3d:tiny,layers=all", "unknown option")):
        with pytest.raises(EncoderError, match=words):
            build_encoder(spec)


def test_evaluate_run_puts_the_3d_kernel_in_the_verdict(tiny_falling_rising, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    encoders = ["random-vjepa2:tiny", "random-cnn3d:tiny", "pixels,size=8"]
    code, _, err = cli(monkeypatch, capsys, "run", tiny_falling_rising, *(a for e in encoders for a in ("-e", e)),
                       "--out", out, "--target", "direction", "--bootstrap", "50", "--device", "cpu")
    assert code == 0, err
    payload = json.loads((out / "results.json").read_text())
    roles = {e["encoder"]: e["role"] for e in payload["encoders"]}
    assert roles == {"random-vjepa2:tiny": "tubelet", "random-cnn3d:tiny": "3d-kernel", "pixels,size=8": "pixels"}
    rows = [r for r in payload["results"] if r["encoder"] == "random-cnn3d:tiny"]
    assert {r["view"] for r in rows} >= {"original", "shuffled", "single_frame"}
    pairs = {(c["a"], c["b"]) for c in payload["comparisons"]}
    # Each pair has the earlier role as side a: tubelet, then 3D kernel, then pixels.
    assert pairs == {("random-vjepa2:tiny", "random-cnn3d:tiny"), ("random-vjepa2:tiny", "pixels,size=8"),
                     ("random-cnn3d:tiny", "pixels,size=8")}
    against = [v["opponent_role"] for v in payload["verdict"]]
    assert set(against) == {"3d-kernel", "pixels"}
    report = (out / "report.md").read_text()
    assert "3D kernel" in report
    code, stdout, _ = cli(monkeypatch, capsys, "ls")
    assert code == 0 and "cnn3d" in stdout and "random-cnn3d" in stdout


def test_every_encoder_declares_a_role_of_the_vocabulary():
    from evaluate.encoders import ENCODERS
    from evaluate.roles import ROLE_LABELS, ROLES

    for kind, cls in ENCODERS.items():
        assert cls.role in ROLES, kind
    assert ENCODERS["cnn3d"].role == ENCODERS["random-cnn3d"].role == "3d-kernel"
    assert [ROLE_LABELS[r] for r in ROLES] == ["tubelet", "3D kernel", "frame-tokenizer", "album", "LLM album",
                                              "pixels", "control"]


def test_the_verdict_table_groups_lines_by_what_the_opponent_stands_for():
    from evaluate.report.verdict import summary, verdict_table

    def line(opponent, role, call):
        diff = {"a": 0.2, "b": -0.2, "tie": 0.0}[call]
        original = {"diff": diff, "ci95": [diff - 0.1, diff + 0.1], "test_groups": 20, "a": "v", "b": opponent,
                    "a_value": 0.7, "b_value": 0.7 - diff, "p": 0.01, "p_adjusted": 0.02, "call": call}
        return {"dataset": "d", "target": "t", "probe": "linear", "tubelet": "v", "opponent": opponent,
                "opponent_role": role, "certified": "certified", "original": original, "static_margin": None}

    rows = [line("image", "album", "a"), line("pixels", "pixels", "tie"), line("cnn3d:r3d_18", "3d-kernel", "b"),
            line("random-image:tiny", "album", "tie")]
    payload = {"verdict": rows, "encoders": [], "comparisons": []}
    table = verdict_table(payload)
    assert [r[0] for r in table.rows] == ["3D kernel", "album", "album", "pixels"]
    assert [r[5] for r in table.rows] == ["cnn3d:r3d_18", "image", "random-image:tiny", "pixels"]
    text = " ".join(summary(payload))
    assert ("against the 3D kernel, ahead 0, behind 1, tied 0; against the album, ahead 1, behind 0, tied 1; "
            "against the pixels, ahead 0, behind 0, tied 1") in text
