"""What a scene family is: a declaration (pure data, no PyBullet) and a simulation (PyBullet).

Each family is a folder, ``simgen/families/<name>/``:

- ``params.py`` declares it: its parameter model, spec model, targets and description, as a
  :class:`FamilyInfo` named ``FAMILY``. ``simgen ls``, ``validate`` and ``schema`` need only this.
- ``sim.py`` runs it: a :class:`Simulation` that turns sampled parameters into a trajectory in a
  PyBullet world. It is imported on first use, by ``simgen render``.
"""

from __future__ import annotations

import colorsys
import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from simgen.physics.shapes import SHAPES, TEXTURES
from simgen.physics.trajectory import Clip, Trajectory
from simgen.spec.distributions import AnyDist, Params, dist_field
from simgen.spec.models import SINGLE_VARIANT, SceneSpec

if TYPE_CHECKING:
    from simgen.physics.world import World


REVERSAL_RULES = ("same", "negate", "swap_classes", "rotate", "undefined")


@dataclass(frozen=True)
class Reversal:
    """How a target's value on the time-reversed clip follows from the original clip's targets.

    - ``same``: time-even, the value is unchanged;
    - ``negate``: minus the value of target ``of`` (default: the target itself);
    - ``swap_classes``: a two-class target whose classes swap;
    - ``rotate``: add ``degrees``, modulo the target's ``period`` (a circular target);
    - ``undefined``: the original clip's targets do not give it (e.g. a state at the clip's other end).
    """

    rule: Literal["same", "negate", "swap_classes", "rotate", "undefined"]
    of: str | None = None
    degrees: float | None = None

    def __post_init__(self) -> None:
        if self.rule not in REVERSAL_RULES:
            raise ValueError(f"reversal rule {self.rule!r}; allowed: {', '.join(REVERSAL_RULES)}")
        if self.of is not None and self.rule != "negate":
            raise ValueError(f"reversal: 'of' goes with rule 'negate', not {self.rule!r}")
        if (self.degrees is not None) != (self.rule == "rotate"):
            raise ValueError("reversal: rule 'rotate' needs 'degrees', and only it takes them")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"rule": self.rule}
        if self.of is not None:
            d["of"] = self.of
        if self.degrees is not None:
            d["degrees"] = self.degrees
        return d


SAME, UNDEFINED = Reversal("same"), Reversal("undefined")


@dataclass(frozen=True)
class TargetInfo:
    """A per-clip target, as declared in dataset.json.

    The optional fields are written only when set, so a target without them writes the same bytes:

    - ``reversal``: its value on the time-reversed clip (:class:`Reversal`);
    - ``defined_when``: ``{class_target: class_value}``; the target means something only on those
      clips and is scored only there (the value written on the other clips is a placeholder);
    - ``period``: a circular target's period (e.g. 360 for an angle in degrees);
    - ``residual_on``: targets whose explained part is removed before scoring: evaluate scores the
      residual of a log-log least-squares fit of this target on those (fitted on train+val);
    - ``in_one_frame``: the family's promise, checked by ``simgen audit`` on thousands of clips: True, one
      frame's visible state may give it (a static property: a mass shown by size and colour); False, no
      single frame gives it (``will_contact``): any frame whose visible state gives it above chance is a leak.
    - ``question``: a class target asked in words, for a multimodal LLM's zero-shot answer (evaluate's
      ``vlm-zero-shot``); it names the answers by letter in the order of ``classes`` (A the first class).
    """

    kind: Literal["class", "regression"]
    description: str
    unit: str | None = None
    classes: tuple[str, ...] | None = None
    reversal: Reversal | None = None
    defined_when: Mapping[str, str] | None = None
    period: float | None = None
    residual_on: tuple[str, ...] | None = None
    in_one_frame: bool | None = None
    question: str | None = None

    def __post_init__(self) -> None:
        rule = self.reversal.rule if self.reversal else None
        if rule == "swap_classes" and (self.kind != "class" or len(self.classes or ()) != 2):
            raise ValueError("reversal 'swap_classes' needs a class target with two classes")
        if rule in ("negate", "rotate") and self.kind != "regression":
            raise ValueError(f"reversal {rule!r} needs a regression target")
        if rule == "rotate" and self.period is None:
            raise ValueError("reversal 'rotate' needs a circular target (a period)")
        if self.period is not None and (self.kind != "regression" or not self.period > 0):
            raise ValueError("period: only a regression target has one, and it is > 0")
        if self.defined_when is not None and (not self.defined_when or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.defined_when.items())):
            raise ValueError("defined_when: a non-empty {class_target: class_value} mapping")
        if self.residual_on is not None and (self.kind != "regression" or not self.residual_on):
            raise ValueError("residual_on: a non-empty list of targets, on a regression target")
        if self.in_one_frame not in (None, True, False):
            raise ValueError(f"in_one_frame: true, false or unset, not {self.in_one_frame!r}")
        if self.question is not None and (self.kind != "class" or not self.classes or not self.question.strip()):
            raise ValueError("question: a non-empty text, on a class target (its letters name the classes)")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "description": self.description}
        if self.unit:
            d["unit"] = self.unit
        if self.classes:
            d["classes"] = list(self.classes)
        if self.period is not None:
            d["period"] = self.period
        if self.defined_when is not None:
            d["defined_when"] = dict(self.defined_when)
        if self.reversal is not None:
            d["reversal"] = self.reversal.to_dict()
        if self.residual_on is not None:
            d["residual_on"] = list(self.residual_on)
        if self.in_one_frame is not None:
            d["in_one_frame"] = self.in_one_frame
        if self.question is not None:
            d["question"] = self.question
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TargetInfo:
        """The declaration as dataset.json holds it (what :meth:`to_dict` writes)."""
        reversal = d.get("reversal")
        return cls(d["kind"], d.get("description", ""), d.get("unit"), tuple(d["classes"]) if d.get("classes") else None,
                   Reversal(**reversal) if reversal else None, d.get("defined_when"), d.get("period"),
                   tuple(d["residual_on"]) if d.get("residual_on") else None, d.get("in_one_frame"), d.get("question"))

    def defined_on(self, values: Mapping[str, Any]) -> bool:
        """Whether this target means something on the clip whose targets are ``values``."""
        return all(values.get(k) == v for k, v in (self.defined_when or {}).items())


def check_targets(family: str, targets: Mapping[str, TargetInfo]) -> None:
    """The names a target's fields refer to exist and are of the right kind."""
    for name, t in targets.items():
        where = f"{family}: target {name!r}"
        if t.reversal and t.reversal.of is not None:
            other = targets.get(t.reversal.of)
            if other is None or other.kind != "regression":
                raise ValueError(f"{where}: reversal 'of' {t.reversal.of!r} is not a regression target")
        for key, value in (t.defined_when or {}).items():
            other = targets.get(key)
            if other is None or other.kind != "class" or value not in (other.classes or ()):
                raise ValueError(f"{where}: defined_when {key}={value!r} is not a class of a class target")
        for other in t.residual_on or ():
            if other == name or other not in targets or targets[other].kind != "regression":
                raise ValueError(f"{where}: residual_on {other!r} is not another regression target")


def reversed_targets(targets: Mapping[str, TargetInfo], values: Mapping[str, Any]) -> dict[str, Any]:
    """The targets of the time-reversed clip, from those of the clip (``values``), by each target's
    ``reversal``. Left out: targets without a rule, ``undefined`` ones, and those not defined on
    the clip (``defined_when``)."""
    out: dict[str, Any] = {}
    for name, t in targets.items():
        if t.reversal is None or t.reversal.rule == "undefined" or name not in values or not t.defined_on(values):
            continue
        rule, value = t.reversal.rule, values[name]
        if rule == "same":
            out[name] = value
        elif rule == "negate":
            out[name] = -values[t.reversal.of or name]
        elif rule == "swap_classes":
            a, b = t.classes
            out[name] = b if value == a else a
        elif rule == "rotate":
            out[name] = (value + t.reversal.degrees) % t.period
    return out


class Looks:
    """What a frame shows of a family's clips beyond the per-frame states its labels record: which
    bodies and lights fill the oracles' fixed slots, how each looks, and the backdrop. Pure data from a
    clip's ``params`` (no PyBullet), read by evaluate's ground-truth oracles (evaluate/encoders/oracle.py).
    The defaults: the first frame's bodies and lights in their order, nothing known of their looks, a
    black backdrop."""

    def slots(self, spec: Mapping[str, Any]) -> list[str] | None:
        """The entity slots of every clip of a dataset rendered from ``spec`` (its dataset.json form);
        None: the generic layout (the first frame's bodies and lights)."""
        return None

    def appearance(self, params: Mapping[str, Any], name: str) -> dict[str, Any]:
        """Known looks of body ``name``: any of ``shape``, ``texture``, ``size`` (m), ``rgb`` (0-1)."""
        return {}

    def backdrop(self, params: Mapping[str, Any]) -> tuple[float, float, float]:
        """The colour (0-1) a frame shows around the bodies."""
        return (0.0, 0.0, 0.0)


class OneObjectParams(Params):
    """The looks and mass of a family's one object (falling_rising, gravity), declared first so every such
    family draws them in this order; :class:`OneObjectLooks` reads them. A family narrows a range by
    redeclaring the field (it keeps its place)."""

    shape: AnyDist = dist_field({"choice": list(SHAPES)}, options=list(SHAPES))
    size: AnyDist = dist_field({"uniform": [0.15, 0.3]}, gt=0, le=2, unit="m",
                               description="radius, or half-extent of a box")
    mass: AnyDist = dist_field({"uniform": [0.2, 2.0]}, gt=0, unit="kg")
    hue: AnyDist = dist_field({"uniform": [0.0, 1.0]}, ge=0, le=1)
    saturation: AnyDist = dist_field({"uniform": [0.5, 1.0]}, ge=0, le=1)
    value: AnyDist = dist_field({"uniform": [0.6, 1.0]}, ge=0, le=1)
    texture: AnyDist = dist_field({"choice": ["none", "checker", "stripes"], "weights": [2, 1, 1]},
                                  options=["none", *TEXTURES])


class OneObjectLooks(Looks):
    """One body, ``object``, whose looks are the params ``shape``, ``texture``, ``size`` and ``hue``,
    ``saturation``, ``value`` (falling_rising, gravity); a family adds its backdrop."""

    def slots(self, spec: Mapping[str, Any]) -> list[str]:
        return ["object"]

    def appearance(self, params: Mapping[str, Any], name: str) -> dict[str, Any]:
        return {"shape": params["shape"], "texture": params.get("texture", "none"), "size": params["size"],
                "rgb": colorsys.hsv_to_rgb(params["hue"], params["saturation"], params["value"])}


@dataclass(frozen=True)
class FamilyInfo:
    """A scene family as the registry lists it. ``simulation`` is ``"module:Class"`` of its
    :class:`Simulation`, imported only when a clip is simulated (it needs PyBullet)."""

    name: str
    description: str
    spec_model: type[SceneSpec]
    targets: Mapping[str, TargetInfo]
    simulation: str
    looks: Looks = field(default_factory=Looks)

    @property
    def variants(self) -> tuple[str, ...]:
        """The clips of one group (e.g. falling and rising), declared on the spec model."""
        return self.spec_model.family_variants

    @property
    def violation_kinds(self) -> tuple[str, ...]:
        return self.spec_model.violation_kinds

    def __post_init__(self) -> None:
        check_targets(self.name, self.targets)

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

    def closed_form(self, spec: SceneSpec, params: dict[str, Any]) -> Trajectory | None:
        """The trajectory ``simulate`` makes (visible frames' states, targets, focus; no events), from the
        family's closed form, for ``simgen audit``, which simulates thousands of clips and renders none; a
        family's tests bound how far it is from the simulation. None: no closed form, simulate."""
        return None

    def violate(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                params: dict[str, Any], world: World) -> tuple[Trajectory, int]:
        """The impossible twin of ``trajectory`` and the first frame ``k`` where it differs.

        Either edit the recorded states from ``k`` on (simgen/physics/violations.py), or re-simulate in
        ``world`` after ``world.reset()`` with an intervention at frame ``k``; the twin is then
        rendered from ``k`` in ``world``.
        """
        raise NotImplementedError(f"{spec.family} cannot render violations")

    def occluded_pair(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                      params: dict[str, Any]) -> tuple[Trajectory, Trajectory, str, float]:
        """The two possible trajectories A and B of an occluded quadruplet of group kind ``kind``
        (``permanence``: the object present, then absent; ``teleport``: two places of one motion), the
        body they differ in, and that body's bounding-sphere radius (m), which sizes the occluder."""
        raise NotImplementedError(f"{spec.family} cannot render occluded violations")

    def make_clips(self, trajectory: Trajectory, frames: np.ndarray, states: list[dict[str, Any]]) -> list[Clip]:
        """Turn one rendered trajectory into the group's clips. Default: a single clip."""
        return [Clip(SINGLE_VARIANT, frames, states, trajectory.targets, trajectory.events)]
