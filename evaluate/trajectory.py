"""The geometry of a trajectory of per-frame features, after GeoPhys.

GeoPhys (Internò et al., "GeoPhys: The Geometry of Physical Plausibility", 2026, arXiv:2606.20707)
stacks each frame's pooled embedding from a *frozen image encoder* into a trajectory through feature
space and reads five parameter-free signals from it. Plausible motion traces a smooth, locally straight
path; a teleport, a vanishing object or a reversal bends it. With no video pretraining, no physics
supervision and no learned ranker, the paper reports 93.3% on IntPhys 2 and 98.3% on LikePhys, where
V-JEPA 2 (and GPT-4o, Gemini) sit near chance. That makes it the album reader a tubelet model has to
beat, not a mean of frames. The code here is written from that description, not from the paper's code.

The five signals of a trajectory x (T, D), each a function of time, indexed by the last frame it reads:

- ``step``: the step length |x[t] − x[t−1]| (frames 1..T−1);
- ``turn``: the turning angle between the steps into and out of frame t−1, in radians in [0, π]
  (frames 2..T−1; 0 where either step has zero length: no motion, no turn);
- ``unevenness``: how uneven the turns are, |turn[t] − turn[t−1]| (frames 3..T−1);
- ``acceleration``: the second difference |x[t] − 2x[t−1] + x[t−2]| (frames 2..T−1);
- ``residual``: |x[t] − x̂[t]| where x̂[t] continues the least-squares line through the ``past``
  frames before t (frames past..T−1). With past=2 it is the acceleration; the default 3 is the shortest
  past whose line is a fit, not an interpolation.

A straight path at constant speed has zero turn, unevenness, acceleration and residual; a kink shows as
a turning spike at the kink (tested on such hand-made paths).

Two readers use them:

- :func:`trajectory_features` (``pool=trajectory`` of ``image``, ``random-image``, the video encoders'
  time-pooled steps, and ``pixels``): each signal's values in time order, then its mean, max and
  standard deviation over time; probed like any other features. The values in order let a probe find
  *when* something happened; the statistics give an order-free summary GeoPhys's detection reads.
- :func:`window_surprise` (the ``trajectory:<encoder>`` surprise model): per window, how irregular the
  path is at the horizon frames, with no training.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from evaluate.errors import EncoderError

TRAJECTORY = "trajectory"
SIGNALS = ("step", "turn", "unevenness", "acceleration", "residual")
RESIDUAL_PAST = 3  # frames the linear predictor of the features is fitted on
MIN_FRAMES = RESIDUAL_PAST + 1  # every signal has at least one value
STATISTICS = ("mean", "max", "std")
TRAJECTORY_HELP = ("trajectory (GeoPhys's five geometric signals of the per-time path: step, turn, unevenness, "
                   "acceleration, linear-predictor residual; each in time order, then its mean, max and std)")
LENGTH_SIGNALS = ("step", "acceleration", "residual")  # in feature-space units; turns are angles


def step_lengths(x: np.ndarray) -> np.ndarray:
    """(..., T, D) -> (..., T−1): |x[t] − x[t−1]|."""
    return np.linalg.norm(np.diff(x, axis=-2), axis=-1)


def turning_angles(x: np.ndarray) -> np.ndarray:
    """(..., T, D) -> (..., T−2): the angle (radians, [0, π]) between consecutive steps; 0 where a step has
    zero length. Computed as 2·atan2(|u − v|, |u + v|) of the unit steps u, v, which stays accurate near 0
    and π, where arccos of the cosine loses half its digits."""
    steps = np.diff(x, axis=-2)
    length = np.linalg.norm(steps, axis=-1, keepdims=True)
    unit = np.divide(steps, length, out=np.zeros_like(steps), where=length > 0)
    u, v = unit[..., :-1, :], unit[..., 1:, :]
    angle = 2 * np.arctan2(np.linalg.norm(u - v, axis=-1), np.linalg.norm(u + v, axis=-1))
    moving = (length[..., :-1, 0] > 0) & (length[..., 1:, 0] > 0)
    return np.where(moving, angle, 0.0)


def turn_unevenness(x: np.ndarray) -> np.ndarray:
    """(..., T, D) -> (..., T−3): |turn[t] − turn[t−1]|, how much the turning changes from step to step."""
    return np.abs(np.diff(turning_angles(x), axis=-1))


def accelerations(x: np.ndarray) -> np.ndarray:
    """(..., T, D) -> (..., T−2): |x[t] − 2x[t−1] + x[t−2]|."""
    return np.linalg.norm(np.diff(x, n=2, axis=-2), axis=-1)


def line_weights(past: int) -> np.ndarray:
    """(past,) weights w with Σ w_i·x[t−past+i] = the least-squares line through those ``past`` points
    (at times 0..past−1), continued one step to time ``past``."""
    if past < 2:
        raise ValueError(f"a line needs at least 2 past frames, got {past}")
    i = np.arange(past, dtype=np.float64)
    centred = i - i.mean()
    return 1.0 / past + centred * (past - i.mean()) / np.sum(centred ** 2)


def linear_residuals(x: np.ndarray, past: int = RESIDUAL_PAST) -> np.ndarray:
    """(..., T, D) -> (..., T−past): |x[t] − the line through x[t−past..t−1] continued to t|."""
    if x.shape[-2] <= past:
        return np.zeros((*x.shape[:-2], 0))
    windows = np.lib.stride_tricks.sliding_window_view(x, past, axis=-2)[..., :-1, :, :]  # (..., T−past, D, past)
    predicted = windows @ line_weights(past)
    return np.linalg.norm(x[..., past:, :] - predicted, axis=-1)


def signals(x: np.ndarray, past: int = RESIDUAL_PAST) -> dict[str, np.ndarray]:
    """The five signals of a (..., T, D) trajectory, each (..., n_signal) in time order (see the module doc)."""
    x = np.asarray(x, dtype=np.float64)
    return {"step": step_lengths(x), "turn": turning_angles(x), "unevenness": turn_unevenness(x),
            "acceleration": accelerations(x), "residual": linear_residuals(x, past)}


def feature_count(frames: int) -> int:
    """Length of :func:`trajectory_features` for ``frames`` time steps."""
    values = (frames - 1) + (frames - 2) + (frames - 3) + (frames - 2) + (frames - RESIDUAL_PAST)
    return values + len(SIGNALS) * len(STATISTICS)


def trajectory_features(x: np.ndarray) -> np.ndarray:
    """(..., T, D) -> (..., :func:`feature_count` (T)) float32: each signal's values in time order
    (``step``, ``turn``, ``unevenness``, ``acceleration``, ``residual``), then per signal its mean, max
    and standard deviation over time. Raw units: a probe standardises its features."""
    if x.shape[-2] < MIN_FRAMES:
        raise EncoderError(f"pool={TRAJECTORY}: {x.shape[-2]} time steps; the trajectory's signals need at least "
                           f"{MIN_FRAMES}")
    sig = signals(x)
    values = [sig[name] for name in SIGNALS]
    stats = [f(v, axis=-1, keepdims=True) for v in values for f in (np.mean, np.max, np.std)]
    return np.concatenate(values + stats, axis=-1).astype(np.float32)


def trajectory_of_stacked(stacked: np.ndarray, time_steps: int, name: str) -> np.ndarray:
    """Per-time vectors stacked in time order, (..., T·D) as ``pool=time`` gives them -> (..., F) features."""
    if stacked.shape[-1] % time_steps:
        raise EncoderError(f"{name}: {stacked.shape[-1]} values do not split into {time_steps} time steps")
    return trajectory_features(stacked.reshape(*stacked.shape[:-1], time_steps, -1))


def trajectory_when_ready(wait: Callable[[], np.ndarray], time_steps: int, name: str) -> Callable[[], np.ndarray]:
    """``wait`` (which gives the time-stacked embeddings), then :func:`trajectory_of_stacked` of its result."""
    return lambda: trajectory_of_stacked(wait(), time_steps, name)


def window_surprise(x: np.ndarray, context: int, horizon: int, starts: list[int]) -> np.ndarray:
    """(len(starts),) float64: how irregular the trajectory x (T, D) of one clip's per-frame features is at
    the horizon frames [s + context, s + context + horizon) of each window starting at s.

    Each window is read alone, from its own frames [s, s + context + horizon): every signal at a frame
    reads that frame and earlier ones of the window only, and the residual's line is fitted on the
    ``context`` frames before it (the recent past the model is given). The signals are made unitless with
    no fitted parameter: lengths (step, acceleration, residual) divided by the window's mean step length
    (0 in a window that does not move), angles by π. The surprise is the mean over the five signals of
    their mean over the horizon frames: equal weights, nothing learned. A window is a function of its
    frames alone, so two clips that show the same frames in a window get the same surprise there."""
    if context < 3:
        raise ValueError(f"{TRAJECTORY}: context {context} frames; the turning unevenness at the first horizon "
                         f"frame reads 3 frames before it")
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(len(starts))
    first = {"step": 1, "turn": 2, "unevenness": 3, "acceleration": 2, "residual": context}  # frame of value 0
    for n, s in enumerate(starts):
        window = x[s:s + context + horizon]
        sig = signals(window, past=context)
        scale = float(sig["step"].mean())
        parts = []
        for name in SIGNALS:
            at_horizon = sig[name][context - first[name]:context + horizon - first[name]]
            if name in LENGTH_SIGNALS:
                at_horizon = at_horizon / scale if scale > 0 else np.zeros_like(at_horizon)
            else:
                at_horizon = at_horizon / np.pi
            parts.append(at_horizon.mean())
        out[n] = float(np.mean(parts))
    return out
