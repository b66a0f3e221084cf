"""What a scene spec holds: render settings, camera, counts, violations and the family's params.

A family subclasses :class:`SceneSpec` with its ``family`` name and ``params`` model (see
``simgen/families/<name>/params.py``); :mod:`simgen.spec.load` reads YAML into them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from simgen.spec.distributions import AnyDist, Choice, DistModel, Params, StrictModel, dist_field

FORMAT_VERSION = 1


class SpecError(ValueError):
    """A scene spec that cannot be used; the message is one user-facing line."""


class VideoSettings(StrictModel):
    codec: Literal["libx264", "libx264rgb"] = Field(
        "libx264rgb", description="H.264 encoder; libx264rgb with crf 0 stores RGB exactly (bit-lossless)")
    pix_fmt: Literal["yuv444p", "yuv420p", "rgb24"] = Field(
        "rgb24", description="rgb24 (with libx264rgb) or yuv444p keep full colour resolution, so small "
                             "bright objects survive; yuv420p halves chroma resolution")
    crf: int = Field(0, ge=0, le=51, description="0 is lossless in the encoder's colour space")
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "ultrafast"

    @model_validator(mode="after")
    def _codec_fmt(self) -> VideoSettings:
        if (self.codec == "libx264rgb") != (self.pix_fmt == "rgb24"):
            raise ValueError("pix_fmt rgb24 goes with codec libx264rgb, and yuv formats with libx264")
        return self


class RenderSettings(StrictModel):
    width: int = Field(256, ge=16, le=2048, description="frame width (px)")
    height: int = Field(256, ge=16, le=2048, description="frame height (px)")
    fps: int = Field(24, ge=1, le=240, description="frames per second; must divide physics_hz")
    frames: int = Field(16, ge=1, le=1024, description="frames per clip")
    physics_hz: int = Field(240, ge=60, le=2000, description="physics steps per second (timestep = 1/physics_hz)")
    shadows: bool = Field(False, description="TinyRenderer shadows (~3x a frame, and every frame is then drawn "
                                                    "whole: ~8-10x a clip; off unless they carry information)")
    light_direction: tuple[float, float, float] = (1.0, 0.6, 2.0)
    video: VideoSettings = VideoSettings()

    @model_validator(mode="after")
    def _fps_divides(self) -> RenderSettings:
        if self.physics_hz % self.fps:
            allowed = [d for d in range(1, self.physics_hz + 1) if self.physics_hz % d == 0]
            raise ValueError(f"fps={self.fps} does not divide physics_hz={self.physics_hz}; allowed fps: {allowed}")
        if self.width % 2 or self.height % 2:
            raise ValueError("width and height must be even (H.264)")
        return self

    @property
    def steps_per_frame(self) -> int:
        return self.physics_hz // self.fps

    @property
    def timestep(self) -> float:
        return 1.0 / self.physics_hz


class CameraSpec(DistModel):
    """Camera looking at the family's focus point, with jitter. Angles in degrees, lengths in m."""

    distance: AnyDist = dist_field({"uniform": [4.5, 5.5]}, gt=0, unit="m")
    yaw: AnyDist = dist_field({"uniform": [-30, 30]}, unit="deg", description="rotation about z; 0 looks along +y")
    pitch: AnyDist = dist_field({"uniform": [-8, 8]}, ge=-89.9, le=89.9, unit="deg",
                             description="elevation of the view direction; negative looks down")
    fov: AnyDist = dist_field(45.0, gt=1, le=170, unit="deg")
    target_jitter: AnyDist = dist_field({"uniform": [-0.15, 0.15]}, unit="m",
                                     description="offset of the look-at point from the family's focus, per axis")


class Counts(StrictModel):
    train: int = Field(200, ge=0)
    val: int = Field(50, ge=0)
    test: int = Field(50, ge=0)

    @model_validator(mode="after")
    def _not_empty(self) -> Counts:
        if self.train + self.val + self.test == 0:
            raise ValueError("at least one split must have clips")
        return self

    def items(self) -> list[tuple[str, int]]:
        return [("train", self.train), ("val", self.val), ("test", self.test)]


SPLITS = ("train", "val", "test")
# The variant of a family whose groups are single clips, and the clips of a violations group: twins,
# or an occluded quadruplet (two possible renders A and B, and the two splices of them).
SINGLE_VARIANT = "clip"
TWINS = ("possible", "impossible")
QUADRUPLET = ("possible_a", "possible_b", "impossible_ab", "impossible_ba")

# What an impossible clip's `violation` says happened to it.
VIOLATION_KINDS = ("teleport", "vanish", "appear", "through_floor", "gravity_reversal", "light_jump",
                   "light_speed_change")
# What a group of the occluded design tests (simgen/run/variants.py, OccludedQuadruplet): permanence splices
# an object's presence and absence (a vanish and an appear), teleport two heights of one fall.
OCCLUDED_KINDS = ("permanence", "teleport")
# Occluded kinds added later, with what their two splices (A then B, B then A) are called. A dataset lists
# them among its `violation` classes only where its spec renders them, so the dataset.json of sets rendered
# before them is unchanged. gravity_change: the acceleration changes behind the panel (gravity);
# energy_change: the sliding box leaves the panel faster or slower than it went in (arrow_of_time);
# stops_short: the rolling ball stops behind the panel, or starts rolling by itself (contact).
LATER_OCCLUDED_KINDS = {"gravity_change": ("gravity_change", "gravity_change"),
                        "energy_change": ("energy_gain", "energy_loss"),
                        "stops_short": ("stops_short", "starts_rolling")}


class ViolationSpec(DistModel):
    """``violations:`` in a spec: each group becomes a possible and an impossible twin (``design: twins``),
    or an IntPhys quadruplet whose change happens behind an occluder (``design: occluded``); see
    simgen/run/variants.py."""

    design: Literal["twins", "occluded"] = Field(
        "twins", description="twins: a possible clip and an impossible twin that breaks physics in view; "
                             "occluded: two possible clips and their two splices at a frame where an occluder "
                             "hides the object, so every frame of an impossible clip is a frame of a possible one")
    kind: AnyDist = dist_field({"choice": ["teleport", "vanish", "gravity_reversal"]},
                               options=list(dict.fromkeys([*VIOLATION_KINDS, *OCCLUDED_KINDS,
                                                         *LATER_OCCLUDED_KINDS])))
    at: AnyDist = dist_field({"uniform": [0.35, 0.65]}, gt=0, le=0.95,
                             description="fraction of the clip where physics breaks; a family may move it "
                                         "(e.g. to just before an impact)")
    distance: AnyDist = dist_field({"uniform": [0.4, 0.9]}, gt=0, le=20, unit="m",
                                   description="teleport or light-jump distance")
    heading: AnyDist = dist_field({"uniform": [0.0, 360.0]}, unit="deg",
                                  description="direction of a horizontal teleport or light jump")
    speed_factor: AnyDist = dist_field({"choice": [0.0, 2.5]}, ge=0, le=20,
                                       description="light_speed_change: new speed / old speed; occluded "
                                                   "gravity_change: B's acceleration / A's; occluded "
                                                   "energy_change: B's speed / A's at the switch")

    occluder_hides: AnyDist = dist_field({"uniform": [5.0, 7.0]}, ge=1, le=100, unit="frames",
                                         description="occluded design: for how many frames the occluder covers "
                                                     "the object's whole bounding sphere (it sets the width)")
    occluder_speed: AnyDist = dist_field({"uniform": [0.5, 0.8]}, gt=0, le=10,
                                         description="occluded design: the occluder's speed across the view, in "
                                                     "image widths per second")
    occluder_depth: AnyDist = dist_field({"uniform": [0.45, 0.65]}, ge=0.2, le=0.9,
                                         description="occluded design: where the occluder stands, as a fraction "
                                                     "of the way from the camera to the object")

    def kinds(self) -> list[str]:
        return list(self.kind.choice) if isinstance(self.kind, Choice) else [self.kind.fixed]


class SceneSpec(StrictModel):
    """Fields shared by every family; a family subclasses it with ``family`` and ``params`` typed."""

    # The clips of one of the family's groups (e.g. a falling clip and its rising twin).
    family_variants: ClassVar[tuple[str, ...]] = (SINGLE_VARIANT,)
    # Violation kinds the family can render as possible/impossible twins, and as occluded quadruplets.
    violation_kinds: ClassVar[tuple[str, ...]] = ()
    occluded_kinds: ClassVar[tuple[str, ...]] = ()

    family: str
    format_version: int = Field(FORMAT_VERSION, ge=1, le=FORMAT_VERSION)
    description: str = ""
    seed: int = Field(0, ge=0, lt=2**63, description="dataset seed; clips draw from (seed, split, index)")
    render: RenderSettings = RenderSettings()
    camera: CameraSpec = CameraSpec()
    counts: Counts = Counts()
    params: Params
    violations: ViolationSpec | None = Field(
        None, description="render possible/impossible twins instead of the family's own variants")

    @property
    def variants(self) -> tuple[str, ...]:
        """The clips of a group: possible/impossible twins with ``violations``, else the family's own."""
        if self.violations:
            return QUADRUPLET if self.violations.design == "occluded" else TWINS
        return self.family_variants

    @property
    def clips_per_group(self) -> int:
        return len(self.variants)

    def sample_params(self, rng: np.random.Generator) -> dict[str, Any]:
        """A clip's parameters: one draw of every distribution in ``params``. A family that derives
        more (a random orientation, say) overrides this, drawing from the same ``rng``."""
        return self.params.sample(rng)

    @model_validator(mode="after")
    def _whole_groups(self) -> SceneSpec:
        for split, n in self.counts.items():
            if n % self.clips_per_group:
                raise ValueError(f"counts.{split}={n} must be a multiple of {self.clips_per_group} "
                                 f"(clips of a {self.family} group share a split)")
        return self

    @model_validator(mode="after")
    def _violations_supported(self) -> SceneSpec:
        if self.violations:
            design = self.violations.design
            supported = self.occluded_kinds if design == "occluded" else self.violation_kinds
            bad = [k for k in self.violations.kinds() if k not in supported]
            if bad:
                allowed = ", ".join(supported) or "none"
                raise ValueError(f"violations.kind {bad} cannot be rendered by {self.family} with design "
                                 f"{design}; allowed: {allowed}")
        return self

    def canonical(self) -> dict[str, Any]:
        """The resolved spec as plain JSON data (what dataset.json stores)."""
        return json.loads(self.model_dump_json())

    def fingerprint(self) -> str:
        """Content hash of the resolved spec: equal specs render equal datasets."""
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_overrides(self, *, seed: int | None = None, total: int | None = None) -> SceneSpec:
        """Override the seed and/or scale the split counts to ``total`` clips (whole groups)."""
        update: dict[str, Any] = {}
        if seed is not None:
            update["seed"] = seed
        if total is not None:
            update["counts"] = scale_counts(self.counts, total, self.clips_per_group)
        return type(self).model_validate({**self.canonical(), **{k: _plain(v) for k, v in update.items()}})


def _plain(v: Any) -> Any:
    return v.model_dump() if isinstance(v, BaseModel) else v


def scale_counts(counts: Counts, total: int, group_size: int) -> Counts:
    if total < group_size:
        raise SpecError(f"-n {total}: need at least {group_size} clips (one group)")
    groups = total // group_size
    old = [n for _, n in counts.items()]
    weights = np.asarray(old, float) / sum(old)
    # Largest-remainder rounding, so the groups add up exactly.
    raw = weights * groups
    base = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - base), kind="stable")[: groups - base.sum()]:
        base[i] += 1
    return Counts(**{name: int(g) * group_size for (name, _), g in zip(counts.items(), base, strict=True)})
