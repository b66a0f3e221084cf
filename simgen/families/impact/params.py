"""Impact, declared: parameters, spec model and targets (no PyBullet).

An object dropped or thrown onto the floor, or onto a box resting on the floor. Height and
vertical velocity at the first frame are drawn independently, so neither the first frame's height
nor the frame of impact fixes the impact speed; mass and restitution are drawn independently of
both. How mass is made visible, and how the targets are measured, is in ``sim.py``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np

from simgen.families.base import FamilyInfo, TargetInfo
from simgen.spec.distributions import AnyDist, Params, dist_field
from simgen.spec.models import SceneSpec


class ImpactParams(Params):
    surface: AnyDist = dist_field({"choice": ["floor", "object"]}, options=["floor", "object"],
                                  description="what the object hits: the floor, or a box resting on the floor")
    shape: AnyDist = dist_field({"choice": ["sphere", "box"]}, options=["sphere", "box"])
    size: AnyDist = dist_field({"uniform": [0.12, 0.25]}, gt=0, le=1, unit="m",
                               description="radius, or half-extent of a cube")
    mass: AnyDist = dist_field({"log_uniform": [0.2, 5.0]}, gt=0, unit="kg")
    restitution: AnyDist = dist_field({"uniform": [0.1, 0.9]}, ge=0, le=1,
                                      description="nominal PyBullet coefficient; the target is measured")
    height: AnyDist = dist_field({"uniform": [0.3, 1.2]}, gt=0.01, le=20, unit="m",
                                 description="gap between the object's lowest point and the surface at frame 0")
    vz_start: AnyDist = dist_field({"uniform": [-4.0, 4.0]}, ge=-30, le=30, unit="m/s",
                                   description="vertical velocity at frame 0 (z up; < 0 thrown down)")
    horizontal_speed: AnyDist = dist_field({"uniform": [0.0, 0.8]}, ge=0, le=10, unit="m/s")
    heading: AnyDist = dist_field({"uniform": [0.0, 360.0]}, unit="deg")
    tilt: AnyDist = dist_field(0.0, ge=0, le=45, unit="deg",
                               description="box tilt about a random horizontal axis; 0 lands flat")
    lateral_friction: AnyDist = dist_field(0.5, ge=0, le=2)
    target_size: AnyDist = dist_field({"uniform": [0.2, 0.35]}, gt=0, le=1, unit="m",
                                      description="half-extent of the resting box (surface: object)")
    target_mass: AnyDist = dist_field({"log_uniform": [0.5, 10.0]}, gt=0, unit="kg")
    target_offset: AnyDist = dist_field({"uniform": [0.0, 0.5]}, ge=0, le=0.9,
                                        description="horizontal offset of the impact point from the box's "
                                                    "centre, as a fraction of its half-extent")
    floor_value: AnyDist = dist_field({"uniform": [0.25, 0.55]}, ge=0, le=1)
    gravity: AnyDist = dist_field(9.81, gt=0, le=100, unit="m/s^2")
    bounce_speed: AnyDist = dist_field(0.5, gt=0, le=10, unit="m/s",
                                       description="a rebound counts in n_bounces when it separates faster")

class ImpactSpec(SceneSpec):
    violation_kinds: ClassVar[tuple[str, ...]] = ("through_floor", "gravity_reversal", "teleport", "vanish")

    family: Literal["impact"]
    params: ImpactParams = ImpactParams()

    def sample_params(self, rng: np.random.Generator) -> dict[str, Any]:
        params = self.params.sample(rng)
        axis_angle = rng.uniform(0, 2 * math.pi)
        params["tilt_axis"] = [math.cos(axis_angle), math.sin(axis_angle), 0.0]
        offset_angle = rng.uniform(0, 2 * math.pi)
        params["target_offset_dir"] = [math.cos(offset_angle), math.sin(offset_angle)]
        return params


FAMILY = FamilyInfo(
    name="impact",
    description="an object dropped or thrown onto the floor or onto a resting box: approach, impact, rebound",
    spec_model=ImpactSpec,
    targets={
        "impact_impulse": TargetInfo("regression", "normal impulse of the first impact (Σ normalForce·dt)", "N*s"),
        "impact_speed": TargetInfo("regression", "relative normal approach speed just before the first impact",
                                   "m/s"),
        "peak_force": TargetInfo("regression", "largest per-step normal force of the first impact; depends on "
                                               "the physics timestep (see physics.timestep)", "N"),
        "restitution": TargetInfo("regression", "measured restitution of the first impact: relative normal "
                                                "speed after / before"),
        "n_bounces": TargetInfo("regression", "impacts in the clip after which the object separates faster "
                                              "than params.bounce_speed", "count"),
        "mass": TargetInfo("regression", "mass of the moving object; visible as size × the density palette", "kg"),
        "impact_time": TargetInfo("regression", "time of the first impact from the first frame", "s"),
        "surface": TargetInfo("class", "what the object hits first", classes=("floor", "object")),
    },
    simulation="simgen.families.impact.sim:Impact",
)
