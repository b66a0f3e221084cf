"""Scene family registry: the declarations (``simgen/families/<name>/params.py``), no PyBullet.

Adding a family: write ``simgen/families/<name>/params.py`` (its parameters, spec model, targets
and a :class:`~simgen.families.base.FamilyInfo` named ``FAMILY``) and ``sim.py`` (its
:class:`~simgen.families.base.Simulation`), list it in ``_register_all``, and add ``scenes/<name>.yaml``.
"""

from __future__ import annotations

from simgen.families.base import FamilyInfo
from simgen.registry import Registry


def _register_all() -> None:
    # On first lookup, not with this package: importing one family's module (which imports this package
    # first) then loads no other family.
    from simgen.families.falling_rising.params import FAMILY as falling_rising
    from simgen.families.impact.params import FAMILY as impact
    from simgen.families.lights.params import FAMILY as lights

    for family in (falling_rising, impact, lights):
        FAMILIES.register(family.name, family)


FAMILIES: Registry[FamilyInfo] = Registry("scene family", load=_register_all)
