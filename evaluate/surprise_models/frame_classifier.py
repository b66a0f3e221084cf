"""``frame-classifier[,size=16,folds=5,C=1]``: a negative control that sees one frame at a time.

A linear probe (logistic regression on standardised pixels block-averaged to size×size) is trained to
say, from a single frame, whether the clip it came from is possible. Every frame is a training sample
labelled with its clip's ``possible``. It is **cross-fitted over groups**: the groups are dealt into
``folds`` folds, and each clip's frames are scored by the probe fitted on the other folds, so no clip
is scored by a probe that saw its own group (or its twins). Its surprise for a window is the mean
P(impossible) over the window's horizon frames.

On a balanced design every frame of an impossible clip also appears in a possible one, so it must sit at
chance; where a single frame gives the answer away (an object gone in plain view), it does not.

It needs labels and every clip before it can score one, so it does its work in ``fit`` (it decodes the
clips itself) and ``clip_surprise`` only reads what ``fit`` computed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from evaluate.errors import BadClipError, EncoderError
from evaluate.surprise_models.base import SURPRISE_MODELS, SurpriseModel, parse_options

FRAME_CLASSIFIER = "frame-classifier"
OPTIONS = {"size": "side of the block-averaged frames (default 16)", "folds": "cross-fitting folds (default 5)",
           "C": "inverse L2 strength of the logistic regression (default 1)"}

# (train features, train labels: 1 impossible) -> a function from features to P(impossible)
Fitter = Callable[[np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]]


def group_folds(groups: list[str], folds: int, seed: int = 0) -> dict[str, int]:
    """Each group's fold: the groups shuffled with ``seed``, then dealt round-robin (at most one fold per group)."""
    unique = sorted(set(groups))
    if len(unique) < 2:
        raise ValueError(f"{FRAME_CLASSIFIER}: cross-fitting needs at least 2 groups, got {len(unique)}")
    order = np.random.default_rng(seed).permutation(len(unique))
    n = min(folds, len(unique))
    return {unique[j]: i % n for i, j in enumerate(order)}


def cross_fit(features: list[np.ndarray], impossible: np.ndarray, groups: list[str], folds: int,
              fitter: Fitter) -> list[np.ndarray]:
    """Out-of-fold P(impossible) of every frame of every clip. ``features``: one (T, D) array per clip;
    each frame is a sample with its clip's label. A clip is scored only by a probe fitted on other folds,
    that is, on other groups."""
    fold_of = group_folds(groups, folds)
    clip_fold = np.array([fold_of[g] for g in groups])
    out: list[np.ndarray] = [np.empty(0)] * len(features)
    for fold in sorted(set(clip_fold)):
        train = np.flatnonzero(clip_fold != fold)
        x = np.concatenate([features[i] for i in train])
        y = np.concatenate([np.full(len(features[i]), impossible[i], dtype=int) for i in train])
        predict = fitter(x, y)
        for i in np.flatnonzero(clip_fold == fold):
            out[i] = predict(features[i])
    return out


def logistic_fitter(c: float) -> Fitter:
    def fit(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if len(set(y)) < 2:  # one label only: nothing to learn, P(impossible) is that label's share
            share = float(y.mean())
            return lambda z: np.full(len(z), share)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(x, y)
        return lambda z: model.predict_proba(z)[:, 1]

    return fit


@SURPRISE_MODELS.add(FRAME_CLASSIFIER)
class FrameClassifier(SurpriseModel):
    """Cross-fitted single-frame probe of ``possible``; see the module doc."""

    reads_pixels = False  # it decodes the clips itself, in fit
    control = FRAME_CLASSIFIER

    def __init__(self, text: str, device: str = "cpu"):
        super().__init__()
        options = parse_options(text, OPTIONS)
        try:
            self.size, self.folds = int(options.get("size", 16)), int(options.get("folds", 5))
            self.c = float(options.get("C", 1.0))
        except ValueError:
            raise EncoderError(f"{text!r}: size and folds are integers, C a number") from None
        if self.folds < 2:
            raise EncoderError(f"{text!r}: folds={self.folds}; cross-fitting needs at least 2")
        self.name = text
        self.fitter = logistic_fitter(self.c)
        self.p_impossible: dict[tuple[str, str, str], np.ndarray] = {}  # (root, split, clip_id) -> (T,)
        self.bad: dict[tuple[str, str, str], BadClipError] = {}

    def identity(self) -> dict[str, Any]:
        return {"kind": FRAME_CLASSIFIER, "size": self.size, "folds": self.folds, "C": self.c,
                "probe": "standardised pixels -> logistic regression, cross-fitted over groups"}

    @staticmethod
    def key(clip) -> tuple[str, str, str]:
        return str(clip.root), clip.split, clip.clip_id

    def fit(self, dataset, clips, workers=2):
        from evaluate.data.decode import iter_frames
        from evaluate.encoders.pixels import downsample

        t0 = time.perf_counter()
        kept, features = [], []
        for batch in iter_frames(dataset, clips, batch_size=4, workers=workers):
            for clip, frames in batch:
                if isinstance(frames, BadClipError):
                    self.bad[self.key(clip)] = frames
                    continue
                small = downsample(frames, min(self.size, frames.shape[1], frames.shape[2]))
                features.append(small.reshape(len(small), -1))
                kept.append(clip)
        impossible = np.array([c.targets["possible"] == "false" for c in kept], dtype=int)
        probs = cross_fit(features, impossible, [c.group_id for c in kept], self.folds, self.fitter)
        self.p_impossible.update({self.key(c): p for c, p in zip(kept, probs, strict=True)})
        self.timings["forward_s"] += time.perf_counter() - t0

    def clip_surprise(self, clip, frames, context, horizon, starts):
        key = self.key(clip)
        if key in self.bad:
            raise self.bad[key]
        if key not in self.p_impossible:
            raise RuntimeError(f"{self.name}: {clip.clip_id} was not in the clips given to fit")
        p = self.p_impossible[key]
        self.timings["clips"] += 1
        return np.array([float(p[s + context:s + context + horizon].mean()) for s in starts])
