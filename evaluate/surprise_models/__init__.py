"""Surprise models for ``evaluate surprise``: V-JEPA 2, the album's ``trajectory:<encoder>`` (after GeoPhys),
and the controls (``extrapolate``, ``frame-classifier``, ``oracle``). ``base`` says what a model is and names them;
importing this package registers every model (each module registers itself and imports only ``base``)."""

from evaluate.surprise_models import (  # noqa: F401  (registration, in this order: `evaluate ls` lists it)
    extrapolate,
    frame_classifier,
    oracle,
    trajectory,
    vjepa2,
)
from evaluate.surprise_models.base import (
    NEGATIVE_CONTROLS,
    POSITIVE_CONTROL,
    SURPRISE_MODELS,
    PixelSurpriseModel,
    SurpriseModel,
    build_surprise_model,
    window_starts,
)

__all__ = ["NEGATIVE_CONTROLS", "POSITIVE_CONTROL", "SURPRISE_MODELS", "PixelSurpriseModel", "SurpriseModel",
           "build_surprise_model", "window_starts"]
