"""The trajectory reader (after GeoPhys) on hand-made paths whose signals are known: a straight line at
constant speed, a right-angle kink, a uniformly accelerating line, a circle; its features, and the
window surprise's locality and scale invariance."""

import numpy as np
import pytest

from evaluate.errors import EncoderError
from evaluate.trajectory import (
    SIGNALS,
    feature_count,
    line_weights,
    linear_residuals,
    signals,
    trajectory_features,
    window_surprise,
)


def straight(t=10, velocity=(2.0, -1.0, 0.5), start=(1.0, 3.0, -2.0)):
    return np.asarray(start) + np.arange(t, dtype=np.float64)[:, None] * np.asarray(velocity)


def kinked(t=10, at=4):
    """Along +x for ``at`` steps, then along +y at the same speed: a right angle at frame ``at``."""
    x = np.zeros((t, 2))
    x[:at + 1, 0] = np.arange(at + 1)
    x[at + 1:, 0] = at
    x[at + 1:, 1] = np.arange(1, t - at)
    return x


def test_a_straight_line_at_constant_speed_neither_turns_nor_accelerates():
    s = signals(straight())
    assert np.allclose(s["step"], np.linalg.norm([2.0, -1.0, 0.5]))
    for name in ("turn", "unevenness", "acceleration", "residual"):
        assert np.allclose(s[name], 0.0, atol=1e-12), name
    assert [len(s[n]) for n in SIGNALS] == [9, 8, 7, 8, 7]  # each signal's frames: from 1, 2, 3, 2 and 3 on


def test_a_kink_is_a_turning_spike_at_the_kink():
    s = signals(kinked(at=4))
    # turn[i] is the angle at frame i + 1 (between the steps into and out of it): the kink is frame 4
    assert np.allclose(s["turn"], np.where(np.arange(8) == 3, np.pi / 2, 0.0))
    assert np.allclose(s["unevenness"], np.where(np.isin(np.arange(7), (2, 3)), np.pi / 2, 0.0))  # up, then down
    assert np.allclose(s["acceleration"], np.where(np.arange(8) == 3, np.sqrt(2), 0.0))
    assert np.allclose(s["step"], 1.0)  # the same speed throughout: the steps alone do not see it
    # residual[i] is at frame i + 3. The line through frames 2..4, (2, 0)..(4, 0), continued to 5 gives (5, 0),
    # not (4, 1); through (3, 0), (4, 0), (4, 1) it gives (14/3, 4/3), not (4, 2); from frame 7 on the path is
    # straight again.
    assert np.allclose(s["residual"], [0, 0, np.sqrt(2), 2 * np.sqrt(2) / 3, 0, 0, 0])


def test_uniform_acceleration_along_a_line_against_formulas():
    x = (np.arange(8.0) ** 2)[:, None] * np.array([[0.6, 0.8]])  # |x| = t²
    s = signals(x)
    assert np.allclose(s["turn"], 0.0) and np.allclose(s["acceleration"], 2.0)  # (t+1)² − 2t² + (t−1)² = 2
    # the least-squares line through 3 points of t² continued one step misses by 10/3 (9 − 17/3 from 0, 1, 4)
    assert np.allclose(s["residual"], 10 / 3)
    assert np.allclose(line_weights(3), [-2 / 3, 1 / 3, 4 / 3]) and np.allclose(line_weights(2), [-1.0, 2.0])
    assert np.allclose(linear_residuals(x, past=2), s["acceleration"])  # a line through 2 points: the 2nd difference


def test_a_circle_turns_evenly():
    angle = 2 * np.pi * np.arange(12) / 12
    s = signals(np.c_[np.cos(angle), np.sin(angle)])
    assert np.allclose(s["turn"], 2 * np.pi / 12) and np.allclose(s["unevenness"], 0.0, atol=1e-12)


def test_a_still_path_has_no_turns_and_a_stop_is_no_turn():
    x = np.r_[straight(5), np.repeat(straight(5)[-1:], 4, axis=0)]  # moves, then stops
    s = signals(x)
    assert np.all(np.isfinite(s["turn"])) and np.allclose(s["turn"], 0.0)
    assert np.allclose(s["step"][4:], 0.0) and s["acceleration"][3] > 0  # the stop is an acceleration


def test_features_hold_each_signal_in_order_then_its_statistics():
    x = kinked(t=9, at=4)
    f = trajectory_features(x)
    s = signals(x)
    values = np.concatenate([s[n] for n in SIGNALS])
    assert f.shape == (feature_count(9),) == (len(values) + 15,) and f.dtype == np.float32
    np.testing.assert_allclose(f[:len(values)], values, rtol=1e-6)
    stats = f[len(values):].reshape(5, 3)
    np.testing.assert_allclose(stats[1], [s["turn"].mean(), s["turn"].max(), s["turn"].std()], rtol=1e-6)
    batch = trajectory_features(np.stack([x, 2 * x]))  # leading axes are batches
    np.testing.assert_allclose(batch[0], f)
    with pytest.raises(EncoderError, match="at least 4"):
        trajectory_features(x[:3])


def test_window_surprise_reads_its_window_only_and_has_no_units():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(14, 5)), axis=0)
    starts = [0, 2, 4]
    base = window_surprise(x, 4, 2, starts)
    later = x.copy()
    later[10:] += 100.0  # after the last window ([4, 10))
    np.testing.assert_array_equal(window_surprise(later, 4, 2, starts), base)
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    np.testing.assert_allclose(window_surprise(3.0 * x @ rotation + 7.0, 4, 2, starts), base, rtol=1e-9)
    # a straight window: its steps equal their mean (1 of 5 signals at 1), everything else 0
    np.testing.assert_allclose(window_surprise(straight(12), 4, 2, starts), 0.2)
    assert np.allclose(window_surprise(np.zeros((12, 3)), 4, 2, starts), 0.0)  # nothing moves
    # a kink at frame 6 is in the horizon of the window starting at 2 only
    kink = window_surprise(kinked(t=12, at=6), 4, 2, [0, 2, 4])
    assert kink[1] > 0.2 and kink[0] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="context 2"):
        window_surprise(x, 2, 2, [0])
