"""One PyBullet client serves many clips (resetSimulation between them): nothing may leak, and its
memory is reused."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simgen.run.engine import plan, render_group
from simgen.spec import parse_spec
from tests.conftest import tiny_spec_dict

ROOT = Path(__file__).resolve().parents[2]


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


_FAULTS_PER_GROUP = """
import os, resource, sys
from simgen.run.engine import plan
from simgen.run.parallel import render_task
from simgen.spec import parse_spec
from tests.conftest import tiny_spec_dict

spec = parse_spec(tiny_spec_dict("falling_rising", frames=16, size=256, counts=(12, 0, 0)))
out = sys.argv[1]
os.mkdir(os.path.join(out, "train"))
faults = []
for task in plan(spec):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    render_task(out, spec, task)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(*faults)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="the heap thresholds are glibc's")
def test_a_rendering_process_reuses_its_heap_from_clip_to_clip(tmp_path):
    # A fresh process, so no earlier test has set the thresholds. Without them, glibc hands the
    # heap back after every 256² clip and faults ~3,700 pages in again for the next one.
    result = subprocess.run([sys.executable, "-c", _FAULTS_PER_GROUP, str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    faults = [int(n) for n in result.stdout.split()]
    assert len(faults) == 6
    assert max(faults[2:]) < 500, faults  # after two warm-up groups
