"""The weight-free controls: the ground-truth oracles (oracle-static, oracle-full) and the blob
tracker (track), on the 64-clip falling_rising fixture (8 frames at 64x64)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluate.data.dataset import open_dataset
from evaluate.data.decode import read_clip
from evaluate.data.views import VIEWS, apply_view, frame_index
from evaluate.encoders import build_encoder
from evaluate.encoders.oracle import ENTITY_FEATURES, SCENE_FEATURES
from evaluate.metrics import balanced_accuracy
from evaluate.probes.linear import LinearProbe


@pytest.fixture(scope="module")
def fr64(falling_rising_64):
    """(dataset, clips, their frames)."""
    dataset = open_dataset(falling_rising_64)
    return dataset, dataset.clips, [read_clip(dataset, c) for c in dataset.clips]


def embed(spec: str, clips, frames, views=VIEWS) -> dict[str, np.ndarray]:
    """{view: (n, D)} through the encoder's own view building, as evaluate run calls it."""
    encoder = build_encoder(spec)
    out = {}
    for view, got, wait in encoder.encode_views_async(clips, frames, [tuple(views)] * len(clips)):
        assert [c.clip_id for c in got] == [c.clip_id for c in clips]
        out[view] = wait()
    return out


def states_of(vectors: np.ndarray, n_frames: int) -> np.ndarray:
    return vectors.reshape(len(vectors), n_frames, -1)


def test_oracle_full_reversed_is_the_original_frames_reversed(fr64):
    _, clips, frames = fr64
    n = len(frames[0])
    plain = embed("oracle-full,odometer=0", clips, frames)
    assert np.array_equal(states_of(plain["reversed"], n), states_of(plain["original"], n)[:, ::-1])
    order = [frame_index("shuffled", n, c.clip_id) for c in clips]
    assert np.array_equal(states_of(plain["shuffled"], n),
                          np.stack([s[o] for s, o in zip(states_of(plain["original"], n), order, strict=True)]))
    # With odometers (the default): the states are the same, and the distance travelled over the
    # whole clip (the last frame's odometers) is the same forwards and backwards.
    full = embed("oracle-full", clips, frames, ("original", "reversed"))
    width = plain["original"].shape[1] // n
    fwd, back = states_of(full["original"], n), states_of(full["reversed"], n)
    assert np.array_equal(back[:, :, :width], fwd[:, ::-1, :width])
    np.testing.assert_allclose(back[:, -1, width:], fwd[:, -1, width:], rtol=1e-5, atol=1e-6)
    assert not back[:, 0, width:].any()


def test_oracle_static_is_the_single_frame_under_every_view(fr64):
    _, clips, frames = fr64
    n = len(frames[0])
    static = embed("oracle-static", clips, frames)
    for view in VIEWS:
        assert np.array_equal(static[view], static["original"]), view
    full = states_of(embed("oracle-full,odometer=0", clips, frames, ("original",))["original"], n)
    seeded = [int(frame_index("single_frame", n, c.clip_id)[0]) for c in clips]
    assert np.array_equal(static["original"], full[np.arange(len(clips)), seeded])
    assert static["original"].shape[1] == len(SCENE_FEATURES) + len(ENTITY_FEATURES)  # one slot: the object


def test_oracle_reads_no_velocity(fr64):
    """Velocities are in the json, but a frame cannot show them: no feature may equal one."""
    _, clips, frames = fr64
    label = json.loads(clips[0].label_path.read_text())
    vector = embed("oracle-static", clips[:1], frames[:1], ("original",))["original"][0]
    k = int(frame_index("single_frame", len(frames[0]), clips[0].clip_id)[0])
    body = label["frames"][k]["bodies"]["object"]
    for v in (*body["linear_velocity"], *body["angular_velocity"]):
        if abs(v) > 1e-6:
            assert not np.any(np.isclose(vector, v, rtol=0, atol=1e-7)), v


def test_direction_needs_time_by_the_oracles(fr64):
    """A falling clip's rising twin is its frames reversed, so a twin pair has the same set of frame
    states; each clip's seeded frame is one of them, drawn by its own clip id. So oracle-static's
    distribution is the same for both directions (it cannot tell them), while oracle-full reads
    the order (balanced accuracy 1.0 with the linear probe)."""
    _, clips, frames = fr64
    n = len(frames[0])
    full = states_of(embed("oracle-full,odometer=0", clips, frames, ("original",))["original"], n)
    static = embed("oracle-static", clips, frames, ("original",))["original"]
    by_group: dict[str, dict[str, int]] = {}
    for i, c in enumerate(clips):
        by_group.setdefault(c.group_id, {})[c.targets["direction"]] = i
    for pair in by_group.values():
        fall, rise = pair["falling"], pair["rising"]
        assert np.array_equal(full[rise], full[fall][::-1])  # the same frame states, in reverse order
        for i, twin in ((fall, rise), (rise, fall)):
            assert any(np.array_equal(static[i], row) for row in full[twin])  # its seeded frame is its twin's too

    train = np.array([c.split != "test" for c in clips])
    y = np.array([c.targets["direction"] for c in clips])
    groups = np.array([c.group_id for c in clips])

    def score(x: np.ndarray) -> float:
        fit = LinearProbe().fit_predict("class", x[train], y[train], groups[train], x[~train])
        return balanced_accuracy(y[~train], fit.y_pred)

    assert score(full.reshape(len(clips), -1)) == 1.0
    assert score(embed("oracle-full", clips, frames, ("original",))["original"]) == 1.0
    assert score(static) < 0.8  # chance, up to 16 test clips' noise


def test_track_follows_the_main_body(fr64):
    """The main blob's centroid is the body's ground-truth image_xy, within a couple of pixels."""
    _, clips, frames = fr64
    encoder = build_encoder("track")
    per_frame = 13 * (1 + encoder.blobs)
    track = embed("track", clips, frames, ("original",))["original"].reshape(len(clips), len(frames[0]), per_frame)
    height, width = frames[0].shape[1:3]
    errors = []
    for clip, features in zip(clips, track, strict=True):
        label = json.loads(clip.label_path.read_text())
        truth = np.array([f["bodies"]["object"]["image_xy"] for f in label["frames"]])
        assert features[:, 0].all()  # present in every frame
        xy = features[:, 1:3] * [width, height]
        errors.append(np.hypot(*(xy - truth).T))
    errors = np.concatenate(errors)
    assert np.percentile(errors, 95) < 1.5 and errors.max() < 2.5, np.percentile(errors, [50, 95, 100])


def test_track_builds_each_view_like_the_numpy_views(fr64):
    """Blobs are found once per clip and selected per view: the same as tracking each view made
    by evaluate.data.views. single_frame is one frame's blobs with zero odometers."""
    _, clips, frames = fr64
    clips, frames = clips[:6], frames[:6]
    built = embed("track", clips, frames)
    encoder = build_encoder("track")
    for view in VIEWS:
        made = encoder.encode([apply_view(view, f, c.clip_id) for c, f in zip(clips, frames, strict=True)])
        assert np.array_equal(built[view], made), view
    single = built["single_frame"].reshape(len(clips), len(frames[0]), -1)
    slots = 1 + encoder.blobs
    assert (single == single[:, :1]).all()
    assert not single[:, :, 8 * slots:].any()  # odometers: one frame repeated never moves


def test_encoders_are_listed_with_versions():
    for spec in ("oracle-static", "oracle-full", "track"):
        encoder = build_encoder(spec)
        assert encoder.builds_views and encoder.description
        assert encoder.identity()["version"] >= 1 and encoder.identity()["kind"] == spec
    assert build_encoder("track,blobs=1").identity() != build_encoder("track").identity()
