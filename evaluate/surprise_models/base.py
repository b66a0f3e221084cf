"""What a surprise model is, and how one is named on the command line.

A surprise model gives one number per window of a clip: for the window starting at frame ``s``, how
unexpected the ``horizon`` frames [s + context, s + context + horizon) are after the ``context``
frames [s, s + context). :func:`window_starts` lists the windows.

Two passes, so that every kind of model fits one loop (``evaluate/tasks/surprise.py``):

1. ``fit(dataset, clips, workers)``: called once per dataset, before any clip is scored. Models that
   learn nothing (V-JEPA 2, ``extrapolate``, ``oracle``) do nothing here; ``frame-classifier`` decodes
   every clip and cross-fits its probe over groups.
2. ``clip_surprise(clip, frames, context, horizon, starts)`` per clip. ``frames`` is the decoded clip
   when ``reads_pixels`` is true, else None (the oracle reads the clip's json; the frame classifier
   answers from what ``fit`` computed).

Models that read pixels subclass :class:`PixelSurpriseModel` and implement ``surprise(frames, ...)``.
``control`` names a model's role in the certification of a dataset (``evaluate/tasks/surprise.py``):
the negative controls ``extrapolate,order=0``, ``extrapolate,order=1`` and ``frame-classifier``, the
positive control ``oracle``; None for the models being evaluated.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from evaluate.errors import EncoderError
from simgen.spec.registry import Registry

NEGATIVE_CONTROLS = ("extrapolate,order=0", "extrapolate,order=1", "frame-classifier")
POSITIVE_CONTROL = "oracle"


def window_starts(frames: int, context: int, horizon: int, stride: int) -> list[int]:
    """First frames of the windows [s, s + context + horizon) that fit in a clip of ``frames``."""
    return list(range(0, frames - context - horizon + 1, stride))


def parse_options(text: str, allowed: dict[str, str]) -> dict[str, str]:
    """``name,key=value,...`` -> {key: value}, refusing keys not in ``allowed`` (key -> help)."""
    head, *opts = text.split(",")
    if ":" in head:
        raise EncoderError(f"{text!r}: {head.split(':')[0]} takes no ':' argument")
    options = {}
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep or key not in allowed:
            raise EncoderError(f"{text!r}: unknown option {opt!r}; options: {', '.join(allowed) or 'none'}")
        options[key] = value
    return options


class SurpriseModel(ABC):
    """Surprise of each window of one clip; see the module doc for the two passes."""

    name: str
    tubelet: int = 1  # context and horizon must be multiples of it
    reads_pixels: bool = True  # False: clip_surprise gets frames=None, and no clip is decoded for it
    # True: it reads the clips' states, which differ from the (hidden) violation frame on, not from the
    # pixels' onset: its `onset` window is the one whose horizon first holds the violation frame.
    reads_states: bool = False
    control: str | None = None  # its role in certification (NEGATIVE_CONTROLS, POSITIVE_CONTROL), or None
    notes: list[str]

    def __init__(self) -> None:
        self.notes = []
        self.timings = {"forward_s": 0.0, "clips": 0}

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """JSON-able: what the surprise values depend on."""

    def fit(self, dataset: Any, clips: list[Any], workers: int = 2) -> None:  # noqa: B027 (optional hook)
        """First pass over one dataset's clips, before any ``clip_surprise`` on them; default: nothing."""

    @abstractmethod
    def clip_surprise(self, clip: Any, frames: np.ndarray | None, context: int, horizon: int,
                      starts: list[int]) -> np.ndarray:
        """(len(starts),) float64: the surprise of each window of ``clip`` (a ClipRef)."""

    def check_window(self, context: int, horizon: int) -> None:
        for what, n in (("context", context), ("horizon", horizon)):
            if n < 1 or n % self.tubelet:
                raise ValueError(f"{self.name}: {what} {n} frames is not a positive multiple of the tubelet "
                                 f"size {self.tubelet}")


class PixelSurpriseModel(SurpriseModel):
    """A model that needs only the clip's decoded frames."""

    @abstractmethod
    def surprise(self, frames: np.ndarray, context: int, horizon: int, starts: list[int]) -> np.ndarray:
        """(len(starts),) float64: surprise of the frames [s + context, s + context + horizon) given
        the frames [s, s + context), for each start s. ``frames``: (T, H, W, 3) uint8."""

    def clip_surprise(self, clip, frames, context, horizon, starts):
        return self.surprise(frames, context, horizon, starts)


class UnknownSurpriseModel(EncoderError):
    """A surprise model kind that does not exist."""


# kind -> a class built as cls(text, device). The models register themselves when the package imports
# them (evaluate/surprise_models/__init__.py); this module imports none of them.
SURPRISE_MODELS: Registry[type[SurpriseModel]] = Registry("surprise model", error=UnknownSurpriseModel)


def build_surprise_model(text: str, device: str = "auto") -> SurpriseModel:
    """``extrapolate[,order=,size=]``, ``frame-classifier[,...]``, ``oracle[,...]``, a V-JEPA 2 spec
    (``vjepa2:<id|dir>``, ``random-vjepa2[:size][,seed=N]``), or the album's ``trajectory:<per-frame encoder>``."""
    kind = text.split(",")[0].split(":")[0]
    return SURPRISE_MODELS[kind](text, device)
