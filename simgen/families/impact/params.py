"""Impact, declared: parameters, spec model and targets (no PyBullet).

An object dropped or thrown onto the floor, or onto a box resting on the floor. Height and
vertical velocity at the first frame are drawn independently, so neither the first frame's height
nor the frame of impact fixes the impact speed; mass and restitution are drawn independently of
both. How mass is made visible, and how the targets are measured, is in ``sim.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np

from simgen.families.base import SAME, UNDEFINED, FamilyInfo, Looks, TargetInfo
from simgen.physics.materials import density_rgba, floor_rgba, volume
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
    occluded_kinds: ClassVar[tuple[str, ...]] = ("permanence",)

    family: Literal["impact"]
    params: ImpactParams = ImpactParams()

    def sample_params(self, rng: np.random.Generator) -> dict[str, Any]:
        params = self.params.sample(rng)
        axis_angle = rng.uniform(0, 2 * math.pi)
        params["tilt_axis"] = [math.cos(axis_angle), math.sin(axis_angle), 0.0]
        offset_angle = rng.uniform(0, 2 * math.pi)
        params["target_offset_dir"] = [math.cos(offset_angle), math.sin(offset_angle)]
        return params


class ImpactLooks(Looks):
    """The object, and the target box (absent on the floor); colours from density (the palette)."""

    def slots(self, spec: Mapping[str, Any]) -> list[str]:
        return ["object", "target"]

    def appearance(self, params: Mapping[str, Any], name: str) -> dict[str, Any]:
        if name == "target":
            size = params["target_size"]
            return {"shape": "box", "size": size, "rgb": density_rgba(params["target_mass"] / volume("box", size))[:3]}
        shape, size = params["shape"], params["size"]
        return {"shape": shape, "size": size, "rgb": density_rgba(params["mass"] / volume(shape, size))[:3]}

    def backdrop(self, params: Mapping[str, Any]) -> tuple[float, float, float]:
        return floor_rgba(params["floor_value"])[:3]


FAMILY = FamilyInfo(
    name="impact",
    description="an object dropped or thrown onto the floor or onto a resting box: approach, impact, rebound",
    spec_model=ImpactSpec,
    # Time reversal. Each collision, reversed, is a collision with before and after swapped and velocities
    # negated: its impulse m·Δv, its per-step forces (m·a, a time-even) and so its peak force are unchanged,
    # its approach speed becomes its separation speed, and its restitution e becomes 1/e. But the targets
    # describe the *first* impact, and the reversed clip's first impact is the original's *last* one. In
    # the default spec the object has more than one collision event in almost every clip (23 of the 24
    # clips of `-n 24 --seed 0`: rebounds, skids and settling contacts), and the last one is not a target.
    # So every first-impact target is `undefined` under reversal; only `mass` is `same`.
    targets={
        # Last impact's impulse (same per collision, but the last, not the first, collision).
        "impact_impulse": TargetInfo("regression", "normal impulse of the first impact (Σ normalForce·dt)", "N*s",
                                     reversal=UNDEFINED, in_one_frame=True),
        # Reversed, the approach speed is the last impact's separation speed.
        # audit, 5,000 clips: one frame gives R² 0.575 [0.56, 0.59] at frame 0 (boosted): the drop height shows.
        "impact_speed": TargetInfo("regression", "relative normal approach speed just before the first impact",
                                   "m/s", reversal=UNDEFINED, in_one_frame=True),
        # Peak per-step force is time-even per collision, but of the last collision.
        "peak_force": TargetInfo("regression", "largest per-step normal force of the first impact; depends on "
                                               "the physics timestep (see physics.timestep)", "N",
                                 reversal=UNDEFINED, in_one_frame=True),
        # Reversed, e of a collision becomes 1/e (and of the last collision).
        # audit, 5,000 clips: one frame gives R² 0.631 [0.61, 0.65] at frame 24 (boosted).
        "restitution": TargetInfo("regression", "measured restitution of the first impact: relative normal "
                                                "speed after / before", reversal=UNDEFINED, in_one_frame=True),
        # Reversed, a collision's separation speed is its approach speed: the reversed clip counts the
        # impacts *approached* faster than bounce_speed (≥ n_bounces, and more when a rebound is slow).
        # audit, 5,000 clips: one frame gives R² 0.636 [0.62, 0.65] at frame 20 (boosted).
        "n_bounces": TargetInfo("regression", "impacts in the clip after which the object separates faster "
                                              "than params.bounce_speed", "count", reversal=UNDEFINED, in_one_frame=True),
        # A property of the object, the same in every frame.
        "mass": TargetInfo("regression", "mass of the moving object; visible as size × the density palette", "kg",
                           reversal=SAME, in_one_frame=True),
        # Reversed: clip duration − t_end of the last impact; the rules cannot express it.
        "impact_time": TargetInfo("regression", "time of the first impact from the first frame", "s",
                                  reversal=UNDEFINED, in_one_frame=True),
        # Reversed: what the object hits last (a box, then the floor, in some clips).
        "surface": TargetInfo("class", "what the object hits first", classes=("floor", "object"),
                              reversal=UNDEFINED, in_one_frame=True,
                              question="What does the moving object hit first? Answer A for the floor or B for "
                                       "another object."),
        # Impulse / mass is time-even per collision like the impulse, and undefined for the same reason.
        # audit, 5,000 clips: one frame gives R² 0.578 [0.56, 0.59] at frame 20 (boosted).
        "delta_v": TargetInfo("regression", "normal impulse / mass of the first impact: the change of normal "
                                            "velocity the contact causes (the recorded change plus the "
                                            "g·(t_end − t_start) gravity takes during it)", "m/s",
                              reversal=UNDEFINED, in_one_frame=True),
        # audit, 5,000 clips: one frame gives R² 0.522 [0.50, 0.54] at frame 20 (boosted).
        "impulse_given_mass": TargetInfo("regression", "impact_impulse, scored as the part that mass does not "
                                                       "explain: the residual of a log-log least-squares fit on "
                                                       "mass (fitted on train+val)", "N*s",
                                         reversal=UNDEFINED, residual_on=("mass",), in_one_frame=True),
    },
    simulation="simgen.families.impact.sim:Impact",
    looks=ImpactLooks(),
)
