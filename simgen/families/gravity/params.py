"""Gravity, declared: parameters, spec model and targets (no PyBullet).

The question: *is the acceleration the one gravity gives?* A group is a 2×2 design, motion
{down, up} × acceleration {with gravity, against gravity}:

- ``down_with_g``: one object in free flight under gravity -g, falling (released from rest or
  thrown down, speeding up); ``up_with_g`` is its exact time reversal (thrown up, slowing down);
- ``up_against_g``: the same object simulated in a world whose gravity is +g, started from the
  falling clip's first state mirrored in z about the camera's aim height (rising, speeding up);
  ``down_against_g`` is its exact time reversal (falling, slowing down).

Time reversal keeps acceleration (a'(t) = a(T - t)) and negates velocity, so it flips
``direction`` and keeps ``physical``: each cell's reversal is the other cell of the same row.

Why no single frame tells ``physical``: a frame shows a position (and an orientation), never
a velocity or an acceleration. The four clips share the speeds frame for frame (the mirror
negates vz only), the horizontal drift and the rotation (gravity moves neither). Heights
are seen only relative to the camera, so the camera aims at *where the object is at a random
frame* u (``aim``), which is the same height H in all four clips (the mirror is about H). One
frame i then shows the offset z(t_i) - z(t_u) in the with-gravity clips and its negative in the
against-gravity ones; with i and u independent and uniform over the frames, x and -x have the
same distribution, so the offset, the only thing a frame shows about the path, is distributed
identically across the classes (a fixed aim, at the middle of the path or at the middle frame,
would not do: a body under gravity spends more frames at the slow top of its path, so the
typical frame would sit above the aim for physical clips and below for the mirrored ones).
There is no floor and no shadow (the floor, its horizon and a shadow would place the path in
the world, and a light from above would tell up from down only together with a floor), and
the backdrop is one flat colour. With i known (an album sees frame 0 at index 0) the offset is not
symmetric: ``simgen audit`` reads ``direction`` at 0.968 from frame 0 and ``physical`` at 0.739 from
the middle frame, so all targets but ``speed_mid`` are declared ``in_one_frame=True``.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np

from simgen.families.base import SAME, FamilyInfo, OneObjectLooks, OneObjectParams, Reversal, TargetInfo
from simgen.physics.shapes import random_rotation
from simgen.spec.distributions import AnyDist, dist_field
from simgen.spec.models import SceneSpec

VARIANTS = ("down_with_g", "up_with_g", "up_against_g", "down_against_g")


class GravityParams(OneObjectParams):
    size: AnyDist = dist_field({"uniform": [0.2, 0.35]}, gt=0, le=2, unit="m",
                               description="radius, or half-extent of a box")
    value: AnyDist = dist_field({"uniform": [0.6, 0.95]}, ge=0, le=1)
    speed_start: AnyDist = dist_field({"uniform": [0.0, 1.0]}, ge=0, le=50, unit="m/s",
                                      description="downward speed at the first frame of the down_with_g clip "
                                                  "(and upward speed at the first frame of up_against_g)")
    aim: AnyDist = dist_field({"uniform": [0.0, 1.0]}, ge=0, le=1,
                              description="where along the clip the camera aims: at the object's position at "
                                          "frame floor(aim × frames) (see the module doc)")
    aim_height: AnyDist = dist_field(5.0, unit="m", description="height of that position (the mirror's plane); "
                                                                "no floor, so it is never seen")
    drift_speed: AnyDist = dist_field({"uniform": [0.0, 0.3]}, ge=0, le=5, unit="m/s",
                                      description="constant horizontal velocity")
    drift_heading: AnyDist = dist_field({"uniform": [0.0, 360.0]}, unit="deg")
    spin: AnyDist = dist_field({"uniform": [0.0, 4.0]}, ge=0, le=50, unit="rad/s")
    gravity: AnyDist = dist_field(9.81, gt=0, le=100, unit="m/s^2",
                                  description="magnitude g: -g along z with gravity, +g against it")
    linear_damping: AnyDist = dist_field(0.0, ge=0, le=1, description="PyBullet linearDamping; 0 = no drag")
    angular_damping: AnyDist = dist_field(0.0, ge=0, le=1)
    backdrop_hue: AnyDist = dist_field({"uniform": [0.0, 1.0]}, ge=0, le=1)
    backdrop_value: AnyDist = dist_field({"uniform": [0.25, 0.6]}, ge=0, le=1)


class GravitySpec(SceneSpec):
    family_variants: ClassVar[tuple[str, ...]] = VARIANTS
    # The acceleration changes behind a sliding occluder (sim.py's occluded_pair).
    occluded_kinds: ClassVar[tuple[str, ...]] = ("gravity_change",)

    family: Literal["gravity"]
    params: GravityParams = GravityParams()

    def sample_params(self, rng: np.random.Generator) -> dict[str, Any]:
        return {**self.params.sample(rng), **random_rotation(rng)}


class GravityLooks(OneObjectLooks):
    def backdrop(self, params: Mapping[str, Any]) -> tuple[float, float, float]:
        return backdrop_rgb(params)


def backdrop_rgb(params: Mapping[str, Any]) -> tuple[float, float, float]:
    return colorsys.hsv_to_rgb(params["backdrop_hue"], 0.25, params["backdrop_value"])


FAMILY = FamilyInfo(
    name="gravity",
    description="one object in free vertical flight, down or up, accelerating with gravity or (gravity reversed) "
                "against it; each clip's time reversal is in the group",
    spec_model=GravitySpec,
    # Each rule holds exactly between a clip and its reversed twin (tests/simgen/test_gravity.py).
    targets={
        # The headline: reversal keeps acceleration, so an against-gravity clip stays one.
        # audit, 5,000 clips: one frame gives 0.739 [0.72, 0.76] at frame 7 (boosted).
        "physical": TargetInfo("class", "whether the acceleration is gravity's (down, -g) rather than reversed (+g)",
                               classes=("false", "true"), reversal=SAME, in_one_frame=True,
                               question="Does the object speed up as it falls and slow down as it rises, as "
                                        "gravity would make it? Answer A for no or B for yes."),
        # audit, 5,000 clips: one frame gives 0.968 at frame 0; gravity_long 0.997.
        "direction": TargetInfo("class", "vertical direction of travel", classes=("down", "up"),
                                reversal=Reversal("swap_classes"), in_one_frame=True,
                                question="Is the object moving down or up? Answer A if down or B if up."),
        # a'(t) = dv'/dt = a(T - t): time-even.
        # audit, 5,000 clips: one frame gives R² 0.341 [0.30, 0.38] at frame 7 (boosted), as physical.
        "accel_z": TargetInfo("regression", "vertical acceleration, least-squares fit to recorded velocities "
                                            "(signed, z up: -g with gravity, +g against it)", "m/s^2", reversal=SAME, in_one_frame=True),
        # v'(t) = -v(T - t).
        # audit, 5,000 clips: one frame gives R² 0.655 [0.63, 0.67] at frame 0 (boosted).
        "vz_start": TargetInfo("regression", "vertical velocity at the first frame (signed, z up)", "m/s",
                               reversal=Reversal("negate", of="vz_end"), in_one_frame=True),
        # audit, 5,000 clips: one frame gives R² 0.655 [0.64, 0.67] at frame 15 (boosted).
        "vz_end": TargetInfo("regression", "vertical velocity at the last frame (signed, z up)", "m/s",
                             reversal=Reversal("negate", of="vz_start"), in_one_frame=True),
        "speed_mid": TargetInfo("regression", "vertical speed |vz| at the middle of the clip (as falling_rising's)",
                                "m/s", reversal=SAME, in_one_frame=False),
    },
    simulation="simgen.families.gravity.sim:Gravity",
    looks=GravityLooks(),
)
