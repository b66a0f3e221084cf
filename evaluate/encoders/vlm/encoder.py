"""Multimodal LLMs reading the frames: ``vlm:<id|dir>`` (encoder mode) and ``vlm-zero-shot:<id|dir>``.

Both feed a clip's frames as a video through the checkpoint's chat template (a user turn: the video,
then a text), as the field prompts these models, and read the LLM (never a generation):

- ``vlm:`` asks a fixed neutral prompt (:data:`evaluate.encoders.vlm.prompts.NEUTRAL_PROMPT`) and
  embeds the clip as the LLM's hidden states at ``layer`` (default the last, after the final norm),
  averaged over the video's tokens (``pool=visual``) or at the prompt's last token (``pool=last``,
  where the model has read the video and the prompt). Probed like any encoder.
- ``vlm-zero-shot:`` asks each question its dataset declares and caches the log-probability of each
  answer letter as the next token (:mod:`evaluate.encoders.vlm.zero_shot` reads them as rows).

Frames: ``frames=N`` (default 8, evenly spaced) or ``step=S`` as for the video encoders
(:func:`evaluate.encoders.base.select_frames`); every view goes through the same selection.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from evaluate.encoders.base import Encoder, frame_options, register, select_frames
from evaluate.encoders.hf import select_hidden
from evaluate.encoders.vlm.model import VLM
from evaluate.encoders.vlm.prompts import NEUTRAL_PROMPT, answer_letters
from evaluate.encoders.vlm.zero_shot import ZERO_SHOT, answer_width, questions_at
from evaluate.errors import EncoderError

DEFAULT_FRAMES = 8  # LLaVA-OneVision's evaluations sample 8 to 32 frames; 8 keeps a clip's prompt short
FRAME_OPTIONS = {
    "frames": f"N frames per clip, evenly spaced (default {DEFAULT_FRAMES}), or with step=S the first N of every "
              f"S-th frame",
    "step": "take every S-th frame first, from the first",
}
POOLS = ("visual", "last")


class VideoLLM(Encoder):
    """What both modes share: the loaded VLM and the frames it reads."""

    role = "llm-album"
    arg_required = arg_allowed = True

    def __init__(self, spec, device="cpu"):
        super().__init__(spec, device)
        self.frames, self.step = frame_options(self)
        if self.frames is None and self.step is None:
            self.frames = DEFAULT_FRAMES
        self.vlm = VLM(self.kind, self.name, self.spec.arg, device, self.notes)
        self.device = self.vlm.device

    def frames_for_model(self, clips: list[np.ndarray]) -> list[np.ndarray]:
        with self.timed("preprocess_s"):
            return [select_frames(c, self.frames, self.step, self.notes) for c in clips]

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "checkpoint": self.vlm.checkpoint, "preprocessing": self.vlm.prep.to_dict(),
                "frames": self.frames, "step": self.step, "dtype": str(self.vlm.dtype).removeprefix("torch.")}

    def by_length(self, clips: list[np.ndarray], encode: Any) -> np.ndarray:
        """``encode`` on runs of clips of one length (the prompt's length follows the frame count)."""
        if len({len(c) for c in clips}) <= 1:
            return encode(clips)
        return np.concatenate([encode([c]) for c in clips])


@register
class VideoLLMEncoder(VideoLLM):
    kind = "vlm"
    description = ("multimodal LLM reading the frames as a video (transformers AutoModelForImageTextToText, "
                   "LLaVA-OneVision): its LLM's hidden states under a neutral prompt, hub id or local dir")
    example = "vlm:llava-hf/llava-onevision-qwen2-0.5b-ov-hf"
    option_help = {
        "pool": "visual (default: the mean of the LLM's hidden states over the video's tokens) or last (the "
                "prompt's last token, which has read the video and the prompt)",
        "layer": "the LLM's hidden_states[layer]: 0 the input embeddings, 1..L the blocks' outputs, negative "
                 "from the end (default: the last, after the final norm)",
        **FRAME_OPTIONS,
    }

    def __init__(self, spec, device="cpu"):
        self.pool = spec.options.get("pool", "visual")
        if self.pool not in POOLS:  # before loading
            raise EncoderError(f"{spec.text}: pool={self.pool!r}; use pool=visual (the mean over the video's "
                               f"tokens) or pool=last (the prompt's last token)")
        super().__init__(spec, device)
        self.layer = self.option("layer", None, int)

    def identity(self):
        return {**super().identity(), "prompt": NEUTRAL_PROMPT, "pool": self.pool, "layer": self.layer}

    def encode(self, clips: list[np.ndarray]) -> np.ndarray:
        return self.by_length(self.frames_for_model(clips), self._embed)

    def _embed(self, clips: list[np.ndarray]) -> np.ndarray:
        with self.timed("forward_s"):
            out, video = self.vlm.run(clips, NEUTRAL_PROMPT, hidden_states=True)
            states = out.hidden_states
            hidden = select_hidden(SimpleNamespace(last_hidden_state=states[-1], hidden_states=states),
                                   self.layer, self.name).float()
            if self.pool == "visual":
                weights = video[..., None].float()
                pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1)
            else:
                pooled = hidden[:, -1]
            result = pooled.cpu().numpy().astype(np.float32)
        self.timings["clips"] += len(clips)
        return result


@register
class VideoLLMZeroShot(VideoLLM):
    kind = "vlm-zero-shot"
    description = ("multimodal LLM answering each target's question (declared by its family) from the frames: "
                   "the answer letter's log-probability, scored with no probe (rows with probe=zero-shot)")
    example = "vlm-zero-shot:llava-hf/llava-onevision-qwen2-0.5b-ov-hf"
    option_help = FRAME_OPTIONS

    def identity(self):
        return {**super().identity(), "mode": ZERO_SHOT}

    def encode(self, clips: list[np.ndarray]) -> np.ndarray:
        raise EncoderError(f"{self.name}: the zero-shot mode answers its dataset's questions; it runs in "
                           f"`evaluate run`, which gives it each clip's dataset")

    def encode_views_async(self, clips, frames, needs, memo=None):
        """Each view of each clip asked every question of the clip's dataset (``clips[i].root``)."""
        from evaluate.data.views import apply_view, rows_by_view

        for view, rows in rows_by_view(needs):
            views = [np.ascontiguousarray(apply_view(view, frames[i], clips[i].clip_id)) for i in rows]
            answers = self.answers([Path(clips[i].root) for i in rows], views)
            yield view, [clips[i] for i in rows], lambda answers=answers: answers

    def answers(self, roots: list[Path], clips: list[np.ndarray]) -> np.ndarray:
        """(B, width) answer vectors: per question of the clip's dataset its tag, then the
        log-probability of each answer letter (normalised over the whole vocabulary)."""
        clips = self.frames_for_model(clips)
        out = np.zeros((len(clips), max(answer_width(questions_at(r)) for r in roots)), np.float32)
        for root in dict.fromkeys(roots):
            rows = [i for i, r in enumerate(roots) if r == root]
            for question in questions_at(root):
                letters = self.vlm.letter_ids(answer_letters(question.classes))

                def ask(batch: list[np.ndarray], letters=letters, text=question.text) -> np.ndarray:
                    return self._ask(batch, text, letters)

                logp = self.by_length([clips[i] for i in rows], ask)
                out[rows, question.start] = question.tag
                out[np.ix_(rows, range(question.start + 1, question.start + 1 + len(letters)))] = logp
        self.timings["clips"] += len(clips)
        return out

    def _ask(self, clips: list[np.ndarray], text: str, letters: list[int]) -> np.ndarray:
        import torch

        with self.timed("forward_s"):
            out, _ = self.vlm.run(clips, text, hidden_states=False)
            logp = torch.log_softmax(out.logits[:, -1].float(), dim=-1)[:, letters]
            return logp.cpu().numpy().astype(np.float32)
