"""Contact ("will it hit?"), declared: parameters, spec model and targets (no PyBullet).

A ball rolls across the floor towards a cube resting on it. The clip is **cut before the outcome**:
every rendered frame comes before any contact, and the labels come from the same simulation run on,
unrendered, for ``horizon`` seconds past the last frame. Half the clips hit the cube (its -x face or
its near corner), half pass in front of that corner.

Why no single frame gives the answer: the ball's position at the middle frame is drawn relative to
the cube's corner (distance and bearing), and its speed, *without regard to the outcome*; only its heading,
set afterwards so that its straight path passes at the drawn ``clearance`` from the cube, depends on
whether it hits. One frame shows where the ball is, not where it is going, so the first (or any)
frame's layout leaves hit and miss equally likely (the positions of other frames differ by the
heading's small class difference times the distance rolled since the middle frame). Two frames show
the heading, and the outcome is then a one-sided, nearly linear function of the visible motion:
extrapolate the path and compare it with the corner (clearance < 0: hit). Geometry and closed forms are
in ``geometry.py``.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np

from simgen.families.base import SAME, UNDEFINED, FamilyInfo, Looks, TargetInfo
from simgen.shapes import random_rotation
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
    targets={
        "will_contact": TargetInfo("class", "whether the ball touches the cube within `horizon` s after the last "
                                            "visible frame (simulated, not rendered)", classes=("false", "true"),
                                   reversal=UNDEFINED, in_one_frame=False),
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
                                     in_one_frame=False),
        "clearance": TargetInfo("regression", "signed gap between the ball's straight path and the cube (the "
                                              "corner's distance from the line minus the radius; < 0: overlap, a "
                                              "hit); a property of the whole line", "m", reversal=SAME,
                                in_one_frame=False),
        "speed": TargetInfo("regression", "the ball's speed (constant: it rolls without slipping, undamped)", "m/s",
                            reversal=SAME, in_one_frame=False),
    },
    simulation="simgen.families.contact.sim:Contact",
    looks=ContactLooks(),
)
