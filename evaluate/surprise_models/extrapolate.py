"""``extrapolate[,order=1,size=32]``: a pixel-prediction baseline and negative control. The last frame
is continued linearly (order 1: f + k·(f − f_prev); order 0: the last frame repeated), on frames
block-averaged to size×size; surprise is the mean absolute pixel error over the horizon. It knows no
physics, so on a balanced violation set it must sit at chance."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from evaluate.errors import EncoderError
from evaluate.surprise_models.base import SURPRISE_MODELS, PixelSurpriseModel, parse_options

EXTRAPOLATE = "extrapolate"
OPTIONS = {"order": "0 (repeat the last frame) or 1 (linear, default)",
           "size": "side of the block-averaged frames (default 32)"}


@SURPRISE_MODELS.add(EXTRAPOLATE)
class PixelExtrapolation(PixelSurpriseModel):
    """Predict the next frames by continuing the last ones in pixel space."""

    def __init__(self, text: str, device: str = "cpu"):
        super().__init__()
        options = parse_options(text, OPTIONS)
        try:
            self.order, self.size = int(options.get("order", 1)), int(options.get("size", 32))
        except ValueError:
            raise EncoderError(f"{text!r}: order and size are integers") from None
        if self.order not in (0, 1):
            raise EncoderError(f"{text!r}: order={self.order}; use 0 or 1")
        self.name = text
        self.control = f"{EXTRAPOLATE},order={self.order}"
        self.min_context = self.order + 1

    def identity(self) -> dict[str, Any]:
        return {"kind": EXTRAPOLATE, "order": self.order, "size": self.size}

    def surprise(self, frames, context, horizon, starts):
        from evaluate.encoders.pixels import downsample

        if context < self.min_context:
            raise ValueError(f"{self.name}: order {self.order} needs a context of at least {self.min_context} frames")
        t0 = time.perf_counter()
        small = downsample(frames, min(self.size, frames.shape[1], frames.shape[2])).astype(np.float64)
        out = []
        for s in starts:
            last = small[s + context - 1]
            velocity = last - small[s + context - 2] if self.order == 1 else 0.0
            steps = np.arange(1, horizon + 1).reshape(-1, 1, 1, 1)
            pred = np.clip(last + steps * velocity, 0.0, 1.0)
            out.append(float(np.abs(pred - small[s + context:s + context + horizon]).mean()))
        self.timings["forward_s"] += time.perf_counter() - t0
        self.timings["clips"] += 1
        return np.asarray(out)
