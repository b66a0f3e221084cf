"""``image:<id|dir>``: the album baseline. An image encoder (CLIP, SigLIP or DINOv2 vision tower,
via AutoModel) embeds each frame on its own; the frame embeddings are averaged. This reads a
clip as a bag of frames: exactly what a model that understands time should beat."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from evaluate.encoders.base import Encoder, register, resample_frames
from evaluate.encoders.hf import (
    check_pool,
    checkpoint_tensor_digests,
    hash_weights,
    load_pretrained,
    model_dtype,
    pick_device,
    preprocess,
    read_preprocessing,
    resolve_checkpoint,
    to_host_async,
    weights_digest,
)


@register
class ImageAlbum(Encoder):
    kind = "image"
    description = "image model (CLIP/SigLIP/DINOv2 vision tower) per frame, frame embeddings averaged"
    example = "image:facebook/dinov2-small"
    arg_required = arg_allowed = True
    option_help = {
        "pool": "mean (average of frame embeddings, default) or time (frame embeddings concatenated)",
        "layer": "per frame, mean of hidden_states[layer] tokens instead of the pooled output",
        "frames": "resample every clip to this many frames first",
    }

    def __init__(self, spec, device="cpu"):
        from transformers import AutoModel

        super().__init__(spec, device)
        self.pool = check_pool(self.kind, self.option("pool", "mean"))
        self.layer = self.option("layer", None, int)
        self.frames = self.option("frames", None, int)
        self.device = pick_device(device)
        self.dtype = model_dtype(self.device)
        directory = resolve_checkpoint(self.kind, spec.arg)
        model = load_pretrained(AutoModel, directory, self.name, self.dtype, self.device)
        # CLIP / SigLIP load as a dual model; the album needs only the vision tower.
        self.tower = getattr(model, "vision_model", model)
        vision_cfg = getattr(model.config, "vision_config", model.config)
        self.prep = read_preprocessing(directory, int(vision_cfg.image_size), self.notes)
        self.checkpoint = {"source": spec.arg, "weights_sha256": hash_weights(directory),
                           "model_type": model.config.model_type}
        # The tower's tensors as the checkpoint names them (vision_model.* in a CLIP or SigLIP checkpoint).
        prefix = "vision_model." if self.tower is not model else ""
        stored = checkpoint_tensor_digests(directory, prefixes=(f"{model.base_model_prefix}.",))
        self.encoder_sha256 = weights_digest(stored, [prefix + n for n in self.tower.state_dict()], "image tower",
                                             self.notes)
        self.tower.eval().to(self.device)

    def identity(self) -> dict[str, Any]:
        """``encoder_sha256``: sha256 of the tower's tensors as float32 values (see the video encoders)."""
        return {"kind": self.kind, "checkpoint": self.checkpoint, "encoder_sha256": self.encoder_sha256,
                "preprocessing": self.prep.to_dict(),
                "pool": self.pool, "layer": self.layer, "frames": self.frames,
                "dtype": str(self.dtype).removeprefix("torch.")}

    def encode(self, clips: list[np.ndarray]) -> np.ndarray:
        return self.encode_async(clips)()

    def encode_async(self, clips: list[np.ndarray]) -> Callable[[], np.ndarray]:
        import torch

        with self.timed("preprocess_s"):
            if self.frames:
                clips = [resample_frames(c, self.frames) for c in clips]
            if len({len(c) for c in clips}) > 1:
                result = np.concatenate([self.encode([c]) for c in clips])
                return lambda: result
            x = preprocess(clips, self.prep, self.device, self.dtype)  # (B, T, 3, h, w)
        b, t = x.shape[:2]
        with self.timed("forward_s"), torch.inference_mode():
            out = self.tower(pixel_values=x.flatten(0, 1), output_hidden_states=self.layer is not None)
            if self.layer is not None:
                per_frame = out.hidden_states[self.layer].mean(dim=1)
            elif getattr(out, "pooler_output", None) is not None:
                per_frame = out.pooler_output
            else:
                per_frame = out.last_hidden_state.mean(dim=1)
            per_frame = per_frame.float().reshape(b, t, -1)
            pooled = per_frame.mean(dim=1) if self.pool == "mean" else per_frame.reshape(b, -1)
            result = to_host_async(pooled, np.float32)  # queued: the caller can queue the next batch first
        self.timings["clips"] += b
        return self.timed_wait(result)
