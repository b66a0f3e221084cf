"""``trajectory:<encoder spec>``: the album's surprise, after GeoPhys (Internò et al. 2026). No training.

The encoder (``random-image:tiny``, ``image:<id|dir>``, ``pixels``: one that reads each frame on its own)
embeds every frame of the clip; the frame vectors in order are a trajectory through feature space, and a
window's surprise is how irregular that path is at its horizon frames given its context
(:func:`evaluate.trajectory.window_surprise`: step length, turning angle, unevenness of the turns,
acceleration and the residual of the line fitted on the context, made unitless and averaged).

Only per-frame encoders are taken: a video encoder's tokens attend across frames, so its features of a
context frame would depend on the frames after it (the future would leak into the context), and its time
axis is in tubelets, not frames. Frames are embedded alone, so every window reads only its own frames.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from evaluate.encoders.base import parse_spec
from evaluate.errors import EncoderError
from evaluate.surprise_models.base import SURPRISE_MODELS, PixelSurpriseModel
from evaluate.trajectory import SIGNALS, TRAJECTORY, window_surprise

PER_FRAME_KINDS = ("image", "random-image", "pixels")  # their pool=time is one vector per frame, in order
FIXED_OPTIONS = ("pool", "frames", "step")  # windows index the clip's own frames, one vector each
EXAMPLE = f"{TRAJECTORY}:random-image:tiny"


@SURPRISE_MODELS.add(TRAJECTORY)
class TrajectorySurprise(PixelSurpriseModel):
    """Surprise of a window = irregularity of the per-frame feature path at its horizon; see the module doc."""

    def __init__(self, text: str, device: str = "auto"):
        super().__init__()
        from evaluate.encoders import build_encoder

        head, sep, encoder_text = text.partition(":")
        if not sep or not encoder_text:
            raise EncoderError(f"{text!r}: name the per-frame encoder whose features it reads, e.g. {EXAMPLE}")
        spec = parse_spec(encoder_text)
        if spec.kind not in PER_FRAME_KINDS:
            raise EncoderError(f"{text!r}: {spec.kind} is not a per-frame encoder ({', '.join(PER_FRAME_KINDS)}); "
                               f"a video encoder's features of a frame see the frames after it. Score video "
                               f"encoders with their own predictor (vjepa2:, random-vjepa2:)")
        fixed = sorted(set(spec.options) & set(FIXED_OPTIONS))
        if fixed:
            raise EncoderError(f"{text!r}: option(s) {', '.join(fixed)} do not apply: the trajectory is one vector "
                               f"per frame of the clip, in order")
        self.encoder = build_encoder(encoder_text, device=device)
        self.name = f"{TRAJECTORY}:{self.encoder.name}"
        self.notes = self.encoder.notes
        self._features_of: Any = None  # the clip whose frame vectors are held in self._features
        self._features: np.ndarray | None = None

    def identity(self) -> dict[str, Any]:
        return {"kind": TRAJECTORY, "encoder": self.encoder.identity(), "signals": list(SIGNALS),
                "surprise": "mean over the signals at the horizon frames; lengths / the window's mean step, "
                            "angles / pi"}

    def frame_features(self, frames: np.ndarray) -> np.ndarray:
        """(T, D) float64: one vector per frame of the clip, in order."""
        stacked = self.encoder.encode([frames])[0]
        return np.asarray(stacked, dtype=np.float64).reshape(len(frames), -1)

    def check_window(self, context: int, horizon: int) -> None:
        super().check_window(context, horizon)
        if context < 3:
            raise ValueError(f"{self.name}: context {context} frames; the trajectory's signals need at least 3")

    def clip_surprise(self, clip, frames, context, horizon, starts):
        t0 = time.perf_counter()
        # The run asks once per context, one clip after the other: the clip is embedded once.
        if self._features_of != clip.video_path or self._features is None:
            self._features_of, self._features = clip.video_path, self.frame_features(frames)
        out = window_surprise(self._features, context, horizon, starts)
        self.timings["forward_s"] += time.perf_counter() - t0
        self.timings["clips"] += 1
        return out

    def surprise(self, frames, context, horizon, starts):
        return window_surprise(self.frame_features(frames), context, horizon, starts)
