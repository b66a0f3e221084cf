"""Violation-of-expectation surprise (Garrido et al. 2025), on simgen's possible/impossible twins.

For a window of a clip, the model sees ``context`` frames and predicts the next ``horizon``
frames in its own representation space; surprise is how far the prediction is from what
actually came. Windows slide over the clip every ``stride`` frames, so each clip gives a
surprise curve; its max (and mean) over the clip is the clip's surprise. The possible twin
should be the less surprising one.

V-JEPA 2 (``vjepa2:<id|dir>``, ``random-vjepa2[:size][,seed=N]``):
- the context frames are encoded **alone**. ``VJEPA2Model.forward`` encodes the whole clip
  and only then selects the context tokens, so attention would let the future leak into the
  context (the no-leak test shows it does);
- ``model.predictor(encoder_hidden_states=ctx, context_mask=[0..Nc), target_mask=[Nc..Nc+Nt))``
  predicts the target tubelets; token indices run over (time, height, width), so the target
  positions are the tubelets right after the context;
- the target is the encoder's output for the whole window (context + horizon), layer-normed
  as in V-JEPA training, at the target positions; surprise is the mean L1 distance
  (V-JEPA's training loss).

``extrapolate[,order=1,size=32]``: a pixel-prediction baseline. The last frame is continued
linearly (order 1: f + k·(f − f_prev); order 0: the last frame repeated), on frames block-averaged
to size×size; surprise is the mean absolute pixel error over the horizon.

The metrics live in ``evaluate/metrics.py``, the run in ``evaluate/tasks/surprise.py``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from evaluate.encoders.base import parse_spec
from evaluate.errors import EncoderError

EXTRAPOLATE = "extrapolate"
_EXTRAPOLATE_OPTIONS = {"order": "0 (repeat the last frame) or 1 (linear, default)",
                        "size": "side of the block-averaged frames (default 32)"}


def window_starts(frames: int, context: int, horizon: int, stride: int) -> list[int]:
    """First frames of the windows [s, s + context + horizon) that fit in a clip of ``frames``."""
    return list(range(0, frames - context - horizon + 1, stride))


class SurpriseModel(ABC):
    """Surprise of each window of one clip: ``surprise(frames, context, horizon, starts)``."""

    name: str
    tubelet: int = 1  # context and horizon must be multiples of it
    notes: list[str]

    def __init__(self) -> None:
        self.notes = []
        self.timings = {"forward_s": 0.0, "clips": 0}

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """JSON-able: what the surprise values depend on."""

    @abstractmethod
    def surprise(self, frames: np.ndarray, context: int, horizon: int, starts: list[int]) -> np.ndarray:
        """(len(starts),) float64: surprise of the frames [s + context, s + context + horizon) given
        the frames [s, s + context), for each start s. ``frames``: (T, H, W, 3) uint8."""

    def check_window(self, context: int, horizon: int) -> None:
        for what, n in (("context", context), ("horizon", horizon)):
            if n < 1 or n % self.tubelet:
                raise ValueError(f"{self.name}: {what} {n} frames is not a positive multiple of the tubelet "
                                 f"size {self.tubelet}")


class PixelExtrapolation(SurpriseModel):
    """Predict the next frames by continuing the last ones in pixel space."""

    def __init__(self, text: str):
        super().__init__()
        head, *opts = text.split(",")
        if head != EXTRAPOLATE:
            raise EncoderError(f"{text!r}: the pixel baseline takes no ':' argument, e.g. extrapolate,order=1")
        options = {}
        for opt in opts:
            key, sep, value = opt.partition("=")
            if not sep or key not in _EXTRAPOLATE_OPTIONS:
                raise EncoderError(f"{text!r}: unknown option {opt!r}; options: {', '.join(_EXTRAPOLATE_OPTIONS)}")
            options[key] = value
        try:
            self.order, self.size = int(options.get("order", 1)), int(options.get("size", 32))
        except ValueError:
            raise EncoderError(f"{text!r}: order and size are integers") from None
        if self.order not in (0, 1):
            raise EncoderError(f"{text!r}: order={self.order}; use 0 or 1")
        self.name = text
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


class VJEPA2Surprise(SurpriseModel):
    """Context encoded alone, predictor to the next tubelets, L1 to the layer-normed target encoding."""

    def __init__(self, text: str, device: str = "auto", window_batch: int = 16):
        super().__init__()
        from evaluate.encoders import build_encoder

        spec = parse_spec(text)
        if spec.kind not in ("vjepa2", "random-vjepa2"):
            raise EncoderError(f"{text!r}: surprise needs a model with a predictor: vjepa2:<id|dir>, "
                               f"random-vjepa2[:size][,seed=N], or the pixel baseline {EXTRAPOLATE}")
        extra = set(spec.options) - {"seed"}
        if extra:
            raise EncoderError(f"{text!r}: option(s) {', '.join(sorted(extra))} do not apply to surprise "
                               f"(it reads the final encoder output and the predictor)")
        self.encoder = build_encoder(text, device=device)  # loads, resolves the device and preprocessing
        self.model = self.encoder.model
        if not hasattr(self.model, "predictor"):
            raise EncoderError(f"{text!r}: this checkpoint has no predictor weights")
        self.name = self.encoder.name
        self.notes = self.encoder.notes
        self.tubelet = self.encoder.tubelet
        self.patch = self.encoder.patch
        self.window_batch = window_batch

    def identity(self) -> dict[str, Any]:
        # Surprise runs transformers' encoder and predictor (predict below), whatever forward the
        # encoder would use for embeddings.
        return {**self.encoder.identity(), "forward": "transformers", "compiled": False,
                "surprise": "context-alone encoder -> predictor, L1 to layer-normed target"}

    def predict(self, frames: np.ndarray, context: int, horizon: int, starts: list[int]) -> tuple[Any, Any]:
        """(predicted, target) target-token features, each (len(starts), Nt, D) float32 tensors."""
        import torch
        import torch.nn.functional as F

        from evaluate.encoders.hf import preprocess

        self.check_window(context, horizon)
        if starts and starts[-1] + context + horizon > len(frames):
            raise ValueError(f"window at {starts[-1]} + {context} + {horizon} frames runs past the clip ({len(frames)})")
        enc = self.encoder
        x = preprocess([frames], enc.prep, enc.device, enc.dtype)[0]  # (T, 3, h, w)
        per_step = (enc.prep.height // self.patch) * (enc.prep.width // self.patch)
        n_ctx = context // self.tubelet * per_step
        n_tgt = horizon // self.tubelet * per_step
        preds, targets = [], []
        with torch.inference_mode():
            for i in range(0, len(starts), self.window_batch):
                chunk = starts[i:i + self.window_batch]
                b = len(chunk)
                ctx = torch.stack([x[s:s + context] for s in chunk])
                full = torch.stack([x[s:s + context + horizon] for s in chunk])
                ctx_tokens = self.model.encoder(pixel_values_videos=ctx).last_hidden_state  # the context alone
                ctx_mask = [torch.arange(n_ctx, device=x.device).unsqueeze(0).repeat(b, 1)]
                tgt_mask = [torch.arange(n_ctx, n_ctx + n_tgt, device=x.device).unsqueeze(0).repeat(b, 1)]
                pred = self.model.predictor(encoder_hidden_states=ctx_tokens, context_mask=ctx_mask,
                                            target_mask=tgt_mask).last_hidden_state
                target = self.model.encoder(pixel_values_videos=full).last_hidden_state[:, n_ctx:n_ctx + n_tgt]
                target = F.layer_norm(target.float(), (target.shape[-1],))
                preds.append(pred.float())
                targets.append(target)
        return torch.cat(preds), torch.cat(targets)

    def surprise(self, frames, context, horizon, starts):
        t0 = time.perf_counter()
        pred, target = self.predict(frames, context, horizon, starts)
        out = (pred - target).abs().mean(dim=(1, 2)).cpu().numpy().astype(np.float64)
        if self.encoder.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        self.timings["forward_s"] += time.perf_counter() - t0
        self.timings["clips"] += 1
        return out


def build_surprise_model(text: str, device: str = "auto") -> SurpriseModel:
    """``extrapolate[,order=,size=]`` or a V-JEPA 2 spec (``vjepa2:...``, ``random-vjepa2...``)."""
    if text.split(",")[0].split(":")[0] == EXTRAPOLATE:
        return PixelExtrapolation(text)
    return VJEPA2Surprise(text, device=device)
