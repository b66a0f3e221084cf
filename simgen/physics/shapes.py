"""The bodies and textures a world can build: their names and geometry (no PyBullet), so that
a family's parameter model can offer them without importing the simulator."""

from __future__ import annotations

from typing import Literal

import numpy as np

Shape = Literal["sphere", "box", "cylinder", "capsule"]
SHAPES: tuple[Shape, ...] = ("sphere", "box", "cylinder", "capsule")
TEXTURES = ("checker", "stripes")


def random_rotation(rng: np.random.Generator) -> dict[str, list[float]]:
    """A uniformly random orientation (a normalised 4-D Gaussian quaternion) and spin axis, drawn in that
    order from ``rng``."""
    q = rng.normal(size=4)
    axis = rng.normal(size=3)
    return {"orientation": (q / np.linalg.norm(q)).tolist(), "spin_axis": (axis / np.linalg.norm(axis)).tolist()}


def half_height(shape: Shape, size: float) -> float:
    """Largest distance from the centre to the surface along any axis (m): a safe clearance."""
    if shape == "box":
        return size * float(np.sqrt(3.0))  # half-diagonal of a cube of half-extent `size`
    if shape in ("cylinder", "capsule"):
        # height 2*size (+ caps for capsule): the bounding sphere radius
        return size * (float(np.sqrt(2.0)) if shape == "cylinder" else 2.0)
    return size
