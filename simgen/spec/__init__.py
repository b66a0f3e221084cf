"""Scene specs, the YAML files in ``scenes/``: pydantic models, validated once, at load.

- :mod:`simgen.spec.distributions`: the per-clip distributions a field may hold;
- :mod:`simgen.spec.models`: what a spec holds (:class:`SceneSpec` and its settings);
- :mod:`simgen.spec.load`: YAML into the family's spec model, every problem one line.
- :mod:`simgen.spec.registry`: the one registry for every name a user writes (families, encoders, probes...).

Family-specific parameters live in a ``Params`` model each family declares
(``simgen/families/<name>/params.py``); loading picks it by the spec's ``family``. Modules inside
simgen import from the submodules, so that a family's params never import the loader.
"""

from simgen.spec.load import load_spec, parse_spec, spec_json_schema
from simgen.spec.models import SceneSpec, SpecError, scale_counts

__all__ = ["SceneSpec", "SpecError", "load_spec", "parse_spec", "scale_counts", "spec_json_schema"]
