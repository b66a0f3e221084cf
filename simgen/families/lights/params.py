"""Lights, declared: "satellite vs star". Point lights in a night sky, static or moving, steady or blinking.

A 2×2 design, ``moves`` ∈ {static, linear} × ``blinks`` ∈ {steady, blinking}, names the light's
``kind``: star (static, blinking: twinkling), planet (static, steady), satellite (linear, steady),
aircraft (linear, blinking). The camera looks up into a dark sky; the main light is a small
sphere drawn flat at its colour × brightness (PyBullet has no emissive materials or point lights:
see ``FLAT`` in sim.py), optionally with fainter static distractor stars.

No single frame tells the classes apart, by construction:

- **Brightness.** A blinking light shows its bright level when frac(blink_hz·t + phase) <
  duty_cycle and its dim level otherwise; with the phase uniform, every frame is bright with
  probability duty_cycle. A steady light draws the same levels and shows the bright one, for the
  whole clip, with the same probability duty_cycle. So the per-frame brightness has the same
  distribution for steady and blinking lights at every frame index.
- **Position.** A moving light crosses the sky plane at constant velocity with its mid-clip
  position uniform in a disk. A static light sits where an identically drawn moving light would
  be at a uniformly random frame. So pooled over frames, static and moving lights have the same
  position distribution (per frame index they differ only within a path length of the disk's rim).
- Size, colour and altitude are drawn the same way for every kind.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import model_validator

from simgen.families.base import SAME, FamilyInfo, Looks, Reversal, TargetInfo
from simgen.spec.distributions import AnyDist, Params, dist_field
from simgen.spec.models import SceneSpec

KINDS = {("static", "blinking"): "star", ("static", "steady"): "planet",
         ("linear", "steady"): "satellite", ("linear", "blinking"): "aircraft"}


# The clips on which the kinematic and the blink targets mean something (see TargetInfo.defined_when).
LINEAR = {"moves": "linear"}
BLINKING = {"blinks": "blinking"}


class LightsParams(Params):
    moves: AnyDist = dist_field({"choice": ["static", "linear"]}, options=["static", "linear"])
    blinks: AnyDist = dist_field({"choice": ["steady", "blinking"]}, options=["steady", "blinking"])
    altitude: AnyDist = dist_field(20.0, gt=1, le=30, unit="m", description="height of the sky plane")
    region_radius: AnyDist = dist_field(5.0, ge=0, le=20, unit="m",
                                        description="mid-clip positions are uniform in a disk of this radius")
    speed: AnyDist = dist_field({"uniform": [1.0, 3.0]}, gt=0, le=50, unit="m/s",
                                description="speed in the sky plane (linear lights)")
    direction: AnyDist = dist_field({"uniform": [0.0, 360.0]}, unit="deg", description="heading in the sky plane")
    blink_hz: AnyDist = dist_field({"uniform": [1.5, 4.5]}, gt=0, unit="Hz",
                                   description="blink frequency; must stay below render.fps / 2")
    duty_cycle: AnyDist = dist_field({"uniform": [0.3, 0.7]}, gt=0, le=1,
                                     description="fraction of each blink period at the bright level")
    phase: AnyDist = dist_field({"uniform": [0.0, 1.0]}, ge=0, le=1, description="blink phase, in cycles")
    brightness: AnyDist = dist_field({"uniform": [0.6, 1.0]}, gt=0, le=1, description="the bright level")
    dim_ratio: AnyDist = dist_field({"uniform": [0.1, 0.4]}, ge=0, le=1,
                                    description="dim level / bright level; 0 = fully off")
    radius: AnyDist = dist_field(0.3, gt=0, le=2, unit="m", description="radius of the light's sphere")
    tint: AnyDist = dist_field({"uniform": [-1.0, 1.0]}, ge=-1, le=1, description="< 0 bluish, > 0 warm")
    n_distractors: AnyDist = dist_field({"choice": [0, 1, 2, 3, 4, 5]}, ge=0, le=50,
                                        description="fainter, smaller static stars (steady or twinkling)")
    distractor_radius: AnyDist = dist_field(0.12, gt=0, le=2, unit="m")
    distractor_brightness: AnyDist = dist_field({"uniform": [0.25, 0.5]}, ge=0, le=1)
    sky_value: AnyDist = dist_field({"uniform": [0.02, 0.08]}, ge=0, le=0.5, description="sky brightness")
    ground: AnyDist = dist_field(False, options=[False, True],
                                 description="a dark ground plane (in view only with a low camera pitch)")
    renderer_light: AnyDist = dist_field(False, options=[False, True],
                                         description="also drive TinyRenderer's light from the main light "
                                                     "(direction from its position, colour × brightness)")


class LightsSpec(SceneSpec):
    violation_kinds: ClassVar[tuple[str, ...]] = ("light_jump", "light_speed_change", "vanish")
    occluded_kinds: ClassVar[tuple[str, ...]] = ("permanence",)

    family: Literal["lights"]
    params: LightsParams = LightsParams()

    @model_validator(mode="after")
    def _nyquist(self) -> LightsSpec:
        nyquist = self.render.fps / 2
        top = self.params.blink_hz.support()[1]
        if top >= nyquist:
            raise ValueError(f"params.blink_hz reaches {top:g} Hz, at or above the Nyquist limit render.fps/2 = "
                             f"{nyquist:g} Hz; keep blink_hz below {nyquist:g} Hz or raise render.fps")
        return self

    def sample_params(self, rng: np.random.Generator) -> dict[str, Any]:
        params = self.params.sample(rng)
        # Drawn for every kind, so switching a class never shifts the other draws.
        r = params["region_radius"] * math.sqrt(rng.uniform())
        a = rng.uniform(0, 2 * math.pi)
        params["mid_position"] = [r * math.cos(a), r * math.sin(a)]
        params["static_frame"] = int(rng.integers(self.render.frames))
        params["steady_bright"] = bool(rng.uniform() < params["duty_cycle"])
        n = int(params["n_distractors"])
        params["distractors"] = [_distractor(params, self.render.fps, rng) for _ in range(n)]
        return params


class LightsLooks(Looks):
    """The main light, then one slot per distractor the spec allows at most; the sky as backdrop.
    A light's colour and brightness are in each frame's record."""

    def slots(self, spec: Mapping[str, Any]) -> list[str]:
        from simgen.spec.distributions import as_dist

        support = as_dist(spec.get("params", {}).get("n_distractors", 5)).support()
        return ["light", *(f"star_{i}" for i in range(math.ceil(support[1]) if support else 0))]

    def appearance(self, params: Mapping[str, Any], name: str) -> dict[str, Any]:
        return {"shape": "sphere", "size": params["radius"] if name == "light" else params["distractor_radius"]}

    def backdrop(self, params: Mapping[str, Any]) -> tuple[float, float, float]:
        return sky_rgb(params["sky_value"])


def sky_rgb(value: float) -> tuple[float, float, float]:
    """The painted night sky's colour at brightness ``value``."""
    return (value * 0.6, value * 0.7, value)


FAMILY = FamilyInfo(
    name="lights",
    description="point lights in a night sky: static or moving × steady or blinking (star, planet, satellite, "
                "aircraft)",
    spec_model=LightsSpec,
    # Time reversal: a reversed light moves along the same line at the same speed, the other way; a
    # reversed blink train has the same frequency and the same fraction of each period bright. So
    # every target is time-even except the direction of travel, which turns by 180°. speed_px and
    # direction_deg come from the first and last image positions, which reversal swaps: |Δxy| is
    # unchanged and atan2 of −Δxy is 180° away (tests/simgen/test_targets.py checks both).
    targets={
        # audit, 5,000 clips: one frame gives 0.543 [0.53, 0.56] at frame 0 (boosted).
        "moves": TargetInfo("class", "whether the main light moves", classes=("static", "linear"), reversal=SAME,
                            in_one_frame=True, question="Does the brightest light stay still or move across the "
                                                         "sky? Answer A if it stays still or B if it moves."),
        "blinks": TargetInfo("class", "whether the main light blinks", classes=("steady", "blinking"),
                             reversal=SAME, in_one_frame=False,
                             question="Does the brightest light shine steadily or blink? Answer A if it is steady "
                                      "or B if it blinks."),
        "kind": TargetInfo("class", "moves × blinks", classes=("star", "planet", "satellite", "aircraft"),
                           reversal=SAME, in_one_frame=False),
        "speed": TargetInfo("regression", "speed in the sky plane; defined only when moves is linear (written "
                                          "as 0 when static)", "m/s", reversal=SAME, defined_when=LINEAR, in_one_frame=False),
        # audit, 5,000 clips: one frame gives R² 0.105 [0.08, 0.13] at frame 47 (boosted).
        "speed_px": TargetInfo("regression", "mean image speed: image displacement / clip duration; defined only "
                                             "when moves is linear (written as 0 when static)", "px/s",
                               reversal=SAME, defined_when=LINEAR, in_one_frame=True),
        "direction_deg": TargetInfo("regression", "image direction of travel, counter-clockwise from the image x "
                                                  "axis with y up, in [0, 360); circular; defined only when moves "
                                                  "is linear (written as 0 when static)", "deg",
                                    reversal=Reversal("rotate", degrees=180.0), defined_when=LINEAR, period=360.0, in_one_frame=False),
        "blink_hz": TargetInfo("regression", "blink frequency; defined only when blinks is blinking (written as 0 "
                                             "when steady)", "Hz", reversal=SAME, defined_when=BLINKING, in_one_frame=False),
        "duty_cycle": TargetInfo("regression", "fraction of each blink period at the bright level; defined only "
                                               "when blinks is blinking (written as 1 when steady)",
                                 reversal=SAME, defined_when=BLINKING, in_one_frame=False),
    },
    simulation="simgen.families.lights.sim:Lights",
    looks=LightsLooks(),
)


def _distractor(params: dict[str, Any], fps: int, rng: np.random.Generator) -> dict[str, Any]:
    r = (params["region_radius"] + 3.0) * math.sqrt(rng.uniform())
    a = rng.uniform(0, 2 * math.pi)
    return {"position": [r * math.cos(a), r * math.sin(a)], "twinkles": bool(rng.uniform() < 0.5),
            "blink_hz": float(rng.uniform(1.0, min(4.5, 0.45 * fps))), "duty_cycle": float(rng.uniform(0.3, 0.7)),
            "phase": float(rng.uniform()), "dim_ratio": float(rng.uniform(0.1, 0.4)),
            "brightness": float(params["distractor_brightness"]), "tint": float(rng.uniform(-1, 1))}
