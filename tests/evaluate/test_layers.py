"""Layer sweeps (``layers=``): one forward pass gives every requested layer, each cached as a
single-layer run would cache it, probed into rows of its own, and the standing layer chosen on
validation data only."""

import json

import numpy as np
import pytest

from evaluate.config import RunConfig
from evaluate.embed.base import Embedded
from evaluate.encoders import build_encoder, parse_spec
from evaluate.encoders.fast_vjepa2 import FastVJEPA2Encoder
from evaluate.errors import EncoderError
from evaluate.layers import choose_layers, standing_layer, standing_rows
from evaluate.probes import get_probe
from evaluate.report.layers import standing_payload
from evaluate.report.probe import render_html, render_markdown
from evaluate.results import Score
from evaluate.tasks.probe import run

SWEEP = "random-vjepa2:tiny,layers=all"  # tiny has 2 blocks


def clips(n=3, frames=8, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (frames, 40, 40, 3), dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize("forward", ["fast", "transformers"])
def test_sweep_embeddings_equal_single_layer_embeddings(forward):
    x = clips()
    sweep = build_encoder(f"{SWEEP},pool=time,forward={forward}")
    assert sweep.layers == [1, 2]
    both = sweep.encode(x)
    assert both.shape == (3, 2, 4 * 96)  # (clips, layers, time steps x hidden)
    for j, layer in enumerate(sweep.layers):
        single = build_encoder(f"random-vjepa2:tiny,pool=time,forward={forward},layer={layer}")
        assert np.array_equal(both[:, j], single.encode(x)), layer
        assert single.identity() == sweep.layer_identity(layer)  # the same cache key


def save_tiny(kind, directory):
    """A tiny DINOv2 (the album's image:) or VideoMAE checkpoint: 2 blocks, 48 wide."""
    from transformers import Dinov2Config, Dinov2Model, VideoMAEConfig, VideoMAEModel

    size = dict(patch_size=16, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)
    if kind == "image":
        Dinov2Model(Dinov2Config(image_size=32, **size)).save_pretrained(directory)
        (directory / "preprocessor_config.json").write_text(json.dumps({"crop_size": {"height": 32, "width": 32}}))
    else:
        VideoMAEModel(VideoMAEConfig(image_size=32, num_frames=4, tubelet_size=2, **size)).save_pretrained(directory)
    return f"{kind}:{directory}"


@pytest.mark.parametrize("kind", ["image", "random-image", "videomae"])
def test_album_and_videomae_sweeps_equal_their_single_layers(kind, tmp_path):
    spec = "random-image:tiny" if kind == "random-image" else save_tiny(kind, tmp_path / kind)
    x = clips(2)
    sweep = build_encoder(f"{spec},layers=all")
    both = sweep.encode(x)
    assert sweep.layers == [1, 2] and both.shape[:2] == (2, 2)
    for j, layer in enumerate(sweep.layers):
        single = build_encoder(f"{spec},layer={layer}")
        assert np.array_equal(both[:, j], single.encode(x)), layer
        assert single.identity() == sweep.layer_identity(layer)
    with pytest.raises(EncoderError, match=r"layers='5': 5 is out of range; .* 1\.\.2"):
        build_encoder(f"{spec},layers=5")


def test_layers_option_lists_blocks_and_refuses_bad_ones():
    spec = parse_spec("random-vjepa2:tiny,layers=2,1,pool=mean")  # the commas continue the list
    assert spec.options == {"layers": "2,1", "pool": "mean"}
    assert build_encoder(spec.text).layers == [1, 2]
    for text, message in [(f"{SWEEP},layer=1", "layer= and layers= together"),
                          ("random-vjepa2:tiny,layers=3", r"layers='3': 3 is out of range; .* 1\.\.2"),
                          ("random-vjepa2:tiny,layers=0", r"0 is out of range; .* 1\.\.2"),
                          ("random-vjepa2:tiny,layers=last", r"'last' is not a block number; .* 1\.\.2")]:
        with pytest.raises(EncoderError, match=message) as error:
            build_encoder(text)
        assert "\n" not in str(error.value)


def test_run_sweeps_layers_from_one_forward_and_shares_the_single_layer_cache(tiny_falling_rising, tmp_path,
                                                                              monkeypatch):
    embedded_rows = []
    embed = FastVJEPA2Encoder.embed

    def counting_embed(self, x):  # the patch embedding starts every forward pass
        embedded_rows.append(len(x))
        return embed(self, x)

    monkeypatch.setattr(FastVJEPA2Encoder, "embed", counting_embed)
    views, cache = ["original", "single_frame"], tmp_path / "cache"
    config = dict(datasets=[str(tiny_falling_rising)], views=views, targets=["direction", "vz_start"], device="cpu",
                  n_bootstrap=20, cache=str(cache))
    sweep = run(RunConfig(**config, encoders=[SWEEP], out=str(tmp_path / "sweep")))
    assert sum(embedded_rows) == 16 * len(views)  # each clip under each view went through the model once
    rows = {(r.target, r.fit_view, r.view, r.layer): r for r in sweep.results}
    assert {layer for *_, layer in rows} == {1, 2}
    assert all(r.encoder == SWEEP for r in sweep.results)
    assert {(m.layer, m.margin_type) for m in sweep.temporal_margins} == {(1, "static"), (2, "static")}
    lines = [json.loads(x) for x in (tmp_path / "sweep" / "predictions.jsonl").read_text().splitlines()]
    assert {line["layer"] for line in lines} == {1, 2}
    assert {(c.target, c.probe) for c in sweep.layer_choices} == {("direction", "linear"), ("vz_start", "linear")}
    assert all(set(c.validation_scores) == {1, 2} for c in sweep.layer_choices)

    # A single-layer run of layer 2 reads the sweep's cache: nothing is embedded again, the scores are the same.
    embedded_rows.clear()
    single = run(RunConfig(**config, encoders=["random-vjepa2:tiny,layer=2"], out=str(tmp_path / "single")))
    assert embedded_rows == [] and single.encoders[0].timings["cache_misses"] == 0
    for r in single.results:
        assert r.layer is None and r.value == rows[(r.target, r.fit_view, r.view, 2)].value
    assert single.layer_choices == []

    payload = json.loads((tmp_path / "sweep" / "results.json").read_text())
    assert "Score against depth" in render_markdown(payload)
    html = render_html(payload, lines)
    assert 'id="layers"' in html and "score against depth" in html
    # The report's other parts read the sweep at its standing layer: one margin row per encoder, never the last layer.
    standing = standing_payload(payload)["temporal_margins"]
    chosen = {(c["target"], c["probe"]): c["layer"] for c in payload["layer_choices"]}
    assert sorted(m["target"] for m in standing) == ["direction", "vz_start"]
    assert all(m["layer"] == chosen[(m["target"], m["probe"])] for m in standing)
    no_sweep = json.loads((tmp_path / "single" / "results.json").read_text())
    assert "Score against depth" not in render_markdown(no_sweep)


def planted_scores(test_values: dict[int, float]) -> list[Score]:
    """Two layers of one encoder: layer 1 is informative on train+val, layer 2 only on test (planted).
    Each row's probe_params come from fitting the linear probe on its layer's train+val features."""
    rng = np.random.default_rng(0)
    n = 60
    y = np.repeat(["a", "b"], n // 2)
    groups = np.arange(n)
    signal = (y == "a").astype(float)[:, None]
    features = {1: signal + 0.1 * rng.normal(size=(n, 4)), 2: rng.normal(size=(n, 4))}
    probe = get_probe("linear")
    out = []
    for layer, x in features.items():
        fit = probe.fit_predict("class", x, y, groups, x[:4])
        out.append(Score(dataset="d", target="t", kind="class", encoder="e,layers=all", layer=layer, view="original",
                         fit_view="original", probe="linear", metric="balanced_accuracy", value=test_values[layer],
                         ci95=[0.0, 1.0], chance=0.5, n_train=n, n_test=4, test_groups=4, unit=None,
                         probe_params=fit.params))
    return out


def test_the_standing_layer_is_chosen_on_validation_scores_never_on_test():
    for test_values in ({1: 0.5, 2: 1.0}, {1: 1.0, 2: 0.0}):  # whatever the test scores say
        [choice] = choose_layers(planted_scores(test_values))
        assert choice.layer == 1
        assert choice.validation_scores[1] > 0.9 > choice.validation_scores[2]
        assert "grouped K-fold CV score on train+val" in choice.criterion


def test_standing_rows_keep_the_chosen_layer_and_every_unswept_row():
    scores = planted_scores({1: 0.5, 2: 1.0})
    choices = choose_layers(scores)
    unswept = {"dataset": "d", "target": "t", "encoder": "pixels", "probe": "linear", "layer": None}
    kept = standing_rows([*scores, unswept], choices)
    assert [getattr(r, "layer", None) for r in kept] == [1, None]
    as_json = [c.row() for c in choices]  # results.json's list works as well as the records
    assert standing_layer(as_json, "d", "t", "e,layers=all", "linear") == 1
    assert standing_layer(as_json, "d", "t", "pixels", "linear") is None
    lines = [{**unswept, "encoder": "e,layers=all", "layer": layer} for layer in (1, 2)]
    assert [line["layer"] for line in standing_rows(lines, as_json)] == [1]


def test_embedded_splits_into_one_record_per_layer(tmp_path):
    folders = {("d", "original"): {1: tmp_path / "a", 3: tmp_path / "b"}}
    record = Embedded("e,layers=1,3", {}, [], folders, {"load_s": 1.0})
    layers = record.by_layer()
    assert [(r.layer, r.groups[("d", "original")]) for r in layers] == [(1, tmp_path / "a"), (3, tmp_path / "b")]
    layers[1].timings["probe_s"] = 2.0  # timings are the encoder's, shared by its layers
    assert record.timings["probe_s"] == 2.0
    plain = Embedded("pixels", {}, [], {("d", "original"): tmp_path / "c"}, {})
    assert plain.by_layer() == [plain]
