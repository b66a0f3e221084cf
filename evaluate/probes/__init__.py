"""Probes: fitted on train+val embeddings, scored once on test. Importing this package registers
every probe (``linear``, ``attentive``); a new probe is a module here that registers itself."""

from evaluate.probes import attentive, linear  # noqa: F401  (registration)
from evaluate.probes.base import PROBES, Probe, ProbeFit, ProbeSkipped, get_probe

__all__ = ["PROBES", "Probe", "ProbeFit", "ProbeSkipped", "get_probe"]
