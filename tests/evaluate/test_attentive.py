"""The attentive probe: it finds one informative token among many (where a mean-pooled linear probe
cannot), its options, and the runner path with pool=tokens (float16 token cache, val selection)."""

import json

import numpy as np
import pytest

from evaluate.config import RunConfig
from evaluate.probes import get_probe
from evaluate.probes.attentive import default_size
from evaluate.tasks.probe import run


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def marker_tokens(n, rng, tokens=16, dim=32):
    """Noise tokens; one token at a random place carries the class: +6 on dim 0 (a) or dim 1 (b)."""
    x = rng.normal(size=(n, tokens, dim)).astype(np.float16)
    y = rng.integers(0, 2, n)
    x[np.arange(n), rng.integers(0, tokens, n), y] += 6
    return x, np.array(["a", "b"])[y]


def test_attentive_finds_the_one_token_that_matters():
    rng = np.random.default_rng(0)
    x_train, y_train = marker_tokens(448, rng)
    x_test, y_test = marker_tokens(128, rng)
    groups = np.arange(len(x_train))
    is_val = groups >= 384
    fit = get_probe("attentive,epochs=25,lrs=1e-3,wds=0.01:0.1").fit_predict("class", x_train, y_train, groups,
                                                                             x_test, is_val=is_val)
    attentive = np.mean(fit.y_pred == y_test)
    linear = np.mean(get_probe("linear").fit_predict("class", x_train, y_train, groups, x_test).y_pred == y_test)
    assert attentive >= 0.95 and linear <= 0.9, (attentive, linear)
    assert fit.params["selection"] == "val split" and fit.params["n_val"] == 64 and len(fit.params["grid"]) == 2
    assert fit.params["val_score"] == max(g["val_score"] for g in fit.params["grid"])


def test_attentive_regression_and_holdout_without_val():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(448, 4, 8)).astype(np.float32)
    y = 2.0 * x[:, :, 0].max(axis=1) + 1.0  # a max over tokens: not linear in the mean
    groups = np.arange(384) // 2
    fit = get_probe("attentive,epochs=60,lrs=3e-3,wds=0.01").fit_predict("regression", x[:384], y[:384], groups,
                                                                         x[384:])
    assert "grouped holdout" in fit.params["selection"]
    linear = get_probe("linear").fit_predict("regression", x[:384], y[:384], groups, x[384:])

    def r2(pred):
        return 1 - np.mean((pred - y[384:]) ** 2) / np.var(y[384:])

    assert r2(fit.y_pred) > 0.45 and r2(fit.y_pred) > r2(linear.y_pred) + 0.1  # linear reads the token mean


def test_sizes_and_options():
    assert default_size(1024) == (4, 16)  # V-JEPA 2's frozen-eval probe at ViT-L width
    assert default_size(384) == (1, 4) and default_size(48) == (1, 1)
    with pytest.raises(ValueError, match="did you mean 'epochs'"):
        get_probe("attentive,epoch=3")
    with pytest.raises(ValueError, match="linear takes no options"):
        get_probe("linear,C=1")


def test_run_with_token_features(falling_rising_64, tmp_path):
    out = tmp_path / "run"
    payload = run(RunConfig(datasets=[str(falling_rising_64)], encoders=["random-vjepa2:tiny,pool=tokens"],
                            out=str(out), views=["original", "frame_mean"],
                            probes=["linear", "attentive,epochs=3,lrs=1e-3,wds=0.01"],
                            targets=["direction", "vz_start"], device="cpu", n_bootstrap=20)).row()
    probes = {(r["probe"], r["target"], r["view"]) for r in payload["results"]}
    assert len(probes) == 2 * 2 * 2
    att = [r for r in payload["results"] if r["probe"].startswith("attentive")]
    assert all(r["probe_params"]["selection"] == "val split" and r["probe_params"]["tokens"] == 4 * 2 * 2 for r in att)
    # The time steps come from the encoder's token_grid (2 x 2 tokens a step) in the cache key: 8 frames / tubelet 2.
    assert all(r["probe_params"]["time_steps"] == 4 and "token_grid 2x2" in r["probe_params"]["time_steps_from"]
               for r in att)
    cached = list((out / "embeddings").rglob("*.npy"))
    assert len(cached) == 64 * 2
    tokens = np.load(cached[0])
    assert tokens.dtype == np.float16 and tokens.shape == (16, 96)  # (8 frames / 2) x 2 x 2 tokens, hidden 96
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert {p["probe"] for p in lines} == {"linear", "attentive,epochs=3,lrs=1e-3,wds=0.01"}


def order_tokens(n, rng, steps=4, per_step=4, dim=32):
    """Clips whose tokens differ from their time reversal's only in order. Each clip has a random base
    vector; time step t holds it plus t·1.5 along dim 0 (a quantity that grows over the clip, as height
    falls), each token with its own noise. Class "forward" is in time order, "reversed" is the same
    steps last to first: the same set of tokens, so a probe blind to order is at chance."""
    base = rng.normal(size=(n, 1, 1, dim))
    ramp = np.zeros((1, steps, 1, dim))
    ramp[0, :, 0, 0] = 1.5 * np.arange(steps)
    x = base + ramp + 0.3 * rng.normal(size=(n, steps, per_step, dim))
    y = rng.integers(0, 2, n)
    x[y == 1] = x[y == 1, ::-1]
    return x.reshape(n, steps * per_step, dim).astype(np.float16), np.array(["forward", "reversed"])[y]


def test_time_step_embeddings_tell_a_clip_from_its_reversal():
    rng = np.random.default_rng(3)
    x_train, y_train = order_tokens(448, rng)
    x_test, y_test = order_tokens(128, rng)
    groups = np.arange(len(x_train))
    is_val = groups >= 384

    def accuracy(options):
        fit = get_probe(f"attentive,epochs=25,lrs=1e-3,wds=0.01{options}").fit_predict(
            "class", x_train, y_train, groups, x_test, is_val=is_val)
        return np.mean(fit.y_pred == y_test), fit.params

    ordered, params = accuracy(",time_steps=4")
    blind, blind_params = accuracy(",time_steps=1")  # one embedding for every token: no order
    linear = np.mean(get_probe("linear").fit_predict("class", x_train, y_train, groups, x_test).y_pred == y_test)
    assert ordered >= 0.9 and blind <= 0.65 and linear <= 0.65, (ordered, blind, linear)
    assert (params["time_steps"], params["time_steps_from"]) == (4, "option")
    assert blind_params["time_steps"] == 1
    # Without the option or a cache key, each token gets its own position: order is still readable.
    per_token, auto = accuracy("")
    assert auto["time_steps"] == 16 and "one position per token" in auto["time_steps_from"] and per_token >= 0.9
    with pytest.raises(Exception, match="does not divide"):
        accuracy(",time_steps=3")
    with pytest.raises(ValueError, match="time_steps=0; a whole number from 1"):
        get_probe("attentive,time_steps=0")
