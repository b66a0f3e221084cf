"""Encoder registry: importing this package registers every encoder kind."""

from evaluate.encoders import (  # noqa: F401  (registration)
    cnn3d,
    image,
    oracle,
    pixels,
    random_image,
    timesformer,
    track,
    vjepa2,
    vlm,
)
from evaluate.encoders.base import ENCODERS, Encoder, EncoderSpec, build_encoder, parse_spec

__all__ = ["ENCODERS", "Encoder", "EncoderSpec", "build_encoder", "parse_spec"]
