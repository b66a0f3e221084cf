"""``random-image[:size]``: the album's random-weight control, architecture-matched to ``random-vjepa2``.

It is V-JEPA 2's own encoder (transformers ``VJEPA2Model``) of the same size, with a tubelet of **one**
frame, applied to each frame alone: a 2-D ViT with the same width, depth, heads, MLP ratio, 16-pixel
patches, crop, RoPE and initial distribution as ``random-vjepa2`` of that size (``RANDOM_SIZES`` in
evaluate/encoders/vjepa2.py; tiny is 96 wide, 2 blocks, 4 heads, 32-pixel crop). Its weights are drawn
once from the seed by :func:`evaluate.encoders.vjepa2.draw_random`. What differs from the tubelet
model is only what the question is about: a patch spans one frame instead of two, and no token attends
across time. A frame's vector is the mean of its tokens, as each tubelet step's is in
``random-vjepa2,pool=time``. Options and pooling are the album's (evaluate/encoders/image.py).

With random weights neither model knows physics; the pair shows what the architecture alone gives a
reader of the frames in order, against one whose tokens mix neighbouring frames.
"""

from __future__ import annotations

from evaluate.encoders.base import register
from evaluate.encoders.image import FRAME_OPTIONS, FrameEncoder
from evaluate.encoders.vjepa2 import RANDOM_SIZES, draw_random

DEFAULT_SIZE = "large"


@register
class RandomImage(FrameEncoder):
    kind = "random-image"
    description = ("the album's random-weight control: random-vjepa2's encoder of the same size with a one-frame "
                   f"tubelet, per frame (seed 0, or seed=N); sizes {', '.join(RANDOM_SIZES)} (default {DEFAULT_SIZE})")
    example = "random-image:tiny"
    arg_required = False
    arg_allowed = True
    option_help = {**FRAME_OPTIONS, "seed": "seed of the random weights (default 0); several seeds give a spread"}

    def _load(self):
        self.seed = self.option("seed", 0, int)
        model, checkpoint, self.prep, self.encoder_sha256 = draw_random(self.kind, self.spec.arg or DEFAULT_SIZE,
                                                                        self.seed, tubelet=1)
        self.model = model.to(self.dtype).eval().to(self.device)
        self.patch = int(model.config.patch_size)
        self.checkpoint = {**checkpoint, "patch": self.patch, "tubelet": 1}

    def _outputs(self, images, hidden_states):
        # Each frame is a clip of one frame: (N, 1, 3, h, w).
        return self.model(pixel_values_videos=images[:, None], skip_predictor=True,
                          output_hidden_states=hidden_states)
