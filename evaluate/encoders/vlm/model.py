"""A video-capable VLM from a transformers checkpoint: its model, tokenizer, chat template and video
preprocessing, and one forward over a batch of clips with a prompt.

Loaded through the Auto classes (AutoModelForImageTextToText, AutoTokenizer), so the code is the
same for every family; what differs by family is how many placeholder tokens a video of T frames
takes in the prompt, which :data:`VIDEO_TOKENS` says. LLaVA-OneVision is the tested family.

transformers' video processors need torchvision, which cannot be installed beside the pinned torch,
so the frames are resized and normalised here (evaluate.encoders.hf.preprocess: bilinear with
antialiasing to the checkpoint's video size, then its mean and std; the processor resizes bicubic),
and the placeholder is expanded here as the family's processor does (``replace_video_token``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.encoders.hf import (
    Preprocessing,
    hash_weights,
    load_pretrained,
    model_dtype,
    pick_device,
    preprocess,
    read_preprocessing,
    resolve_checkpoint,
)
from evaluate.encoders.vlm.prompts import chat_template, video_prompt
from evaluate.errors import EncoderError


def llava_onevision_video_tokens(config: Any, frames: int) -> int:
    """LlavaOnevisionProcessor.replace_video_token: each frame's patch grid pooled 2x2 (rounded up),
    then one newline token after the video."""
    side = config.vision_config.image_size // config.vision_config.patch_size
    return frames * math.ceil(side / 2) ** 2 + 1


# model_type -> the number of placeholder tokens a video of T frames takes in the prompt
VIDEO_TOKENS: dict[str, Callable[[Any, int], int]] = {"llava_onevision": llava_onevision_video_tokens}


class VLM:
    """A loaded VLM: ``run(clips, text)`` gives its output and the mask of the video tokens."""

    def __init__(self, kind: str, name: str, arg: str, device: str, notes: list[str]):
        from transformers import AutoModelForImageTextToText, AutoTokenizer

        self.name, self.device = name, pick_device(device)
        self.dtype = model_dtype(self.device)
        directory = resolve_checkpoint(kind, arg)
        config = json.loads((directory / "config.json").read_text())
        model_type = config.get("model_type")
        if model_type not in VIDEO_TOKENS:
            raise EncoderError(f"{name}: model_type {model_type!r} is not a supported video VLM; supported: "
                               f"{', '.join(VIDEO_TOKENS)} (e.g. llava-hf/llava-onevision-qwen2-0.5b-ov-hf)")
        if config.get("vision_feature_select_strategy", "full") != "full":
            raise EncoderError(f"{name}: vision_feature_select_strategy={config['vision_feature_select_strategy']!r}; "
                               f"LLaVA-OneVision's video path pools the full patch grid ('full')")
        self.video_tokens = VIDEO_TOKENS[model_type]
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(directory))
        except (OSError, ValueError) as e:
            raise EncoderError(f"{name}: cannot load the tokenizer of {directory}: {str(e).splitlines()[0]}") from None
        self.template = chat_template(directory, self.tokenizer, name)
        self.model = load_pretrained(AutoModelForImageTextToText, directory, name, self.dtype, self.device)
        self.model.eval().to(self.device)
        self.config = self.model.config
        self.video_token_id = int(self.config.video_token_id)
        size = int(self.config.vision_config.image_size)
        prep = read_preprocessing(directory, size, notes)
        if (prep.height, prep.width) != (size, size):
            raise EncoderError(f"{name}: the video preprocessor's size {prep.height}x{prep.width} is not the vision "
                               f"tower's image_size {size}")
        self.prep: Preprocessing = prep
        self.checkpoint = {"source": arg, "weights_sha256": hash_weights(directory), "model_type": model_type,
                           "architecture": type(self.model).__name__, "template_sha256": _text_digest(self.template),
                           "tokenizer_sha256": _tokenizer_digest(directory)}

    def prompt_ids(self, text: str, frames: int) -> list[int]:
        """The token ids of ``text`` asked after a video of ``frames`` frames, its placeholder expanded."""
        prompt = video_prompt(self.tokenizer, self.template, text)
        ids = self.tokenizer(prompt)["input_ids"]
        if ids.count(self.video_token_id) != 1:
            raise EncoderError(f"{self.name}: the chat template put {ids.count(self.video_token_id)} video tokens in "
                               f"the prompt, not one")
        at = ids.index(self.video_token_id)
        return [*ids[:at], *[self.video_token_id] * self.video_tokens(self.config, frames), *ids[at + 1:]]

    def run(self, clips: list[np.ndarray], text: str, hidden_states: bool) -> tuple[Any, Any]:
        """(the model's output with the logits of the last position only, the (B, L) mask of the video
        tokens) for clips of one length, each asked ``text``."""
        import torch

        ids = torch.tensor([self.prompt_ids(text, len(clips[0]))] * len(clips), device=self.device)
        x = preprocess(clips, self.prep, self.device, self.dtype)
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values_videos=x,
                             output_hidden_states=hidden_states, logits_to_keep=1)
        return out, ids == self.video_token_id

    def letter_ids(self, letters: list[str]) -> list[int]:
        """The token id of each answer letter as the assistant's first token; refused when a letter
        is not one token of its own (its log-probability would be of another text)."""
        out = []
        for letter in letters:
            ids = self.tokenizer(letter, add_special_tokens=False)["input_ids"]
            if len(ids) != 1 or ids[0] == self.tokenizer.unk_token_id:
                raise EncoderError(f"{self.name}: answer letter {letter!r} is not one token of this tokenizer")
            out.append(ids[0])
        if len(set(out)) != len(out):
            raise EncoderError(f"{self.name}: answer letters {letters} share a token")
        return out


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _tokenizer_digest(directory: Path) -> str:
    """The tokenizer files' digest: another vocabulary is other prompt ids."""
    total = hashlib.sha256()
    for path in sorted(directory.glob("tokenizer*.json")) + sorted(directory.glob("*.model")):
        total.update(path.name.encode() + path.read_bytes())
    return total.hexdigest()[:16]
