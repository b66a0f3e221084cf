"""What the clips of one group are, as a strategy the engine calls without asking which.

The engine samples a group's parameters, simulates one trajectory and hands it, with its world
and camera, to the group's :class:`Variants`, which makes the clips. Three strategies:

- :class:`Variants`: the family's own variants, from its simulation's ``make_clips`` (a falling
  clip and its time-reversed rising twin; or a single clip);
- :class:`ViolationTwins`, for a spec with ``violations:`` (``design: twins``): a possible clip
  and an impossible twin that shares its first frames exactly and breaks physics from a frame
  ``k`` on, in view. The family's ``violate`` makes the twin's trajectory (simgen/physics/violations.py
  has the edits); it is rendered from ``k`` in the same world.
- :class:`OccludedQuadruplet` (``design: occluded``), IntPhys's matched design: two possible
  renders A and B that differ only in the object (present or absent; at one height or another),
  an occluder that slides across both (simgen/render/occluder.py), and the two impossible splices A→B
  and B→A at a frame where the occluder hides the object in both. Every frame of an impossible
  clip is then a frame of a possible one, so no frame, and no statistic of frames, tells them
  apart: only what happens across the occlusion does.

A strategy also says which targets dataset.json declares, and what it draws per group beside
the family's parameters (recorded with them in each clip's ``params``).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simgen.families import FAMILIES
from simgen.families.base import Simulation, TargetInfo
from simgen.physics.labels import frame_record
from simgen.physics.trajectory import Clip, Trajectory
from simgen.physics.violations import violation_frame
from simgen.render.occluder import OccluderPlan, add_occluder, hidden_switch
from simgen.spec.models import (
    LATER_OCCLUDED_KINDS,
    OCCLUDED_KINDS,
    QUADRUPLET,
    TWINS,
    VIOLATION_KINDS,
    SceneSpec,
)

if TYPE_CHECKING:
    from simgen.physics.world import World
    from simgen.render.renderer import Renderer

IMPOSSIBLE = {"possible": "false"}
VIOLATION_TARGETS: dict[str, TargetInfo] = {
    "possible": TargetInfo("class", "whether physics holds for the whole clip", classes=("false", "true")),
    "violation": TargetInfo("class", "what breaks physics in this clip ('none' on a possible clip)",
                            classes=("none", *VIOLATION_KINDS)),
    "group_violation": TargetInfo("class", "what the group tests, the same on each of its clips (the kind of "
                                           "its impossible clips; permanence: a vanish and an appear)",
                                  classes=tuple(dict.fromkeys([*VIOLATION_KINDS, *OCCLUDED_KINDS]))),
    "violation_frame": TargetInfo("regression", "first frame at which the group's clips differ in their states "
                                                "(behind the occluder, in the occluded design); written on every "
                                                "clip of the group", "frame", defined_when=IMPOSSIBLE),
    "onset_frame": TargetInfo("regression", "first frame at which an impossible clip's pixels differ from those "
                                            "of the possible clip that shares its beginning (the reveal); "
                                            "written on every clip of the group", "frame"),
    "design": TargetInfo("class", "twins (the change in view) or occluded (the IntPhys quadruplet)",
                         classes=("occluded", "twins")),
    "balanced": TargetInfo("class", "whether every frame of an impossible clip is a frame of a possible one",
                           classes=("false", "true")),
}


# What the two splices of an occluded group (A then B, B then A) are called, by the group's kind.
SPLICE_VIOLATIONS = {"permanence": ("vanish", "appear"), "teleport": ("teleport", "teleport"), **LATER_OCCLUDED_KINDS}


def violation_targets(spec: SceneSpec) -> dict[str, TargetInfo]:
    """VIOLATION_TARGETS, with the later occluded kinds ``spec`` renders added to the classes (only those:
    datasets rendered before them keep their dataset.json)."""
    later = [k for k in spec.violations.kinds() if k in LATER_OCCLUDED_KINDS]
    if not later:
        return VIOLATION_TARGETS
    splices = [v for k in later for v in LATER_OCCLUDED_KINDS[k]]
    return {**VIOLATION_TARGETS,
            "violation": _with_classes(VIOLATION_TARGETS["violation"], splices),
            "group_violation": _with_classes(VIOLATION_TARGETS["group_violation"], later)}


def _with_classes(target: TargetInfo, more: list[str]) -> TargetInfo:
    return dataclasses.replace(target, classes=tuple(dict.fromkeys([*target.classes, *more])))


@dataclass
class Rendered:
    """A group's simulated and rendered trajectory, with the world and renderer it came from (still open)."""

    params: dict[str, Any]
    world: World
    renderer: Renderer
    trajectory: Trajectory

    @functools.cached_property
    def frames(self) -> np.ndarray:
        """(T, H, W, 3) uint8, rendered on first use (a strategy that renders otherwise never asks)."""
        return self.renderer.render(self.world, self.trajectory)

    def states(self, trajectory: Trajectory | None = None) -> list[dict[str, Any]]:
        """Per-frame label records of ``trajectory`` (default: the rendered one), seen by this camera."""
        return [frame_record(f, self.renderer.camera) for f in (trajectory or self.trajectory).frames]


class Variants:
    """The family's own variants: its simulation's ``make_clips``."""

    def __init__(self, spec: SceneSpec):
        self.spec = spec
        self.family = FAMILIES[spec.family]

    @property
    def simulation(self) -> Simulation:
        return self.family.load_simulation()

    @property
    def targets(self) -> dict[str, TargetInfo]:
        """The per-clip targets dataset.json declares."""
        return dict(self.family.targets)

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        """What the group draws beside the family's parameters, recorded with them (nothing here)."""
        return {}

    def clips(self, rendered: Rendered, drawn: dict[str, Any]) -> list[Clip]:
        return self.simulation.make_clips(rendered.trajectory, rendered.frames, rendered.states())


class ViolationTwins(Variants):
    """A possible clip and its impossible twin, broken from frame ``k`` on by the family's ``violate``."""

    @property
    def targets(self) -> dict[str, TargetInfo]:
        return violation_targets(self.spec)

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        drawn = self.spec.violations.sample(rng)
        return {"violation": {k: v for k, v in drawn.items() if not k.startswith("occluder_")}}

    def clips(self, rendered: Rendered, drawn: dict[str, Any]) -> list[Clip]:
        violation = drawn["violation"]
        kind = violation["kind"]
        possible_frames = rendered.frames  # rendered before `violate`, which may re-simulate in the world
        impossible, k = self.simulation.violate(kind, rendered.trajectory, violation, self.spec, rendered.params,
                                                rendered.world)
        frames = possible_frames.copy()
        frames[k:] = rendered.renderer.render(rendered.world, impossible, start=k)
        group = {"group_violation": kind, "violation_frame": k, "onset_frame": k, "design": "twins",
                 "balanced": "false"}
        possible_name, impossible_name = TWINS
        return [Clip(possible_name, possible_frames, rendered.states(),
                     {"possible": "true", "violation": "none", **group}, rendered.trajectory.events),
                Clip(impossible_name, frames, rendered.states(impossible),
                     {"possible": "false", "violation": kind, **group}, impossible.events)]


class OccludedQuadruplet(ViolationTwins):
    """Two possible renders A and B behind one sliding occluder, and their splices A→B and B→A at the
    frame nearest the drawn ``at`` where the occluder hides the object in both (measured on the
    pixels: the two renders are identical there)."""

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        violation = self.spec.violations.sample(rng)
        return {"violation": {**violation, **OccluderPlan.draw(rng)}}

    def clips(self, rendered: Rendered, drawn: dict[str, Any]) -> list[Clip]:
        violation = drawn["violation"]
        kind = violation["kind"]
        a, b, body, radius = self.simulation.occluded_pair(kind, rendered.trajectory, violation, self.spec,
                                                           rendered.params)
        k = violation_frame(violation["at"], len(a.frames))
        a, b = add_occluder(rendered.world, [a, b], rendered.renderer.camera, body, radius, k,
                            OccluderPlan.of(violation))
        frames_a = rendered.renderer.render(rendered.world, a)
        frames_b = rendered.renderer.render(rendered.world, b)
        try:
            switch, onset = hidden_switch(frames_a, frames_b, k)
        except ValueError as e:
            raise ValueError(f"{self.spec.family} {kind}: {e}") from None
        states_a, states_b = rendered.states(a), rendered.states(b)
        violations = SPLICE_VIOLATIONS[kind]
        group = {"group_violation": kind, "violation_frame": switch, "onset_frame": onset, "design": "occluded",
                 "balanced": "true"}
        possible = {"possible": "true", "violation": "none", **group}
        name_a, name_b, name_ab, name_ba = QUADRUPLET
        return [
            Clip(name_a, frames_a, states_a, possible, a.events),
            Clip(name_b, frames_b, states_b, possible, b.events),
            Clip(name_ab, np.concatenate([frames_a[:switch], frames_b[switch:]]), states_a[:switch] + states_b[switch:],
                 {"possible": "false", "violation": violations[0], **group}, []),
            Clip(name_ba, np.concatenate([frames_b[:switch], frames_a[switch:]]), states_b[:switch] + states_a[switch:],
                 {"possible": "false", "violation": violations[1], **group}, []),
        ]


def variants_for(spec: SceneSpec) -> Variants:
    """The strategy of ``spec``'s groups: its violation design when it asks for violations, else the
    family's own."""
    if not spec.violations:
        return Variants(spec)
    return OccludedQuadruplet(spec) if spec.violations.design == "occluded" else ViolationTwins(spec)
