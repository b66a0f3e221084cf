"""Scene family registry: the declarations (``simgen/families/<name>/params.py``), no PyBullet.

Adding a family: write ``simgen/families/<name>/params.py`` (its parameters, spec model, targets
and a :class:`~simgen.families.base.FamilyInfo` named ``FAMILY``) and ``sim.py`` (its
:class:`~simgen.families.base.Simulation`), and add ``scenes/<name>.yaml``. Every sub-package
here is a family: nothing else needs listing it.
"""

from __future__ import annotations

import importlib
import pkgutil

from simgen.families.base import FamilyInfo
from simgen.spec.registry import Registry


def _register_all() -> None:
    # On first lookup, not with this package: importing one family's module (which imports this package
    # first) then loads no other family. Sorted, so `simgen ls` and the spec schema list them in one order.
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg):
        family: FamilyInfo = importlib.import_module(f"{__name__}.{module}.params").FAMILY
        if family.name != module:
            raise ValueError(f"simgen/families/{module}/params.py declares family {family.name!r}; "
                             f"a family's folder carries its name")
        FAMILIES.register(family.name, family)


FAMILIES: Registry[FamilyInfo] = Registry("scene family", load=_register_all)
