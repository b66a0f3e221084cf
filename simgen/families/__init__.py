"""Scene family registry. A family is a module here that calls :func:`register`.

Adding a family: write ``simgen/families/<name>.py`` with a :class:`~simgen.families.base.Family`
subclass decorated with ``@register``, add it to ``_MODULES``, and add ``scenes/<name>.yaml``.
"""

from __future__ import annotations

import difflib
import importlib

from simgen.families.base import Family

_REGISTRY: dict[str, Family] = {}
# Imported lazily so that `simgen.spec` (and `evaluate`) can load without pybullet.
_MODULES = ("simgen.families.falling_rising", "simgen.families.impact", "simgen.families.lights")
_loaded = False


def register(cls: type[Family]) -> type[Family]:
    if cls.name in _REGISTRY:
        raise RuntimeError(f"scene family {cls.name!r} registered twice")
    cls.spec_model.group_size = len(cls.variants)
    cls.spec_model.violation_kinds = cls.violation_kinds
    _REGISTRY[cls.name] = cls()
    return cls


def _load_all() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _MODULES:
            importlib.import_module(module)


def family_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def all_families() -> list[Family]:
    return [_REGISTRY[name] for name in family_names()]


def get_family(name: str) -> Family:
    _load_all()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(sorted(_REGISTRY))}"
        raise KeyError(f"unknown family '{name}'; {hint}")
    return _REGISTRY[name]
