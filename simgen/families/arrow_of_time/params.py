"""Arrow of time, declared: parameters, spec model and targets (no PyBullet).

"Is this clip played forwards?" Each group simulates one dissipative event, the ``forward`` clip:

- ``bounce``: a sphere falls, bounces inelastically on the floor (restitution e < 1) and rises;
- ``slide``: a box slides along the floor and slows under friction (deceleration μ·g).

Its ``backward`` twin is the EXACT time reversal: the same frames in reverse order, per-frame
velocities negated. In it, energy appears from nowhere: the sphere leaves the floor faster than it
hit it, the box speeds up by itself.

Why no single frame gives the answer. The two clips hold the same set of frames, so a single frame
(whichever one the seeded ``single_frame`` view picks) and any frame average have the same
distribution in both classes: chance by construction. Not so for a frame at a known index (frame k of
one clip is frame T-1-k of its twin): ``simgen audit`` reads every target from one, so each is
declared ``in_one_frame=True`` (docs/families/arrow_of_time.md). Unlike falling_rising, the direction of motion
gives nothing away either: both clips of a bounce go down, hit the floor and go up, and both clips of a
slide travel the same path. The window is chosen so that neither end frame tells: the sphere is in
flight at both ends at the SAME height (the forward clip does not start higher than it ends), and the
box is still sliding at both ends (it never comes to rest in view), with its path centred on the
camera's focus. What tells is speed: before the bounce it is higher than after it in the forward clip
(lower in the backward one), and the box's speed falls (forward) or rises (backward). With the ends
balanced, a forward bounce also happens before the middle of the clip (the slow rise takes longer than
the fast fall over the same height) and a backward one after it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import model_validator

from simgen.families.base import SAME, FamilyInfo, Looks, Reversal, TargetInfo
from simgen.physics.materials import density_rgba, floor_rgba, volume
from simgen.physics.shapes import random_rotation
from simgen.spec.distributions import AnyDist, Choice, Params, dist_field
from simgen.spec.models import SceneSpec

EVENTS = ("bounce", "slide")
SHAPE = {"bounce": "sphere", "slide": "box"}


def body_rgba(params: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """The object's colour: impact's density palette (hue from log density), so that mass = density ×
    volume can be read from the video, and with it the energy in joules."""
    shape = SHAPE[params["event"]]
    return density_rgba(params["mass"] / volume(shape, params["size"]))


class ArrowOfTimeParams(Params):
    event: AnyDist = dist_field({"choice": list(EVENTS)}, options=list(EVENTS),
                                description="bounce: a sphere bounces on the floor; slide: a box slides to a "
                                            "slower speed under friction")
    size: AnyDist = dist_field({"uniform": [0.15, 0.25]}, gt=0, le=1, unit="m",
                               description="sphere radius, or the box's half-extent")
    mass: AnyDist = dist_field({"log_uniform": [0.3, 3.0]}, gt=0, unit="kg",
                               description="visible through the density palette (simgen.physics.materials.density_rgba)")
    texture: AnyDist = dist_field({"choice": ["none", "checker", "stripes"], "weights": [1, 1, 1]},
                                  options=["none", "checker", "stripes"])
    # bounce
    restitution: AnyDist = dist_field({"uniform": [0.5, 0.85]}, gt=0, le=0.99,
                                      description="nominal restitution of the sphere on the floor (bounce); the "
                                                  "contact is placed on a physics step, so the measured value "
                                                  "matches it (the target is the measured one)")
    clearance: AnyDist = dist_field({"uniform": [1.25, 1.75]}, gt=0.01, le=20, unit="m",
                                    description="gap below the sphere at the first and the last frame (bounce); "
                                                "the impact speed is solved so that the clip's window ends "
                                                "at the height it starts at")
    drift_speed: AnyDist = dist_field({"uniform": [0.0, 0.4]}, ge=0, le=5, unit="m/s",
                                      description="constant horizontal velocity of the sphere (frictionless bounce)")
    drift_heading: AnyDist = dist_field({"uniform": [0.0, 360.0]}, unit="deg")
    spin: AnyDist = dist_field({"uniform": [0.0, 4.0]}, ge=0, le=50, unit="rad/s",
                               description="the sphere's spin (kept through the frictionless bounce)")
    # slide
    friction: AnyDist = dist_field({"uniform": [0.2, 0.6]}, ge=0.01, le=0.9,
                                   description="friction coefficient of the box on the floor (slide)")
    speed_end: AnyDist = dist_field({"uniform": [0.2, 0.8]}, gt=0, le=20, unit="m/s",
                                    description="the box's speed at the forward clip's last frame (slide): it "
                                                "never comes to rest in view")
    slide_heading: AnyDist = dist_field({"uniform": [0.0, 360.0]}, unit="deg")
    gravity: AnyDist = dist_field(9.81, gt=0, le=100, unit="m/s^2")
    linear_damping: AnyDist = dist_field(0.0, ge=0, le=1, description="PyBullet linearDamping; 0 = no drag")
    angular_damping: AnyDist = dist_field(0.0, ge=0, le=1)
    floor_value: AnyDist = dist_field({"uniform": [0.25, 0.55]}, ge=0, le=1)


class ArrowOfTimeSpec(SceneSpec):
    family_variants: ClassVar[tuple[str, ...]] = ("forward", "backward")
    # A sliding box speeds up or slows down behind a sliding occluder (sim.py's occluded_pair).
    occluded_kinds: ClassVar[tuple[str, ...]] = ("energy_change",)

    family: Literal["arrow_of_time"]
    params: ArrowOfTimeParams = ArrowOfTimeParams()

    @model_validator(mode="after")
    def _occluded_slides_only(self) -> ArrowOfTimeSpec:
        # A bounce's contact would sit in the windows that score the switch (sim.py's occluded_pair).
        events = self.params.event.choice if isinstance(self.params.event, Choice) else [self.params.event.fixed]
        if self.violations and self.violations.design == "occluded" and set(events) != {"slide"}:
            raise ValueError(f"params.event {list(events)}: occluded violations of arrow_of_time need slides "
                             "only; set params.event: slide")
        return self

    def sample_params(self, rng: np.random.Generator) -> dict[str, Any]:
        params = {**self.params.sample(rng), **random_rotation(rng)}  # the sphere's orientation; a box gets a yaw
        params["yaw"] = float(rng.uniform(0.0, 360.0))
        return params


class ArrowOfTimeLooks(Looks):
    def slots(self, spec: Mapping[str, Any]) -> list[str]:
        return ["object"]

    def appearance(self, params: Mapping[str, Any], name: str) -> dict[str, Any]:
        return {"shape": SHAPE[params["event"]], "texture": params.get("texture", "none"), "size": params["size"],
                "rgb": body_rgba(params)[:3]}

    def backdrop(self, params: Mapping[str, Any]) -> tuple[float, float, float]:
        return floor_rgba(params["floor_value"])[:3]


def bounce_window_ok(clearance: float, restitution: float, gravity: float, duration: float) -> bool:
    """Whether a balanced window of ``duration`` exists: the longest one (ending at the rebound's apex) is
    sqrt(2h/g)·(1 + (1 − sqrt(1 − e²))/e)."""
    e = restitution
    return math.sqrt(2 * clearance / gravity) * (1 + (1 - math.sqrt(1 - e * e)) / e) >= duration


FAMILY = FamilyInfo(
    name="arrow_of_time",
    description="a dissipative event (an inelastic bounce, or a box sliding under friction) and its exact time "
                "reversal, in which energy appears from nowhere: is the clip played forwards?",
    spec_model=ArrowOfTimeSpec,
    # Time reversal: the backward twin *is* the forward clip reversed, so each rule holds exactly between the
    # twins (tests/simgen/test_arrow_of_time.py checks them on rendered groups).
    targets={
        # audit, 5,000 clips: one frame gives 0.999 [1.00, 1.00] at frame 11 (boosted; linear 0.749 at frame 4).
        "forward": TargetInfo("class", "whether the clip is played forwards (energy is lost) or backwards "
                                       "(energy appears from nowhere)", classes=("false", "true"),
                              reversal=Reversal("swap_classes"), in_one_frame=True,
                              question="Is this video playing forwards, as it was filmed, rather than in reverse? "
                                       "Answer A for no or B for yes."),
        # The event kind is what happens, in either direction (and the shape shows it: static).
        "event": TargetInfo("class", "the dissipative event: bounce (sphere) or slide (box)", classes=EVENTS,
                            reversal=SAME, in_one_frame=True,
                            question="Does the object bounce or slide? Answer A if it bounces or B if it slides."),
        # A property of the collision: reversed, the slower normal speed over the faster one is unchanged.
        # audit, 5,000 clips: one frame gives R² 0.900 [0.89, 0.91] at frame 6 (boosted).
        "restitution": TargetInfo("regression", "measured restitution of the bounce: the slower over the faster "
                                                "normal speed at the contact (forward: separation / approach; "
                                                "backward: approach / separation)",
                                  reversal=SAME, defined_when={"event": "bounce"}, in_one_frame=True),
        # Deceleration magnitude is time-even: reversed, the box accelerates at μ·g instead.
        # audit, 5,000 clips: one frame gives R² 0.840 [0.82, 0.86] at frame 9 (boosted).
        "friction": TargetInfo("regression", "measured friction coefficient: |least-squares slope of the box's "
                                             "horizontal speed over the clip's frames| / g",
                               reversal=SAME, defined_when={"event": "slide"}, in_one_frame=True),
        # Reversed, the energy lost is the energy gained: the same magnitude.
        "energy_lost": TargetInfo("regression", "mechanical energy (kinetic + rotational + potential) the event "
                                                "dissipates: |E(first frame) − E(last frame)| (the forward clip "
                                                "loses it, the backward clip gains it)", "J", reversal=SAME, in_one_frame=True),
        # audit, 5,000 clips: one frame gives R² 0.951 [0.94, 0.96] at frame 6 (boosted).
        "energy_lost_per_kg": TargetInfo("regression", "energy_lost / mass: what the motion alone shows, without "
                                                       "reading the mass off the palette", "J/kg", reversal=SAME, in_one_frame=True),
        # A property of the object, the same in every frame.
        "mass": TargetInfo("regression", "mass of the object; visible as size × the density palette", "kg",
                           reversal=SAME, in_one_frame=True),
    },
    simulation="simgen.families.arrow_of_time.sim:ArrowOfTime",
    looks=ArrowOfTimeLooks(),
)
