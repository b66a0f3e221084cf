"""Scene specs: pydantic models for the YAML files in ``scenes/``.

A spec is validated once, at load. Every problem becomes a :class:`SpecError`
whose message is one line naming the file, the field and what is allowed.
Family-specific parameters live in a ``Params`` model that each family declares;
:func:`load_spec` picks it from the registry by the spec's ``family``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

FORMAT_VERSION = 1


class SpecError(ValueError):
    """A scene spec that cannot be used; the message is one user-facing line."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- distributions


class Dist(StrictModel):
    """A parameter distribution. Subclasses draw with an explicit Generator only."""

    def sample(self, rng: np.random.Generator) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def support(self) -> tuple[float, float] | None:
        """(low, high) of the numeric values it can draw, or None for non-numeric choices."""
        return None


class Fixed(Dist):
    fixed: Any

    def sample(self, rng: np.random.Generator) -> Any:
        return self.fixed

    def support(self) -> tuple[float, float] | None:
        if isinstance(self.fixed, bool) or not isinstance(self.fixed, int | float):
            return None
        return (float(self.fixed), float(self.fixed))


def _check_range(v: tuple[float, float]) -> tuple[float, float]:
    lo, hi = v
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"bounds must be finite numbers, got [{lo}, {hi}]")
    if lo > hi:
        raise ValueError(f"low end {lo} is above high end {hi}; write [low, high]")
    return v


class Uniform(Dist):
    uniform: tuple[float, float]

    _v = field_validator("uniform")(_check_range)

    def sample(self, rng: np.random.Generator) -> float:
        lo, hi = self.uniform
        return float(rng.uniform(lo, hi))

    def support(self) -> tuple[float, float]:
        return self.uniform


class LogUniform(Dist):
    log_uniform: tuple[float, float]

    @field_validator("log_uniform")
    @classmethod
    def _positive(cls, v: tuple[float, float]) -> tuple[float, float]:
        _check_range(v)
        if v[0] <= 0:
            raise ValueError(f"log_uniform bounds must be > 0, got [{v[0]}, {v[1]}]")
        return v

    def sample(self, rng: np.random.Generator) -> float:
        lo, hi = self.log_uniform
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    def support(self) -> tuple[float, float]:
        return self.log_uniform


class Choice(Dist):
    choice: list[Any] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Choice:
        if self.weights is not None:
            if len(self.weights) != len(self.choice):
                raise ValueError(f"weights has {len(self.weights)} entries for {len(self.choice)} choices")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be ≥ 0 and not all 0")
        return self

    def sample(self, rng: np.random.Generator) -> Any:
        p = None if self.weights is None else np.asarray(self.weights) / sum(self.weights)
        return self.choice[int(rng.choice(len(self.choice), p=p))]

    def support(self) -> tuple[float, float] | None:
        if all(isinstance(c, int | float) and not isinstance(c, bool) for c in self.choice):
            return (float(min(self.choice)), float(max(self.choice)))
        return None


DIST_KEYS = {"fixed": Fixed, "uniform": Uniform, "log_uniform": LogUniform, "choice": Choice}


def as_dist(value: Any) -> Dist:
    """YAML forms: ``3.0`` | ``{fixed: 3.0}`` | ``{uniform: [a, b]}`` | ``{log_uniform: [a, b]}`` | ``{choice: [..]}``."""
    if isinstance(value, Dist):
        return value
    if isinstance(value, dict):
        kinds = [k for k in value if k in DIST_KEYS]
        if len(kinds) != 1:
            raise ValueError(f"a distribution needs exactly one of {sorted(DIST_KEYS)}, got keys {sorted(value)}")
        return DIST_KEYS[kinds[0]].model_validate(value)
    return Fixed(fixed=value)


_DIST_SCHEMA = {
    "anyOf": [
        {"type": ["number", "string", "boolean"], "description": "a fixed value"},
        {"type": "object", "properties": {"fixed": {}}, "required": ["fixed"], "additionalProperties": False},
        {"type": "object", "properties": {"uniform": {"type": "array", "items": {"type": "number"},
                                                      "minItems": 2, "maxItems": 2}},
         "required": ["uniform"], "additionalProperties": False},
        {"type": "object", "properties": {"log_uniform": {"type": "array", "items": {"type": "number"},
                                                          "minItems": 2, "maxItems": 2}},
         "required": ["log_uniform"], "additionalProperties": False},
        {"type": "object", "properties": {"choice": {"type": "array", "minItems": 1},
                                          "weights": {"type": "array", "items": {"type": "number"}}},
         "required": ["choice"], "additionalProperties": False},
    ]
}

# A spec field holding a distribution: scalars become Fixed, mappings pick their kind by key.
AnyDist = Annotated[Fixed | Uniform | LogUniform | Choice, BeforeValidator(as_dist), WithJsonSchema(_DIST_SCHEMA)]


def dist_field(default: Any, *, ge: float | None = None, le: float | None = None, gt: float | None = None,
               options: list[Any] | None = None, unit: str = "", description: str = "") -> Any:
    """A spec field holding a distribution, with bounds checked against its whole support."""
    extra = {"ge": ge, "le": le, "gt": gt, "options": options, "unit": unit}
    return Field(default=as_dist(default), description=description,
                 json_schema_extra={k: v for k, v in extra.items() if v not in (None, "")})


class DistModel(StrictModel):
    """A model whose distribution fields are checked against the ge/le/gt/options in their Field."""

    @field_validator("*", mode="after")
    @classmethod
    def _check_bounds(cls, value: Any, info: ValidationInfo) -> Any:
        extra = cls.model_fields[info.field_name].json_schema_extra
        if isinstance(value, Dist) and isinstance(extra, dict):
            _check_dist_bounds(value, extra)
        return value

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One draw of every distribution field. Field order is the declaration order, so draws
        are stable for a given spec."""
        return {name: v.sample(rng) for name in type(self).model_fields if isinstance(v := getattr(self, name), Dist)}


def _check_dist_bounds(dist: Dist, extra: dict) -> None:
    unit = f" {extra['unit']}" if extra.get("unit") else ""
    if "options" in extra:
        values = dist.choice if isinstance(dist, Choice) else [dist.sample(np.random.default_rng(0))]
        bad = [v for v in values if v not in extra["options"]]
        if bad or isinstance(dist, Uniform | LogUniform):
            raise ValueError(f"{bad or dist} is not allowed; choose from {extra['options']}")
        return
    support = dist.support()
    if support is None:
        if any(k in extra for k in ("ge", "le", "gt")):
            raise ValueError(f"must be a number, got {dist}")
        return
    lo, hi = support
    if "ge" in extra and lo < extra["ge"]:
        raise ValueError(f"must be ≥ {extra['ge']}{unit}, but its range reaches {lo}")
    if "gt" in extra and lo <= extra["gt"]:
        raise ValueError(f"must be > {extra['gt']}{unit}, but its range reaches {lo}")
    if "le" in extra and hi > extra["le"]:
        raise ValueError(f"must be ≤ {extra['le']}{unit}, but its range reaches {hi}")


class Params(DistModel):
    """Base for a family's parameters: every field is a distribution, sampled per clip."""


# --------------------------------------------------------------------------- shared settings


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

VIOLATION_KINDS = ("teleport", "vanish", "through_floor", "gravity_reversal", "light_jump", "light_speed_change")


class ViolationSpec(DistModel):
    """``violations:`` in a spec: each group becomes a possible and an impossible twin (simgen/violations.py)."""

    kind: AnyDist = dist_field({"choice": ["teleport", "vanish", "gravity_reversal"]},
                               options=list(VIOLATION_KINDS))
    at: AnyDist = dist_field({"uniform": [0.35, 0.65]}, gt=0, le=0.95,
                             description="fraction of the clip where physics breaks; a family may move it "
                                         "(e.g. to just before an impact)")
    distance: AnyDist = dist_field({"uniform": [0.4, 0.9]}, gt=0, le=20, unit="m",
                                   description="teleport or light-jump distance")
    heading: AnyDist = dist_field({"uniform": [0.0, 360.0]}, unit="deg",
                                  description="direction of a horizontal teleport or light jump")
    speed_factor: AnyDist = dist_field({"choice": [0.0, 2.5]}, ge=0, le=20,
                                       description="light speed change: new speed / old speed")

    def kinds(self) -> list[str]:
        return list(self.kind.choice) if isinstance(self.kind, Choice) else [self.kind.fixed]


class SceneSpec(StrictModel):
    """Fields shared by every family; a family subclasses it with ``family`` and ``params`` typed."""

    # Clips per group (e.g. a falling clip and its rising twin); set from the family on registration.
    group_size: ClassVar[int] = 1
    # Violation kinds the family can render; set from the family on registration.
    violation_kinds: ClassVar[tuple[str, ...]] = ()

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
    def clips_per_group(self) -> int:
        return 2 if self.violations else self.group_size

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
            bad = [k for k in self.violations.kinds() if k not in self.violation_kinds]
            if bad:
                allowed = ", ".join(self.violation_kinds) or "none"
                raise ValueError(f"violations.kind {bad} cannot be rendered by {self.family}; allowed: {allowed}")
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


# --------------------------------------------------------------------------- loading


def load_spec(path: str | Path) -> SceneSpec:
    """Read, resolve and validate a spec file; raises SpecError with one line."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise SpecError(f"{path}{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    return parse_spec(raw, source=str(path))


def parse_spec(raw: Any, source: str = "<spec>") -> SceneSpec:
    from simgen.families import family_names, get_family

    if not isinstance(raw, dict):
        raise SpecError(f"{source}: a spec must be a mapping of fields, got {type(raw).__name__}")
    if "family" not in raw:
        raise SpecError(f"{source}: field 'family' is missing; allowed: {', '.join(family_names())}")
    try:
        family = get_family(str(raw["family"]))
    except KeyError as e:
        raise SpecError(f"{source}: field 'family': {e.args[0]}") from None
    try:
        return family.spec_model.model_validate(raw)
    except ValidationError as e:
        raise SpecError(format_validation_error(e, family.spec_model, source)) from None


def format_validation_error(err: ValidationError, model: type[BaseModel], source: str) -> str:
    errors = err.errors()
    first = errors[0]
    loc = [str(p) for p in first["loc"]]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        msg = f"unknown key '{loc[-1]}'"
        known = _fields_at(model, first["loc"][:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.5)
        msg += f"; did you mean '{close[0]}'?" if close else f"; allowed keys: {', '.join(known)}"
    else:
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            msg = "is required"
        elif first["type"] in {"greater_than_equal", "less_than_equal", "greater_than", "less_than",
                               "literal_error", "int_parsing", "float_parsing", "bool_parsing"}:
            msg = f"{msg} (got {first.get('input')!r})"
    more = f" (+{len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{source}: field '{field}': {msg}{more}"


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (nested) model at ``loc``, for "did you mean"."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = fields[part].annotation
    return list(getattr(current, "model_fields", None) or {})


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of every family's spec, as a union on ``family`` (for editors)."""
    from pydantic import TypeAdapter

    from simgen.families import all_families

    models = tuple(f.spec_model for f in all_families())
    union: Any = models[0] if len(models) == 1 else Annotated[Union[models], Field(discriminator="family")]  # noqa: UP007
    schema = TypeAdapter(union).json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "simgen scene spec"
    return schema
