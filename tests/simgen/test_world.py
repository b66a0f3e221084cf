"""One PyBullet client serves many clips (resetSimulation between them): nothing may leak."""

from __future__ import annotations

import numpy as np

from simgen.engine import plan, render_group
from simgen.spec import parse_spec
from tests.conftest import tiny_spec_dict


def render(family: str, frames: int, **violations):
    raw = tiny_spec_dict(family, frames=frames, counts=(4, 0, 0))
    if violations:
        raw["violations"] = violations
    spec = parse_spec(raw)
    return [c.frames for c in render_group(spec, plan(spec)[1])]


def test_clips_do_not_depend_on_what_the_process_rendered_before():
    before = render("falling_rising", 8)
    # Lights set TinyRenderer's shading and light colour; impact violations flip gravity and
    # disable collisions. None of it may reach the next clip.
    render("lights", 24)
    render("impact", 40, kind="gravity_reversal")
    render("impact", 40, kind="through_floor")
    after = render("falling_rising", 8)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
