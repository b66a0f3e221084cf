"""The album: an image model reads each frame on its own. ``image:<id|dir>`` (CLIP, SigLIP or DINOv2
vision tower, via AutoModel); ``random-image[:size]`` (evaluate/encoders/random_image.py) is its
random-weight control. :class:`FrameEncoder` is what both share.

Readout: per frame, the model's pooled output (else the mean of its last tokens), or with ``layer=N``
the mean of ``hidden_states[N]``'s tokens (:meth:`FrameEncoder.frame_vectors`, the one place a frame's
vector is read). ``pool=time`` (default) keeps the frame vectors **in time order**, concatenated: the
fair album, which can read order as the video encoders' ``pool=time`` can. ``pool=mean`` averages them,
an order-blind bag of frames (the weaker straw man). ``pool=trajectory`` reads the frame vectors as a
path through feature space (:mod:`evaluate.trajectory`, after GeoPhys), the strongest published album
reader.

Frames: ``frames=N`` and ``step=S`` select frames exactly as the video encoders do
(:func:`evaluate.encoders.base.select_frames`), so an album and a tubelet model given the same options
see the same frames.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from evaluate.encoders.base import Encoder, frame_options, register, select_frames
from evaluate.encoders.batch_memo import remembered
from evaluate.encoders.device_views import device_views, stacked_as_is
from evaluate.encoders.hf import (
    check_pool,
    checkpoint_tensor_digests,
    hash_weights,
    load_pretrained,
    model_dtype,
    pick_device,
    preprocess,
    preprocess_tensor,
    preprocessing_key,
    read_preprocessing,
    resolve_checkpoint,
    select_hidden,
    to_host_async,
    weights_digest,
)
from evaluate.encoders.layer_sweep import LAYERS_HELP, parse_layers
from evaluate.trajectory import TRAJECTORY, TRAJECTORY_HELP, trajectory_when_ready

FRAME_OPTIONS = {
    "pool": "time (default: the frame embeddings concatenated in time order), mean (their average: order-blind) or "
            + TRAJECTORY_HELP,
    "layer": "per frame, the mean of hidden_states[layer]'s tokens (0: the patch embedding, 1..L the blocks, "
             "negative from the end) instead of the final output",
    "layers": LAYERS_HELP + " (per frame, the mean of each layer's tokens)",
    "frames": "N frames per clip: resampled at evenly spaced indices, or with step=S the first N of every S-th "
              "frame (as the video encoders)",
    "step": "take every S-th frame first, from the first (as the video encoders); a clip too short for frames=N "
            "repeats its last sampled frame",
}


class FrameEncoder(Encoder):
    """An image model applied frame by frame. Subclasses set ``self.prep`` and the model in ``_load`` and
    run it in :meth:`_outputs`; pooling, frame selection and batching live here."""

    option_help = FRAME_OPTIONS
    role = "album"

    def __init__(self, spec, device="cpu"):
        super().__init__(spec, device)
        pool = self.option("pool", "time")
        self.pool = pool if pool == TRAJECTORY else check_pool(self.kind, pool)
        self.layer = self.option("layer", None, int)
        self.frames, self.step = frame_options(self)
        self.device = pick_device(device)
        self.dtype = model_dtype(self.device)
        self._load()
        self.layers = parse_layers(self.name, self.spec.options.get("layers"), self._block_count())

    def _block_count(self) -> int:
        """L, the model's blocks (what layers= may name); a subclass that keeps its model elsewhere than
        ``self.model`` says so."""
        return int(self.model.config.num_hidden_layers)

    def _load(self) -> None:
        """Set ``self.prep``, ``self.checkpoint``, ``self.encoder_sha256`` and the model, on the device."""
        raise NotImplementedError

    def _outputs(self, images: Any, hidden_states: bool) -> Any:
        """The model's transformers output for (N, 3, h, w) preprocessed frames."""
        raise NotImplementedError

    def frame_vectors(self, outputs: Any, layer: int | None = None) -> Any:
        """(N, D) float32: one vector per frame, read from the model's outputs (see the module doc);
        ``layer``: that layer's (a sweep's), in place of ``self.layer``."""
        layer = self.layer if layer is None else layer
        if layer is not None:
            return select_hidden(outputs, layer, self.name).float().mean(dim=1)
        pooled = getattr(outputs, "pooler_output", None)
        return (pooled if pooled is not None else outputs.last_hidden_state.mean(dim=1)).float()

    def identity(self) -> dict[str, Any]:
        """``encoder_sha256``: sha256 of the model's tensors as float32 values (see the video encoders)."""
        return {"kind": self.kind, "checkpoint": self.checkpoint, "encoder_sha256": self.encoder_sha256,
                "preprocessing": self.prep.to_dict(), "pool": self.pool, "layer": self.layer, "frames": self.frames,
                "step": self.step, "dtype": str(self.dtype).removeprefix("torch."),
                **({"layers": self.layers} if self.layers else {})}

    def encode(self, clips: list[np.ndarray]) -> np.ndarray:
        return self.encode_async(clips)()

    def encode_async(self, clips: list[np.ndarray]) -> Callable[[], np.ndarray]:
        with self.timed("preprocess_s"):
            clips = [select_frames(c, self.frames, self.step, self.notes) for c in clips]
            if len({len(c) for c in clips}) > 1:  # mixed lengths: one forward per clip
                result = np.concatenate([self.encode([c]) for c in clips])
                return lambda: result
            x = preprocess(clips, self.prep, self.device, self.dtype)  # (B, T, 3, h, w)
        return self._encode_tensor_async(x)

    def encode_views_async(self, clips, frames, needs, memo=None):
        """Every view from one copy and one resize of the original frames
        (:func:`evaluate.encoders.device_views.device_views`), when the encoder reads every frame as it is;
        with frames= or step=, which select from each view, the default way. With the batch's ``memo``, the
        frame vectors of a view are computed once for every readout of the same model (``pool=time``,
        ``mean`` and ``trajectory`` read the same forward)."""
        if not stacked_as_is(frames, lambda clip: select_frames(clip, self.frames, self.step, self.notes)):
            yield from super().encode_views_async(clips, frames, needs)
            return
        for view, rows, xv in device_views(clips, frames, needs, self.device,
                                           lambda raw: preprocess_tensor(raw, self.prep, self.dtype),
                                           lambda: self.timed("preprocess_s"), memo,
                                           preprocessing_key(self.prep, self.dtype)):
            yield view, [clips[i] for i in rows], self._encode_tensor_async(xv, memo, (view, tuple(rows)))

    def _forward_key(self) -> tuple:
        """What the frame vectors depend on besides the frames: the weights and how they are read."""
        return ("frame_vectors", self.kind, self.encoder_sha256, preprocessing_key(self.prep, self.dtype),
                self.layer, tuple(self.layers or ()), str(self.device))

    def _per_frame(self, x: Any) -> Any:
        """(B, T, D) frame vectors (a sweep: (B, layers, T, D)) of a preprocessed (B, T, 3, h, w) batch."""
        import torch

        b, t = x.shape[:2]
        outputs = self._outputs(x.flatten(0, 1), self.layer is not None or self.layers is not None)
        if self.layers:  # a sweep: every layer from this one forward, (B, layers, T, D)
            return torch.stack([self.frame_vectors(outputs, layer).reshape(b, t, -1) for layer in self.layers], dim=1)
        return self.frame_vectors(outputs).reshape(b, t, -1)

    def _encode_tensor_async(self, x: Any, memo: dict | None = None, part: tuple = ()) -> Callable[[], np.ndarray]:
        """Queue the forward of a preprocessed (B, T, 3, h, w) batch; return a function that waits. With
        ``memo``, the frame vectors are kept there under this model's forward key and ``part`` (the view and
        its rows), or read from there when another readout of the same model computed them."""
        import torch

        b, t = x.shape[:2]
        with self.timed("forward_s"), torch.inference_mode():
            per_frame = remembered(memo, (self._forward_key(), part), lambda: self._per_frame(x))
            pooled = per_frame.mean(dim=-2) if self.pool == "mean" else per_frame.flatten(-2)
            result = to_host_async(pooled, np.float32)  # queued: the caller can queue the next batch first
        self.timings["clips"] += b
        if self.pool == TRAJECTORY:  # the geometry of the frame vectors, on the host (a few numbers per clip)
            result = trajectory_when_ready(result, t, self.name)
        return self.timed_wait(result)


@register
class ImageAlbum(FrameEncoder):
    kind = "image"
    description = ("the album: an image model (CLIP/SigLIP/DINOv2 vision tower) per frame, frame embeddings in time "
                   "order (pool=time; mean and trajectory too)")
    example = "image:facebook/dinov2-small"
    arg_required = arg_allowed = True

    def _load(self):
        from transformers import AutoModel

        directory = resolve_checkpoint(self.kind, self.spec.arg)
        model = load_pretrained(AutoModel, directory, self.name, self.dtype, self.device)
        # CLIP / SigLIP load as a dual model; the album needs only the vision tower.
        self.tower = getattr(model, "vision_model", model)
        vision_cfg = getattr(model.config, "vision_config", model.config)
        self.prep = read_preprocessing(directory, int(vision_cfg.image_size), self.notes)
        self.checkpoint = {"source": self.spec.arg, "weights_sha256": hash_weights(directory),
                           "model_type": model.config.model_type}
        # The tower's tensors as the checkpoint names them (vision_model.* in a CLIP or SigLIP checkpoint).
        prefix = "vision_model." if self.tower is not model else ""
        stored = checkpoint_tensor_digests(directory, prefixes=(f"{model.base_model_prefix}.",))
        self.encoder_sha256 = weights_digest(stored, [prefix + n for n in self.tower.state_dict()], "image tower",
                                             self.notes)
        self.tower.eval().to(self.device)

    def _block_count(self):
        return int(self.tower.config.num_hidden_layers)

    def _outputs(self, images, hidden_states):
        return self.tower(pixel_values=images, output_hidden_states=hidden_states)
