"""What a scene family provides, and the plain data it hands to the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

if TYPE_CHECKING:
    from simgen.spec import SceneSpec
    from simgen.world import World


@dataclass(frozen=True)
class TargetInfo:
    """A per-clip target, as declared in dataset.json."""

    kind: Literal["class", "regression"]
    description: str
    unit: str | None = None
    classes: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "description": self.description}
        if self.unit:
            d["unit"] = self.unit
        if self.classes:
            d["classes"] = list(self.classes)
        return d


@dataclass
class BodyFrame:
    """State of one body at one rendered frame (SI units, z up)."""

    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float]  # quaternion x, y, z, w
    linear_velocity: tuple[float, float, float]
    angular_velocity: tuple[float, float, float]
    rgba: tuple[float, float, float, float] | None = None  # only when the appearance changes over time
    visible: bool = True  # False: not drawn (an object that vanished in an impossible twin)


@dataclass
class Frame:
    t: float
    bodies: dict[str, BodyFrame]
    lights: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Trajectory:
    """What a family's simulation produces: states per rendered frame, events and targets.

    ``body_ids`` maps the names used in ``frames`` to PyBullet body ids in the world, so
    the renderer can pose them; ``focus`` is the point the camera looks at.
    """

    frames: list[Frame]
    body_ids: dict[str, int]
    targets: dict[str, Any]
    focus: tuple[float, float, float]
    events: list[dict[str, Any]] = field(default_factory=list)
    # Colour (rgb in [0, 1]) of pixels no surface covers; None keeps TinyRenderer's white.
    background: tuple[float, float, float] | None = None


@dataclass
class Clip:
    """One clip ready to write: frames (T, H, W, 3) uint8 and its labels."""

    variant: str
    frames: np.ndarray
    states: list[dict[str, Any]]
    targets: dict[str, Any]
    events: list[dict[str, Any]]


class Family:
    """Base class: ``sample`` draws parameters, ``simulate`` runs them, ``make_clips`` splits variants."""

    name: ClassVar[str]
    description: ClassVar[str]
    spec_model: ClassVar[type[SceneSpec]]
    targets: ClassVar[dict[str, TargetInfo]]
    # Clips per group: the falling clip and its time-reversed rising twin make a group of 2.
    variants: ClassVar[tuple[str, ...]] = ("clip",)
    # Violations (simgen/violations.py) this family can render as possible/impossible twins.
    violation_kinds: ClassVar[tuple[str, ...]] = ()

    def variants_for(self, spec: SceneSpec) -> tuple[str, ...]:
        return ("possible", "impossible") if spec.violations else self.variants

    def declared_targets(self, spec: SceneSpec) -> dict[str, TargetInfo]:
        """Targets written to dataset.json: the family's own, or the violation targets."""
        if spec.violations:
            from simgen.violations import TARGETS

            return TARGETS
        return self.targets

    def sample(self, spec: SceneSpec, rng: np.random.Generator) -> dict[str, Any]:
        return spec.params.sample(rng)

    def simulate(self, spec: SceneSpec, params: dict[str, Any], world: World) -> Trajectory:
        raise NotImplementedError

    def violate(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                params: dict[str, Any], world: World) -> tuple[Trajectory, int]:
        """The impossible twin of ``trajectory`` and the first frame ``k`` where it differs.

        Either edit the recorded states from ``k`` on (simgen/violations.py), or re-simulate in
        ``world`` after ``world.reset()`` with an intervention at frame ``k``; the engine then
        renders the returned trajectory's frames from ``k`` in ``world``.
        """
        raise NotImplementedError(f"{self.name} cannot render violations")


    def make_clips(self, trajectory: Trajectory, frames: np.ndarray, states: list[dict[str, Any]]) -> list[Clip]:
        """Turn one rendered trajectory into the group's clips. Default: a single clip."""
        return [Clip(self.variants[0], frames, states, trajectory.targets, trajectory.events)]
