"""Contact ("will it hit?"), declared: parameters, spec model and targets (no PyBullet).

A ball rolls across the floor towards a cube resting on it. The clip is **cut before the outcome**:
every rendered frame comes before any contact, and the labels come from the same simulation run on,
unrendered, for ``horizon`` seconds past the last frame. Half the clips hit the cube (its -x face or
its near corner), half pass in front of that corner.

What one frame gives, measured (``simgen audit``, 5,000 clips): the ball's position at the middle
frame, and its speed, are drawn *without regard to the outcome*; only its heading, set afterwards so that
its straight path passes at the drawn ``clearance`` from the cube, depends on whether it hits. The middle
frames therefore read ``will_contact`` at chance. Every other frame's position is the middle one shifted
by speed × time × heading, and the heading differs by class, so frames away from the middle read the
outcome: balanced accuracy 0.55 at the first frame and 0.62 at the last (and clearance, the contact's
place and the speed through the distance rolled). A class-dependent shift of a bounded position
distribution shows at its edges: wider ranges shrink it, the fixed camera framing bounds them, and a
uniformly random anchor frame keeps the same mean shift at the ends. So the family promises no target "not in one frame"
(``in_one_frame=True``): contact measures prediction from motion *beyond* what one frame gives, which
the static oracle's margin reports, and is not certified as a test of time. Two frames show the heading,
and the outcome is then a one-sided, nearly linear function of the visible motion (all frames: 0.98).
Geometry and closed forms are in ``geometry.py``.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np

from simgen.families.base import SAME, UNDEFINED, FamilyInfo, Looks, TargetInfo
from simgen.physics.shapes import random_rotation
from simgen.spec.distributions import AnyDist, Params, dist_field
from simgen.spec.models import SceneSpec


class ContactParams(Params):
    outcome: AnyDist = dist_field({"choice": ["hit", "miss"]}, options=["hit", "miss"],
                                  description="drawn first, so half the clips hit: the sign of the clearance")
    margin: AnyDist = dist_field({"uniform": [0.03, 0.25]}, gt=0, le=1, unit="m",
                                 description="|clearance|: how far the straight path passes from touching the cube "
                                             "(a hit overlaps by it); bounded away from 0, so no clip grazes")
    radius: AnyDist = dist_field({"uniform": [0.10, 0.14]}, gt=0, le=0.5, unit="m", description="ball radius")
    target_size: AnyDist = dist_field({"uniform": [0.2, 0.32]}, gt=0, le=1, unit="m",
                                      description="half-extent of the cube (taller than the ball's centre)")
    distance_mid: AnyDist = dist_field({"uniform": [1.0, 1.5]}, gt=0, le=20, unit="m",
                                       description="ball centre's distance from the cube's near-left corner at the "
                                                   "middle visible frame; drawn without regard to the outcome")
    bearing: AnyDist = dist_field({"uniform": [0.0, 30.0]}, ge=0, le=80, unit="deg",
                                  description="where the ball is at the middle frame, seen from the corner: this "
                                              "many degrees from -x towards +y; drawn without regard to the outcome")
    speed: AnyDist = dist_field({"uniform": [1.0, 1.6]}, gt=0, le=20, unit="m/s",
                                description="the ball's (constant) speed; drawn without regard to the outcome")
    horizon: AnyDist = dist_field(1.6, gt=0, le=30, unit="s",
                                  description="simulated, unrendered, past the last visible frame for the labels")
    lateral_friction: AnyDist = dist_field(0.5, ge=0, le=2,
                                           description="ball, cube and floor; the ball is launched rolling "
                                                       "(ω = ẑ × v / r), so friction does no work")
    hue: AnyDist = dist_field({"uniform": [0.0, 1.0]}, ge=0, le=1, description="ball colour")
    target_hue_shift: AnyDist = dist_field({"uniform": [0.33, 0.67]}, ge=0, le=1,
                                           description="cube hue = ball hue + this (mod 1): never the ball's colour")
    floor_value: AnyDist = dist_field({"uniform": [0.3, 0.5]}, ge=0, le=1)
    gravity: AnyDist = dist_field(9.81, gt=0, le=100, unit="m/s^2")


class ContactSpec(SceneSpec):
    # The ball stops short, or starts rolling, behind a sliding occluder (violations.py).
    occluded_kinds: ClassVar[tuple[str, ...]] = ("stops_short",)

    family: Literal["contact"]
    params: ContactParams = ContactParams()

    def sample_params(self, rng: np.random.Generator) -> dict[str, Any]:
        # The checkered ball shows how it is turned. Started unrotated, rolling without slipping would turn
        # it by its heading and the distance rolled, so one frame would show where it goes: a uniformly
        # random start orientation makes every frame's orientation uniform, whatever the roll.
        return {**self.params.sample(rng), "orientation": random_rotation(rng)["orientation"]}


BALL_SATURATION, BALL_VALUE = 0.8, 0.9
TARGET_SATURATION, TARGET_VALUE = 0.7, 0.85


def ball_rgb(params: Mapping[str, Any]) -> tuple[float, float, float]:
    return colorsys.hsv_to_rgb(params["hue"], BALL_SATURATION, BALL_VALUE)


def target_rgb(params: Mapping[str, Any]) -> tuple[float, float, float]:
    return colorsys.hsv_to_rgb((params["hue"] + params["target_hue_shift"]) % 1.0, TARGET_SATURATION, TARGET_VALUE)


def floor_rgb(params: Mapping[str, Any]) -> tuple[float, float, float]:
    v = params["floor_value"]
    return (v, v, v)


class ContactLooks(Looks):
    def slots(self, spec: Mapping[str, Any]) -> list[str]:
        return ["ball", "target"]

    def appearance(self, params: Mapping[str, Any], name: str) -> dict[str, Any]:
        if name == "target":
            return {"shape": "box", "size": params["target_size"], "rgb": target_rgb(params)}
        return {"shape": "sphere", "texture": "checker", "size": params["radius"], "rgb": ball_rgb(params)}

    def backdrop(self, params: Mapping[str, Any]) -> tuple[float, float, float]:
        return floor_rgb(params)


FAMILY = FamilyInfo(
    name="contact",
    description="a ball rolls towards a cube; the clip is cut before the outcome: will it hit, when, and where",
    spec_model=ContactSpec,
    # Time reversal: the reversed clip shows the ball rolling away from the cube along the same line, at
    # the same speed. Its future holds no contact (the cube is behind it), so the reversed clip's
    # `will_contact` is "false" for every clip: a constant, which no rule expresses (swap_classes would be
    # wrong for the misses), hence `undefined`, and so are the contact's time and place. The straight
    # path and the speed are the same line and the same |v| reversed: `same`.
    # in_one_frame: what `simgen audit scenes/contact.yaml -n 5000` measures (seed 0; the docstring says why):
    # one frame gives every target above chance somewhere in the clip, so none is promised "not in one frame".
    targets={
        "will_contact": TargetInfo("class", "whether the ball touches the cube within `horizon` s after the last "
                                            "visible frame (simulated, not rendered)", classes=("false", "true"),
                                   # 0.550 [0.537, 0.565] at the first frame, 0.625 [0.611, 0.638] at the last
                                   reversal=UNDEFINED, in_one_frame=True,
                                   question="Will the ball touch the cube soon after the video ends? Answer A for "
                                            "no or B for yes."),
        "time_to_contact": TargetInfo("regression", "from the LAST VISIBLE frame to the first ball-cube contact "
                                                    "(simulated; resolution one physics step)", "s",
                                      defined_when={"will_contact": "true"}, reversal=UNDEFINED,
                                      # One frame shows the distance left to the cube: the audit reads R² 0.80
                                      # from the last frame (5,000 clips), so no promise is made.
                                      in_one_frame=True),
        "contact_offset": TargetInfo("regression", "where the ball first touches the cube: the contact point's "
                                                   "distance along the struck -x face from the cube's near corner "
                                                   "(0 at the corner's edge)", "m",
                                     defined_when={"will_contact": "true"}, reversal=UNDEFINED,
                                     in_one_frame=True),  # R² 0.161 [0.13, 0.19] at the last frame
        "clearance": TargetInfo("regression", "signed gap between the ball's straight path and the cube (the "
                                              "corner's distance from the line minus the radius; < 0: overlap, a "
                                              "hit); a property of the whole line", "m", reversal=SAME,
                                in_one_frame=True),  # R² 0.171 [0.16, 0.19] at the last frame (boosted)
        "speed": TargetInfo("regression", "the ball's speed (constant: it rolls without slipping, undamped)", "m/s",
                            # R² 0.132 [0.12, 0.15] at the first frame (boosted): the distance rolled
                            reversal=SAME, in_one_frame=True),
    },
    simulation="simgen.families.contact.sim:Contact",
    looks=ContactLooks(),
)
