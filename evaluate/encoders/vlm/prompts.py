"""What the VLM is asked: the neutral prompt of the encoder mode, the conversation each prompt is put
in (the checkpoint's own chat template, a video then the text), and the answer letters of the
zero-shot mode.

A family declares a target's question in words beside the target (simgen's ``TargetInfo.question``,
written to dataset.json). The question names its answers by letter in the order of the target's
classes: for ``classes=("falling", "rising")``, "Is the object falling or rising? Answer A or B." means
A = falling, B = rising. The model's answer is read from the log-probabilities of the letters as its
next token, never generated.
"""

from __future__ import annotations

import hashlib
import json
import string
from pathlib import Path
from typing import Any

from evaluate.errors import EncoderError

# The encoder mode's prompt: says nothing about any target, so the hidden states are not steered to one.
NEUTRAL_PROMPT = "Describe the video."
LETTERS = string.ascii_uppercase
# Where a checkpoint keeps its processor's chat template (the tokenizer's own may not know videos).
TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


def answer_letters(classes: tuple[str, ...] | list[str]) -> list[str]:
    """The letters that name ``classes`` in a question: A for the first class, B for the second..."""
    if len(classes) > len(LETTERS):
        raise EncoderError(f"a question over {len(classes)} classes: at most {len(LETTERS)} answer letters")
    return list(LETTERS[:len(classes)])


def question_tag(question: str, classes: tuple[str, ...] | list[str]) -> float:
    """A 24-bit tag of a question and its classes, exact in float32: stored beside the answers in the
    cache, so answers cached for another wording are caught when read (the cache key does not hold the
    question: it is the dataset's, not the encoder's)."""
    digest = hashlib.sha256(json.dumps([question, list(classes)]).encode()).digest()
    return float(int.from_bytes(digest[:3], "big"))


def chat_template(directory: Path, tokenizer: Any, name: str) -> str:
    """The checkpoint's processor chat template (chat_template.jinja or .json), else the tokenizer's."""
    for fname in TEMPLATE_FILES:
        path = directory / fname
        if path.is_file():
            text = path.read_text()
            return text if fname.endswith(".jinja") else json.loads(text)["chat_template"]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.chat_template
    raise EncoderError(f"{name}: {directory} has no chat template ({', '.join(TEMPLATE_FILES)} or the tokenizer's); "
                       f"is it an instruction-tuned VLM checkpoint?")


def video_prompt(tokenizer: Any, template: str, text: str) -> str:
    """``text`` after one video, as a user turn, then the assistant's turn opened (what the model
    answers from). The video stands for one placeholder token, expanded later to its frames' tokens."""
    conversation = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": text}]}]
    return tokenizer.apply_chat_template(conversation, chat_template=template, add_generation_prompt=True,
                                         tokenize=False)
