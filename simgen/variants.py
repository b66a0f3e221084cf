"""What the clips of one group are, as a strategy the engine calls without asking which.

The engine samples a group's parameters, simulates one trajectory and renders it; the group's
:class:`Variants` then makes its clips from that. Two strategies:

- :class:`Variants`: the family's own variants, from its simulation's ``make_clips`` (a falling
  clip and its time-reversed rising twin; or a single clip);
- :class:`ViolationTwins`, for a spec with ``violations:`` (IntPhys style): a possible clip and an
  impossible twin that shares its first frames exactly and breaks physics from a frame ``k`` on.
  The family's ``violate`` makes the twin's trajectory (simgen/violations.py has the edits); it
  is rendered from ``k`` in the same world.

A strategy also says which targets dataset.json declares, and what it draws per group beside
the family's parameters (recorded with them in each clip's ``params``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simgen.families import FAMILIES
from simgen.families.base import Simulation, TargetInfo
from simgen.labels import frame_record
from simgen.spec.models import TWINS, VIOLATION_KINDS, SceneSpec
from simgen.trajectory import Clip, Trajectory

if TYPE_CHECKING:
    from simgen.render import Renderer
    from simgen.world import World

VIOLATION_TARGETS: dict[str, TargetInfo] = {
    "possible": TargetInfo("class", "whether physics holds for the whole clip", classes=("false", "true")),
    "violation": TargetInfo("class", "kind of violation ('none' for the possible twin)",
                            classes=("none", *VIOLATION_KINDS)),
    "violation_frame": TargetInfo("regression", "first frame at which the twins differ", "frame"),
}


@dataclass
class Rendered:
    """A group's simulated and rendered trajectory, with the world and renderer it came from (still open)."""

    params: dict[str, Any]
    world: World
    renderer: Renderer
    trajectory: Trajectory
    frames: np.ndarray  # (T, H, W, 3) uint8

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
        return VIOLATION_TARGETS

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        return {"violation": self.spec.violations.sample(rng)}

    def clips(self, rendered: Rendered, drawn: dict[str, Any]) -> list[Clip]:
        violation = drawn["violation"]
        kind = violation["kind"]
        impossible, k = self.simulation.violate(kind, rendered.trajectory, violation, self.spec, rendered.params,
                                                rendered.world)
        frames = rendered.frames.copy()
        frames[k:] = rendered.renderer.render(rendered.world, impossible, start=k)
        possible_name, impossible_name = TWINS
        return [Clip(possible_name, rendered.frames, rendered.states(),
                     {"possible": "true", "violation": "none", "violation_frame": k}, rendered.trajectory.events),
                Clip(impossible_name, frames, rendered.states(impossible),
                     {"possible": "false", "violation": kind, "violation_frame": k}, impossible.events)]


def variants_for(spec: SceneSpec) -> Variants:
    """The strategy of ``spec``'s groups: twins when it asks for violations, else the family's own."""
    return ViolationTwins(spec) if spec.violations else Variants(spec)
