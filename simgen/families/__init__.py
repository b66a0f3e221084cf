"""Scene family registry: the declarations (``simgen/families/<name>/params.py``), no PyBullet.

Adding a family: write ``simgen/families/<name>/params.py`` (its parameters, spec model, targets
and a :class:`~simgen.families.base.FamilyInfo` named ``FAMILY``) and ``sim.py`` (its
:class:`~simgen.families.base.Simulation`), list it in ``_load_all``, and add ``scenes/<name>.yaml``.
"""

from __future__ import annotations

import difflib

from simgen.families.base import FamilyInfo

_REGISTRY: dict[str, FamilyInfo] = {}
_loaded = False


def register(family: FamilyInfo) -> FamilyInfo:
    if family.name in _REGISTRY:
        raise RuntimeError(f"scene family {family.name!r} registered twice")
    _REGISTRY[family.name] = family
    return family


def _load_all() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from simgen.families.falling_rising.params import FAMILY as falling_rising
        from simgen.families.impact.params import FAMILY as impact
        from simgen.families.lights.params import FAMILY as lights

        for family in (falling_rising, impact, lights):
            register(family)


def family_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def all_families() -> list[FamilyInfo]:
    return [_REGISTRY[name] for name in family_names()]


def get_family(name: str) -> FamilyInfo:
    _load_all()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(sorted(_REGISTRY))}"
        raise KeyError(f"unknown family '{name}'; {hint}")
    return _REGISTRY[name]
