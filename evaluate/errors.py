"""Exceptions a user can act on; the CLI prints their message as one red line."""

from __future__ import annotations


class EvaluateError(RuntimeError):
    """Base class: a run that cannot go on as asked."""


class EncoderError(EvaluateError):
    """An encoder spec that cannot be parsed or built."""


class WeightsMissingError(EncoderError):
    """A checkpoint that is neither on disk nor downloadable."""


class BadClipError(EvaluateError):
    """A clip that cannot be decoded (truncated or corrupt mp4)."""

    def __init__(self, message: str, dataset: str, split: str, clip_id: str):
        super().__init__(message)
        self.dataset, self.split, self.clip_id = dataset, split, clip_id
