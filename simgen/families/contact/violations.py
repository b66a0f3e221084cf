"""Contact's occluded violation (simgen/run/variants.py's OccludedQuadruplet), kept apart from the family's
simulation: ``stops_short``.

A is the roll as simulated (cut before any contact); B is the same scene with the ball at rest, for the
whole clip, where A's ball is half a frame before the frame the occluder is centred on (a ball lying on
the floor: possible on its own). Cut behind the panel, the rolling ball stops dead short of the cube
without touching anything (A then B), or the ball at rest starts rolling by itself (B then A). The ball
rolls at a constant speed, so a constant-acceleration oracle predicts A exactly and B trivially.
"""

from __future__ import annotations

from typing import Any

from simgen.physics import violations
from simgen.physics.trajectory import Trajectory
from simgen.spec.models import SceneSpec


def occluded_pair(kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                  params: dict[str, Any]) -> tuple[Trajectory, Trajectory, str, float]:
    if kind != "stops_short":
        raise ValueError(f"contact cannot render occluded violation {kind!r}")
    k = violations.violation_frame(violation["at"], len(trajectory.frames))
    return trajectory, violations.at_rest(trajectory, "ball", k), "ball", params["radius"]
