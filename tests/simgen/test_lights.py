"""Lights family: blinks and tracks measured on the rendered video, matched marginals, Nyquist check."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from simgen.families import FAMILIES
from simgen.physics.labels import frame_record
from simgen.physics.trajectory import Lighting
from simgen.physics.world import World
from simgen.render.renderer import sample_camera
from simgen.run.engine import group_rngs, plan, render_group
from simgen.run.parallel import render_dataset
from simgen.spec import SpecError, parse_spec
from tests.conftest import file_hashes, tiny_spec_dict

FPS = 24


def spec_with(frames=64, size=128, counts=(8, 0, 0), **params):
    params.setdefault("n_distractors", 0)
    params.setdefault("radius", 0.5)
    return parse_spec(tiny_spec_dict("lights", frames=frames, size=size, fps=FPS, counts=counts, **params))


def clip(spec, index=0):
    (c,) = render_group(spec, plan(spec)[index])
    return c


def pixel_level(frames: np.ndarray, xy: list) -> np.ndarray:
    """Per frame, the brightest pixel (channel sum) in a 5x5 patch around each image_xy."""
    out = []
    for frame, (x, y) in zip(frames, xy, strict=True):
        x, y = int(round(x)), int(round(y))
        patch = frame[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3].astype(float).sum(axis=-1)
        out.append(patch.max())
    return np.array(out)


def blink_frequency(level: np.ndarray, fps: float) -> float:
    """Peak of the zero-padded spectrum of the mean-removed brightness (Hz)."""
    n = len(level) * 64
    spectrum = np.abs(np.fft.rfft(level - level.mean(), n))
    freqs = np.fft.rfftfreq(n, 1 / fps)
    return float(freqs[1:][np.argmax(spectrum[1:])])


def centroids(frames: np.ndarray, sky: np.ndarray) -> np.ndarray:
    out = []
    for frame in frames:
        weight = np.clip(frame.astype(float).sum(-1) - sky.sum() - 30, 0, None)
        ys, xs = np.mgrid[: frame.shape[0], : frame.shape[1]]
        out.append([(weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()])
    return np.array(out)


@pytest.mark.parametrize("moves", ["static", "linear"])
@pytest.mark.parametrize("index", range(3))
def test_blink_frequency_recovered_from_pixels(moves, index):
    c = clip(spec_with(moves=moves, blinks="blinking"), index)
    xy = [f["lights"]["light"]["image_xy"] for f in c.labels["frames"]]
    level = pixel_level(c.frames, xy)
    hz = c.labels["targets"]["blink_hz"]
    assert 0 < hz < FPS / 2
    assert blink_frequency(level, FPS) == pytest.approx(hz, rel=0.05)
    # The labelled brightness is what is drawn: bright frames are brighter on screen.
    labelled = np.array([f["lights"]["light"]["brightness"] for f in c.labels["frames"]])
    assert np.corrcoef(level, labelled)[0, 1] > 0.95


@pytest.mark.parametrize("index", range(3))
def test_linear_track_is_a_line_and_matches_image_xy(index):
    c = clip(spec_with(moves="linear", blinks="steady", dim_ratio=1.0), index)
    sky = c.frames[0, 0, 0]
    track = centroids(c.frames, sky)
    centred = track - track.mean(axis=0)
    eig = np.linalg.eigvalsh(centred.T @ centred)
    assert eig[-1] / eig.sum() > 0.99  # R² of the best-fitting line
    xy = np.array([f["lights"]["light"]["image_xy"] for f in c.labels["frames"]])
    assert np.abs(track - xy).max() < 1.5  # TinyRenderer draws ~1 px above Camera.project (core)
    t = c.labels["targets"]
    assert t["kind"] == "satellite" and t["speed"] > 0
    moved = np.linalg.norm(xy[-1] - xy[0]) / c.labels["frames"][-1]["t"]
    assert t["speed_px"] == pytest.approx(moved) and moved > 5


def test_static_track_stays_put():
    c = clip(spec_with(moves="static", blinks="steady", dim_ratio=1.0), 1)
    track = centroids(c.frames, c.frames[0, 0, 0])
    assert track.std(axis=0).max() < 0.2
    assert c.labels["targets"]["kind"] == "planet" and c.labels["targets"]["speed_px"] == 0.0


def test_sky_is_dark_and_lights_are_drawn_flat():
    c = clip(spec_with(n_distractors=3, blinks="steady"), 2)
    assert not (c.frames == 255).all(axis=-1).any()  # the white TinyRenderer background is painted over
    assert c.frames[:, 0, 0].max() < 0.1 * 255
    assert "_renderer" not in c.labels["frames"][0]["lights"] and "_sky" not in c.labels["frames"][0]["lights"]
    assert len(c.labels["frames"][0]["lights"]) == 4


def test_renderer_light_and_ground_option_renders():
    raw = tiny_spec_dict("lights", frames=8, size=64, counts=(2, 0, 0), renderer_light=True, ground=True,
                         blinks="blinking")
    raw["camera"]["pitch"] = 5
    spec = parse_spec(raw)
    c = clip(spec)
    assert c.frames.shape == (8, 64, 64, 3)
    # the renderer's lighting is not a label: only the lights drawn in the sky are
    assert all(name == "light" or name.startswith("star_") for name in c.labels["frames"][0]["lights"])


def test_renderer_lighting_is_a_typed_field_of_each_frame():
    raw = tiny_spec_dict("lights", frames=8, size=64, counts=(2, 0, 0), renderer_light=True, blinks="blinking",
                         n_distractors=0)
    spec = parse_spec(raw)
    params = spec.sample_params(group_rngs(spec.seed, "train", 0)[0])
    with World() as world:
        trajectory = FAMILIES["lights"].load_simulation().simulate(spec, params, world)
    for frame in trajectory.frames:
        light = frame.lights["light"]
        assert isinstance(frame.lighting, Lighting) and frame.lighting.direction == tuple(light["position"])
        assert (frame.lighting.ambient, frame.lighting.diffuse) == (1.0, 1.0)
        assert frame.lighting.color == pytest.approx(tuple(light["brightness"] * np.asarray(light["color"])))
    spec = parse_spec({**raw, "params": {**raw["params"], "renderer_light": False}})
    with World() as world:
        trajectory = FAMILIES["lights"].load_simulation().simulate(spec, params | {"renderer_light": False}, world)
    assert {f.lighting for f in trajectory.frames} == {Lighting(ambient=1.0, diffuse=0.0, specular=0.0)}


def test_blink_at_or_above_nyquist_is_rejected():
    with pytest.raises(SpecError, match="Nyquist.*12 Hz"):
        parse_spec(tiny_spec_dict("lights", fps=24, blink_hz={"uniform": [1, 12]}))
    parse_spec(tiny_spec_dict("lights", fps=24, blink_hz={"uniform": [1, 11.9]}))


def sampled_frames(n: int, **params) -> list[tuple[dict, dict]]:
    """(targets, one randomly chosen frame record) for n clips, simulated and projected but not rendered."""
    spec = spec_with(frames=48, size=256, counts=(n, 0, 0), **params)
    simulation = FAMILIES["lights"].load_simulation()
    pick = np.random.default_rng(123)
    out = []
    for index in range(n):
        params_rng, camera_rng = group_rngs(spec.seed, "train", index)[:2]
        p = spec.sample_params(params_rng)
        with World() as world:
            trajectory = simulation.simulate(spec, p, world)
        camera = sample_camera(spec.camera, spec.render, trajectory.focus, camera_rng)
        frame = trajectory.frames[int(pick.integers(len(trajectory.frames)))]
        out.append((trajectory.targets, frame_record(frame, camera)))
    return out


def test_single_frame_marginals_match_across_classes():
    rows = sampled_frames(400)
    brightness = {k: [f["lights"]["light"]["brightness"] for t, f in rows if t["blinks"] == k]
                  for k in ("steady", "blinking")}
    assert ks_2samp(brightness["steady"], brightness["blinking"]).pvalue > 0.01
    for axis in (0, 1):
        position = {k: [f["lights"]["light"]["image_xy"][axis] for t, f in rows if t["moves"] == k]
                    for k in ("static", "linear")}
        assert ks_2samp(position["static"], position["linear"]).pvalue > 0.01
        assert all(0 <= v < 256 for v in position["static"] + position["linear"])


def test_same_bytes_across_workers(tmp_path):
    spec = parse_spec(tiny_spec_dict("lights", frames=12, size=64, counts=(4, 2, 2)))

    render_dataset(spec, tmp_path / "a", workers=1, shard=(1, 2))
    render_dataset(spec, tmp_path / "a", workers=1)
    render_dataset(spec, tmp_path / "b", workers=2)
    assert file_hashes(tmp_path / "a") == file_hashes(tmp_path / "b")
