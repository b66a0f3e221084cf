"""What an encoder stands for in the verdict: its role, one of a fixed vocabulary.

The argument simgen tests names kinds of models, not models: V-JEPA 2's **tubelets** (patches that span
frames), **3D kernels** (C3D, I3D, SlowFast: convolutions over space and time), **frame-tokenizers**
(TimeSformer: a 2-D ViT per frame, time fused afterwards by attention), the **album** (an image model
reading frames one by one), the **LLM album** (a multimodal LLM leafing through the frames), plus
**pixels** (the frames themselves, downsampled) and **controls** (oracles and trackers, which certify a
task rather than compete on it). Each encoder class declares one (``Encoder.role``).

The ids are stable strings written into ``results.json``; :data:`ROLE_LABELS` is how a reader sees them.
:data:`ROLES` is the verdict's order: in every pair the earlier role is side ``a``, so a positive
difference reads "the tubelet (or the 3D kernel...) is ahead". Kept free of imports so the report can
read it without loading any encoder.
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["tubelet", "3d-kernel", "frame-tokenizer", "album", "llm-album", "pixels", "control"]
ROLES: tuple[str, ...] = get_args(Role)
ROLE_LABELS: dict[str, str] = {
    "tubelet": "tubelet",
    "3d-kernel": "3D kernel",
    "frame-tokenizer": "frame-tokenizer",
    "album": "album",
    "llm-album": "LLM album",
    "pixels": "pixels",
    "control": "control",
}
# One sentence each: what a model of that role is, for the report's encoder list.
ROLE_TEXT: dict[str, str] = {
    "tubelet": "tubelet: the video model under test (patches that span frames)",
    "3d-kernel": "3D kernel: convolutions over space and time (C3D, I3D, SlowFast, X3D)",
    "frame-tokenizer": "frame-tokenizer: a 2-D transformer per frame, time fused afterwards",
    "album": "album: frames read one at a time",
    "llm-album": "LLM album: a multimodal LLM leafing through the frames",
    "pixels": "pixel baseline",
    "control": "control: a yardstick, not a contender",
}


def role_label(role: str | None) -> str:
    """The reader's name of a role id (an unknown id, from a newer run, as it is)."""
    return ROLE_LABELS.get(role or "pixels", role or "pixels")
