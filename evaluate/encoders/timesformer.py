"""TimeSformer through transformers (``TimesformerModel``): ``timesformer:<id|dir>``, the
frame-tokenizer of the argument simgen tests. Each frame is cut into 2-D patches on its own (no patch
spans two frames, unlike V-JEPA 2's tubelets); time enters only through attention, divided into a
temporal then a spatial step in every block.

Everything else is :class:`evaluate.encoders.vjepa2.VideoTransformer`'s: local or hub checkpoints, the
checkpoint's preprocessing (its preprocessor json: crop size, mean, std; ``resize=hf`` its shortest
edge then a centre crop), ``pool``, ``layer``/``layers``, ``frames``/``step``, and the cache keyed by
the encoder's tensors. TimeSformer's blocks read the frame count and the image size from the config
(``num_frames``, ``image_size``), so clips are resampled to ``num_frames`` (as VideoMAE's) and frames
go in at ``image_size``.

Tokens: the model emits [CLS] then the patch tokens patch-major (patch p of frame t at 1 + p·T + t).
The readout drops [CLS] and reorders them time-major, so ``pool=time`` is the mean over space of
each frame, concatenated in time order, as for the tubelet models (a tubelet of one frame).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from evaluate.encoders.base import register
from evaluate.encoders.hf import processor_short_edge
from evaluate.encoders.vjepa2 import VideoTransformer
from evaluate.errors import EncoderError


def time_major(tokens: Any, frames: int) -> Any:
    """(B, 1 + N·T, D) TimeSformer tokens ([CLS], then patch-major) -> (B, T·N, D) time-major, [CLS] dropped."""
    b, n, d = tokens.shape
    patches = tokens[:, 1:]
    if (n - 1) % frames:
        raise EncoderError(f"timesformer: {n - 1} patch tokens do not split into {frames} frames")
    return patches.reshape(b, (n - 1) // frames, frames, d).transpose(1, 2).reshape(b, n - 1, d)


@register
class Timesformer(VideoTransformer):
    kind = "timesformer"
    role = "frame-tokenizer"
    description = ("TimeSformer video transformer (transformers TimesformerModel; 2-D patches per frame, divided "
                   "space-time attention), hub id or local dir")
    example = "timesformer:facebook/timesformer-base-finetuned-k400"
    arg_required = arg_allowed = True

    def _load(self):
        from transformers import TimesformerModel

        model, checkpoint, prep = self._load_pretrained(TimesformerModel, "image_size")
        cfg = model.config
        if cfg.attention_type != "divided_space_time":  # space_only runs each frame apart: another layout
            raise EncoderError(f"{self.name}: attention_type={cfg.attention_type!r}; only divided_space_time "
                               f"checkpoints (every published TimeSformer) are supported")
        if (prep.height, prep.width) != (cfg.image_size, cfg.image_size):
            raise EncoderError(f"{self.name}: the preprocessor's crop {prep.height}x{prep.width} is not the model's "
                               f"image_size {cfg.image_size}; TimeSformer's blocks take image_size only")
        self.fixed_frames = int(cfg.num_frames)
        return model, checkpoint, prep

    def _short_edge(self):
        # TimeSformer ships VideoMAE's image processor: shortest edge to size.shortest_edge, then the crop.
        return processor_short_edge(self.directory) or self.prep.height

    def _outputs(self, x, hidden_states):
        out = self.model(pixel_values=x, output_hidden_states=hidden_states)
        frames = x.shape[1]
        states = tuple(time_major(h, frames) for h in out.hidden_states) if hidden_states else None
        return SimpleNamespace(last_hidden_state=time_major(out.last_hidden_state, frames), hidden_states=states)
