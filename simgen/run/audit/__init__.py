"""``simgen audit SPEC``: a label-only certification of a family's promises, on thousands of clips.

The README promises, family by family, which targets no single frame gives. The demo's 30–60 test clips
cannot see a leak that lifts one-frame accuracy to 0.6; this audit can. It simulates N clips of a spec
without rendering (:mod:`simgen.run.audit.sample`), reads each clip's visible state (:mod:`simgen.render.visible`,
the definition evaluate's oracles read too), and measures per target what one frame gives at a dense set
of frames and what all frames give, with a linear and a nonlinear probe under grouped cross-validation
(:mod:`simgen.run.audit.measure`); :mod:`simgen.run.audit.run` checks each reading against the family's
``TargetInfo.in_one_frame`` and :mod:`simgen.run.audit.table` summarises it. It needs scikit-learn
(``pip install 'simgen[eval]'``).
"""

from simgen.run.audit.run import AuditRecord, AuditResult, audit_spec

__all__ = ["AuditRecord", "AuditResult", "audit_spec"]
