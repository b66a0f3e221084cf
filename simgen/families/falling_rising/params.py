"""Falling vs rising, declared: parameters, spec model and targets (no PyBullet).

Each group simulates one falling clip (released from rest or thrown down, accelerating
down). Its ``rising`` twin is the same frames in reverse order with velocities negated: a
body thrown up and slowing under the same gravity. The two clips hold the same set of
frames, so no frame drawn at random and no frame average can tell them apart; only the order can.
A frame at a known index can (frame 0 of a falling clip is high): ``simgen audit`` reads every
target from one frame, so each is declared ``in_one_frame=True`` (docs/families/falling_rising.md).
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np

from simgen.families.base import (
    SAME,
    UNDEFINED,
    FamilyInfo,
    OneObjectLooks,
    OneObjectParams,
    Reversal,
    TargetInfo,
)
from simgen.physics.shapes import random_rotation
from simgen.spec.distributions import AnyDist, dist_field
from simgen.spec.models import SceneSpec


class FallingRisingParams(OneObjectParams):
    speed_start: AnyDist = dist_field({"uniform": [0.0, 1.5]}, ge=0, le=50, unit="m/s",
                                      description="downward speed at the falling clip's first frame; 0 = from rest")
    clearance_end: AnyDist = dist_field({"uniform": [0.15, 0.8]}, ge=0.01, unit="m",
                                        description="gap between the object and the floor at the lowest frame")
    drift_speed: AnyDist = dist_field({"uniform": [0.0, 0.3]}, ge=0, le=5, unit="m/s",
                                      description="constant horizontal velocity")
    drift_heading: AnyDist = dist_field({"uniform": [0.0, 360.0]}, unit="deg")
    spin: AnyDist = dist_field({"uniform": [0.0, 4.0]}, ge=0, le=50, unit="rad/s")
    gravity: AnyDist = dist_field(9.81, gt=0, le=100, unit="m/s^2")
    linear_damping: AnyDist = dist_field(0.0, ge=0, le=1, description="PyBullet linearDamping; 0 = no drag")
    angular_damping: AnyDist = dist_field(0.0, ge=0, le=1)
    floor_hue: AnyDist = dist_field({"uniform": [0.0, 1.0]}, ge=0, le=1)
    floor_value: AnyDist = dist_field({"uniform": [0.25, 0.6]}, ge=0, le=1)


class FallingRisingSpec(SceneSpec):
    family_variants: ClassVar[tuple[str, ...]] = ("falling", "rising")
    violation_kinds: ClassVar[tuple[str, ...]] = ("teleport", "vanish", "gravity_reversal")
    occluded_kinds: ClassVar[tuple[str, ...]] = ("permanence", "teleport")

    family: Literal["falling_rising"]
    params: FallingRisingParams = FallingRisingParams()

    def sample_params(self, rng: np.random.Generator) -> dict[str, Any]:
        return {**self.params.sample(rng), **random_rotation(rng)}


class FallingRisingLooks(OneObjectLooks):
    def backdrop(self, params: Mapping[str, Any]) -> tuple[float, float, float]:
        return colorsys.hsv_to_rgb(params["floor_hue"], 0.25, params["floor_value"])


FAMILY = FamilyInfo(
    name="falling_rising",
    description="one object in free vertical flight; the rising clip is the falling clip's exact time reversal",
    spec_model=FallingRisingSpec,
    # Time reversal: the rising twin *is* the falling clip reversed, so each rule below holds exactly
    # between the twins (tests/simgen/test_targets.py checks it on rendered groups).
    targets={
        # Reversed, a fall is a rise and a rise a fall.
        # audit, 5,000 clips: one frame gives 1.000 at frame 0: a falling object starts high.
        "direction": TargetInfo("class", "vertical direction of travel", classes=("falling", "rising"),
                                reversal=Reversal("swap_classes"), in_one_frame=True,
                                question="Is the object falling or rising? Answer A if it is falling or B if it "
                                         "is rising."),
        # Reversal swaps the clip's ends and negates velocities: v'(t) = -v(T - t).
        # audit, 5,000 clips: one frame gives R² 0.995 at frame 0 (linear), as direction.
        "vz_start": TargetInfo("regression", "vertical velocity at the first frame (signed, z up)", "m/s",
                               reversal=Reversal("negate", of="vz_end"), in_one_frame=True),
        # audit, 5,000 clips: one frame gives R² 0.995 at frame 0 (linear), as vz_start.
        "vz_end": TargetInfo("regression", "vertical velocity at the last frame (signed, z up)", "m/s",
                             reversal=Reversal("negate", of="vz_start"), in_one_frame=True),
        # a'(t) = dv'/dt = a(T - t): acceleration is time-even (gravity does not reverse).
        "accel_z": TargetInfo("regression", "vertical acceleration, least-squares fit to recorded velocities",
                              "m/s^2", reversal=SAME, in_one_frame=True),
        # The reversed clip starts at the original's last height, which is not a target.
        "height_start": TargetInfo("regression", "height of the object's centre above the floor at the first frame",
                                   "m", reversal=UNDEFINED, in_one_frame=True),
        # |v| at the middle time is the same for the clip and its reversal (the middle stays the middle);
        # unlike vz_start/vz_end, direction does not explain it.
        # audit, 5,000 clips: one frame gives R² 0.738 [0.73, 0.75] at frame 15 (boosted).
        "speed_mid": TargetInfo("regression", "vertical speed |vz| at the middle of the clip: at the middle frame, "
                                              "or with an even number of frames |mean vz of the two middle frames| "
                                              "(the speed at the middle time under constant acceleration)", "m/s",
                                reversal=SAME, in_one_frame=True),
    },
    simulation="simgen.families.falling_rising.sim:FallingRising",
    looks=FallingRisingLooks(),
)
