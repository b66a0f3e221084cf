"""What a scene family is: a declaration (pure data, no PyBullet) and a simulation (PyBullet).

Each family is a folder, ``simgen/families/<name>/``:

- ``params.py`` declares it: its parameter model, spec model, targets and description, as a
  :class:`FamilyInfo` named ``FAMILY``. ``simgen ls``, ``validate`` and ``schema`` need only this.
- ``sim.py`` runs it: a :class:`Simulation` that turns sampled parameters into a trajectory in a
  PyBullet world. It is imported on first use, by ``simgen render``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from simgen.spec.models import SINGLE_VARIANT, SceneSpec
from simgen.trajectory import Clip, Trajectory

if TYPE_CHECKING:
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


@dataclass(frozen=True)
class FamilyInfo:
    """A scene family as the registry lists it. ``simulation`` is ``"module:Class"`` of its
    :class:`Simulation`, imported only when a clip is simulated (it needs PyBullet)."""

    name: str
    description: str
    spec_model: type[SceneSpec]
    targets: Mapping[str, TargetInfo]
    simulation: str

    @property
    def variants(self) -> tuple[str, ...]:
        """The clips of one group (e.g. falling and rising), declared on the spec model."""
        return self.spec_model.family_variants

    @property
    def violation_kinds(self) -> tuple[str, ...]:
        return self.spec_model.violation_kinds

    def load_simulation(self) -> Simulation:
        return _load_simulation(self.simulation)


@functools.cache
def _load_simulation(path: str) -> Simulation:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)()


class Simulation:
    """A family's PyBullet half: ``simulate`` runs sampled parameters, ``make_clips`` splits a
    rendered trajectory into the group's clips, ``violate`` makes an impossible twin."""

    def simulate(self, spec: SceneSpec, params: dict[str, Any], world: World) -> Trajectory:
        raise NotImplementedError

    def violate(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                params: dict[str, Any], world: World) -> tuple[Trajectory, int]:
        """The impossible twin of ``trajectory`` and the first frame ``k`` where it differs.

        Either edit the recorded states from ``k`` on (simgen/violations.py), or re-simulate in
        ``world`` after ``world.reset()`` with an intervention at frame ``k``; the twin is then
        rendered from ``k`` in ``world``.
        """
        raise NotImplementedError(f"{spec.family} cannot render violations")

    def make_clips(self, trajectory: Trajectory, frames: np.ndarray, states: list[dict[str, Any]]) -> list[Clip]:
        """Turn one rendered trajectory into the group's clips. Default: a single clip."""
        return [Clip(SINGLE_VARIANT, frames, states, trajectory.targets, trajectory.events)]
