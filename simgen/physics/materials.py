"""Materials that families share (no PyBullet): the density palette that makes mass visible, body
volumes, and the grey floor. Readers of the labels recompute a body's colour from them."""

from __future__ import annotations

import colorsys
import math

# Material palette: hue falls linearly with log10(density) from blue (light: foam, cork) to red
# (dense: stone, metal). Saturation and value are fixed, so shading changes brightness, not hue.
# Declared here (no PyBullet) so that readers of the labels can recompute each body's colour.
PALETTE_LOG10_DENSITY = (0.0, 3.5)  # kg/m^3: 1 → hue 0.70 (blue), ~3160 → hue 0 (red)
PALETTE_HUE = (0.70, 0.0)
PALETTE_SATURATION = 0.85
PALETTE_VALUE = 0.9


def density_rgba(density: float) -> tuple[float, float, float, float]:
    """The material colour of a body of ``density`` kg/m^3 (see PALETTE_*)."""
    lo, hi = PALETTE_LOG10_DENSITY
    x = min(max((math.log10(density) - lo) / (hi - lo), 0.0), 1.0)
    hue = PALETTE_HUE[0] + x * (PALETTE_HUE[1] - PALETTE_HUE[0])
    return (*colorsys.hsv_to_rgb(hue, PALETTE_SATURATION, PALETTE_VALUE), 1.0)


def volume(shape: str, size: float) -> float:
    return 4 / 3 * math.pi * size**3 if shape == "sphere" else (2 * size) ** 3


def floor_rgba(value: float) -> tuple[float, float, float, float]:
    """The floor's colour: a grey of ``value``, a touch blue."""
    return (value, value, value * 1.05 if value < 0.95 else 1.0, 1.0)
