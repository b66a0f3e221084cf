"""Parameter distributions: the values a spec field may hold, each drawn per clip.

A field is a fixed value or one of ``{uniform: [lo, hi]}``, ``{log_uniform: [lo, hi]}``,
``{choice: [..], weights: [..]}``. :func:`dist_field` declares one with bounds (``ge``, ``le``,
``gt``, ``options``) that are checked against everything the distribution can draw.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
