"""V-JEPA 2 surprise (Garrido et al. 2025): ``vjepa2:<id|dir>``, ``random-vjepa2[:size][,seed=N]``.

For a window of a clip, the model sees ``context`` frames and predicts the next ``horizon``
frames in its own representation space; surprise is how far the prediction is from what
actually came.

- the context frames are encoded **alone**. ``VJEPA2Model.forward`` encodes the whole clip
  and only then selects the context tokens, so attention would let the future leak into the
  context (the no-leak test shows it does);
- ``model.predictor(encoder_hidden_states=ctx, context_mask=[0..Nc), target_mask=[Nc..Nc+Nt))``
  predicts the target tubelets; token indices run over (time, height, width), so the target
  positions are the tubelets right after the context;
- the target is the encoder's output for the whole window (context + horizon), layer-normed
  as in V-JEPA training, at the target positions; surprise is the mean L1 distance
  (V-JEPA's training loss).

The metrics live in ``evaluate/metrics.py``, the run in ``evaluate/tasks/surprise.py``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from evaluate.encoders.base import parse_spec
from evaluate.errors import EncoderError
from evaluate.surprise_models.base import SURPRISE_MODELS, PixelSurpriseModel


@SURPRISE_MODELS.add("random-vjepa2")
@SURPRISE_MODELS.add("vjepa2")
class VJEPA2Surprise(PixelSurpriseModel):
    """Context encoded alone, predictor to the next tubelets, L1 to the layer-normed target encoding."""

    def __init__(self, text: str, device: str = "auto", window_batch: int = 16):
        super().__init__()
        from evaluate.encoders import build_encoder

        spec = parse_spec(text)
        if spec.kind not in ("vjepa2", "random-vjepa2"):
            raise EncoderError(f"{text!r}: surprise needs a model with a predictor: vjepa2:<id|dir>, "
                               f"random-vjepa2[:size][,seed=N]")
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
