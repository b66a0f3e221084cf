"""The plain data a family's simulation hands to the renderer and to the labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class BodyFrame:
    """State of one body at one rendered frame (SI units, z up)."""

    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float]  # quaternion x, y, z, w
    linear_velocity: tuple[float, float, float]
    angular_velocity: tuple[float, float, float]
    rgba: tuple[float, float, float, float] | None = None  # only when the appearance changes over time
    visible: bool = True  # False: not drawn (an object that vanished in an impossible twin)


@dataclass(frozen=True)
class Lighting:
    """TinyRenderer's light for one frame; a field left None keeps the renderer's default.

    ``direction`` points towards the light (None: the spec's ``render.light_direction``), ``color``
    is its rgb in [0, 1], and ``ambient``, ``diffuse``, ``specular`` are TinyRenderer's shading
    coefficients: ambient 1 with diffuse and specular 0 draws every surface flat, at its rgba.
    """

    direction: tuple[float, float, float] | None = None
    color: tuple[float, float, float] | None = None
    ambient: float | None = None
    diffuse: float | None = None
    specular: float | None = None


@dataclass
class Frame:
    """One rendered frame's states: bodies, labelled lights (written to the labels) and the
    renderer's lighting (not written: it is how the frame is drawn, not what it shows)."""

    t: float
    bodies: dict[str, BodyFrame]
    lights: dict[str, dict[str, Any]] = field(default_factory=dict)
    lighting: Lighting = Lighting()


@dataclass
class Trajectory:
    """What a family's simulation produces: states per rendered frame, events and targets.

    ``body_ids`` maps the names used in ``frames`` to PyBullet body ids in the world, so
    the renderer can pose them; ``focus`` is the point the camera looks at.
    """

    frames: list[Frame]
    body_ids: dict[str, int]
    targets: dict[str, Any]
    focus: tuple[float, float, float]
    events: list[dict[str, Any]] = field(default_factory=list)
    # Colour (rgb in [0, 1]) of pixels no surface covers; None keeps TinyRenderer's white.
    background: tuple[float, float, float] | None = None


@dataclass
class Clip:
    """One clip ready to write: frames (T, H, W, 3) uint8 and its labels."""

    variant: str
    frames: np.ndarray
    states: list[dict[str, Any]]
    targets: dict[str, Any]
    events: list[dict[str, Any]]
