"""``oracle[,penalty=10]``: the positive control. It reads each clip's json states, never its pixels.

For each window it fits, per body and per axis, a quadratic in time (constant acceleration, least
squares) to the body's positions over the context frames where the body is present, and predicts its
positions over the horizon. That is exact for free flight (simgen's integrator gives positions exactly
quadratic in the frame index) and for bodies moving at constant velocity (the occluder), given at least 3
context frames where the body is seen (with fewer the fit drops to a line or a constant). A clip with
contacts (a bounce, a slide) would need a re-simulation instead; no violation family scored here has
one inside a window.

Surprise is the mean, over body-frames of the horizon, of the position error (m), or of ``penalty`` (m)
where a body's presence (``visible``, default true) differs from its presence at the last context
frame: an object that is gone where it should be, or there where it should not. It reads the states,
not what the camera shows, so it sees a switch hidden behind an occluder at the frame it happens.
Lights are not modelled.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.errors import BadClipError, EncoderError
from evaluate.surprise_models.base import POSITIVE_CONTROL, SURPRISE_MODELS, SurpriseModel, parse_options

OPTIONS = {"penalty": "error (m) per body-frame whose presence changed (default 10)"}


def body_tracks(label: dict[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """From a clip's json: frame times (T,), and per body its positions (T, 3) and presence (T,) bool.
    A body missing from a frame's states counts as absent there."""
    frames = label["frames"]
    times = np.array([f["t"] for f in frames], dtype=np.float64)
    names = sorted({name for f in frames for name in f.get("bodies", {})})
    positions, present = {}, {}
    for name in names:
        states = [f.get("bodies", {}).get(name) for f in frames]
        present[name] = np.array([s is not None and s.get("visible", True) for s in states])
        positions[name] = np.array([s["position"] if s is not None else [np.nan] * 3 for s in states], np.float64)
    return times, positions, present


def constant_acceleration(t: np.ndarray, x: np.ndarray, t_new: np.ndarray) -> np.ndarray:
    """Least-squares quadratic in time (lower degree with fewer than 3 points) through positions
    ``x`` (n, 3) at times ``t``, evaluated at ``t_new``. Times are taken from the last known one, for
    conditioning."""
    degree = min(2, len(t) - 1)
    tau, tau_new = t - t[-1], t_new - t[-1]
    design = np.vander(tau, degree + 1, increasing=True)
    coef, *_ = np.linalg.lstsq(design, x, rcond=None)
    return np.vander(tau_new, degree + 1, increasing=True) @ coef


def window_error(times, positions, present, start: int, context: int, horizon: int, penalty: float) -> float:
    """Mean error over the horizon's body-frames of the constant-acceleration prediction from the context."""
    ctx = slice(start, start + context)
    hor = slice(start + context, start + context + horizon)
    errors = []
    for name, pos in positions.items():
        was_present = bool(present[name][ctx][-1])
        future = present[name][hor]
        if was_present:
            seen = present[name][ctx]
            predicted = constant_acceleration(times[ctx][seen], pos[ctx][seen], times[hor])
            distance = np.linalg.norm(predicted - pos[hor], axis=1)
        else:
            distance = np.zeros(len(future))
        errors.append(np.where(future != was_present, penalty, np.where(future, distance, 0.0)))
    return float(np.mean(np.concatenate(errors))) if errors else 0.0


@SURPRISE_MODELS.add(POSITIVE_CONTROL)
class StateOracle(SurpriseModel):
    """Constant-acceleration extrapolation of the ground-truth states; see the module doc."""

    reads_pixels = False
    reads_states = True
    control = POSITIVE_CONTROL

    def __init__(self, text: str, device: str = "cpu"):
        super().__init__()
        options = parse_options(text, OPTIONS)
        try:
            self.penalty = float(options.get("penalty", 10.0))
        except ValueError:
            raise EncoderError(f"{text!r}: penalty is a number of metres") from None
        self.name = text
        self._tracks_of: Any = None  # the clip whose body tracks are held in self._tracks
        self._tracks: Any = None

    def identity(self) -> dict[str, Any]:
        return {"kind": POSITIVE_CONTROL, "reads": "json states", "fit": "quadratic per axis over the context",
                "penalty_m": self.penalty}

    def states_surprise(self, label: dict[str, Any], context: int, horizon: int, starts: list[int]) -> np.ndarray:
        return self.tracks_surprise(body_tracks(label), context, horizon, starts)

    def tracks_surprise(self, tracks, context: int, horizon: int, starts: list[int]) -> np.ndarray:
        times, positions, present = tracks
        return np.array([window_error(times, positions, present, s, context, horizon, self.penalty) for s in starts])

    def clip_surprise(self, clip, frames, context, horizon, starts):
        t0 = time.perf_counter()
        # The run asks once per context, one clip after the other: its json is read and parsed once.
        if self._tracks_of != clip.label_path:
            try:
                label = json.loads(Path(clip.label_path).read_text())
            except (OSError, ValueError) as e:
                raise BadClipError(f"cannot read {clip.label_path}: {e}", clip.root.name, clip.split,
                                   clip.clip_id) from e
            self._tracks_of, self._tracks = clip.label_path, body_tracks(label)
        out = self.tracks_surprise(self._tracks, context, horizon, starts)
        self.timings["forward_s"] += time.perf_counter() - t0
        self.timings["clips"] += 1
        return out
