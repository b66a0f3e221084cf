"""Loading a spec: YAML into the family's spec model, every problem one line.

A spec is validated once, at load. Every problem becomes a :class:`SpecError` whose message is
one line naming the file, the field and what is allowed. The spec's ``family`` picks its model
from the family registry (``simgen.families``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import BaseModel, Field, ValidationError

from simgen.spec.models import SceneSpec, SpecError
from simgen.spec.registry import UnknownNameError, did_you_mean


def load_spec(path: str | Path) -> SceneSpec:
    """Read, resolve and validate a spec file; raises SpecError with one line."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise SpecError(f"{path}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); save the "
                        f"spec as UTF-8") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise SpecError(f"{path}{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    return parse_spec(raw, source=str(path))


def parse_spec(raw: Any, source: str = "<spec>") -> SceneSpec:
    from simgen.families import FAMILIES

    if not isinstance(raw, dict):
        raise SpecError(f"{source}: a spec must be a mapping of fields, got {type(raw).__name__}")
    if "family" not in raw:
        raise SpecError(f"{source}: field 'family' is missing; allowed: {', '.join(FAMILIES)}")
    try:
        family = FAMILIES[str(raw["family"])]
    except UnknownNameError as e:
        raise SpecError(f"{source}: field 'family': {e}") from None
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
        msg += did_you_mean(loc[-1], known) or f"; allowed keys: {', '.join(known)}"
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

    from simgen.families import FAMILIES

    models = tuple(f.spec_model for f in FAMILIES.values())
    union: Any = models[0] if len(models) == 1 else Annotated[Union[models], Field(discriminator="family")]  # noqa: UP007
    schema = TypeAdapter(union).json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "simgen scene spec"
    return schema
