"""Multimodal LLMs reading the frames (the LLM album): ``vlm:`` embeds, ``vlm-zero-shot:`` answers."""

from evaluate.encoders.vlm import encoder  # noqa: F401  (registration)
