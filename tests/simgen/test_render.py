"""The layered render: static bodies drawn once a clip, posed bodies every frame, merged by depth."""

from __future__ import annotations

import numpy as np
import pytest

import simgen.render.renderer as render
from simgen.families import FAMILIES
from simgen.physics.world import World
from simgen.run.engine import group_rngs, plan, render_group
from simgen.spec import parse_spec
from tests.conftest import tiny_spec_dict


def frames_both_ways(raw: dict, monkeypatch) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """Every clip's frames rendered plainly and layered, and how many renders drew a static layer."""
    spec = parse_spec(raw)
    layers = []
    draw = render.StaticLayer.draw.__func__

    def counted(cls, *args):
        layer = draw(cls, *args)
        layers.append(layer is not None)
        return layer

    monkeypatch.setattr(render.StaticLayer, "draw", classmethod(counted))
    out = {}
    for layered in (False, True):
        monkeypatch.setattr(render.Renderer, "layered", layered)
        out[layered] = [clip.frames for task in plan(spec) for clip in render_group(spec, task)]
    return out[False], out[True], sum(layers)


def assert_equal_but_for_depth_ties(plain: list[np.ndarray], layered: list[np.ndarray]) -> None:
    """Equal but where a body touches the floor and the two depths tie within a float rounding."""
    differing = sum(int((a != b).any(-1).sum()) for a, b in zip(plain, layered, strict=True))
    total = sum(a.shape[0] * a.shape[1] * a.shape[2] for a in plain)
    assert differing <= 1e-4 * total, f"{differing} of {total} pixels differ"


@pytest.mark.parametrize("family,frames,extra", [
    ("falling_rising", 8, {}),
    ("impact", 40, {}),
    ("lights", 24, {"ground": True}),  # a static ground under constant lighting
])
def test_layered_frames_equal_plain_frames(family, frames, extra, monkeypatch):
    raw = tiny_spec_dict(family, frames=frames, size=96, counts=(8, 0, 0), **extra)
    plain, layered, layers = frames_both_ways(raw, monkeypatch)
    assert layers == len(plan(parse_spec(raw)))  # one static layer per group: the fast path ran
    assert_equal_but_for_depth_ties(plain, layered)


def test_a_violation_that_sinks_through_the_floor_is_hidden_by_it(monkeypatch):
    raw = tiny_spec_dict("impact", frames=40, size=96, counts=(4, 0, 0))
    raw["violations"] = {"kind": "through_floor"}
    plain, layered, layers = frames_both_ways(raw, monkeypatch)
    assert layers > 0
    assert_equal_but_for_depth_ties(plain, layered)


@pytest.mark.parametrize("family,frames,shadows,params", [
    ("falling_rising", 8, True, {}),  # the object's shadow moves over the floor
    # A moving light that drives the renderer's light relights the ground each frame.
    ("lights", 24, False, {"ground": True, "renderer_light": True, "moves": "linear"}),
])
def test_shadows_and_changing_light_are_drawn_plainly(family, frames, shadows, params, monkeypatch):
    raw = tiny_spec_dict(family, frames=frames, size=64, counts=(4, 0, 0), **params)
    raw["render"]["shadows"] = shadows
    plain, layered, layers = frames_both_ways(raw, monkeypatch)
    assert layers == 0
    assert all(np.array_equal(a, b) for a, b in zip(plain, layered, strict=True))


def test_static_bodies_are_back_where_they_were_after_rendering():
    spec = parse_spec(tiny_spec_dict("impact", frames=40, counts=(2, 0, 0)))
    simulation = FAMILIES["impact"].load_simulation()
    task = plan(spec)[0]
    params_rng, camera_rng, _ = group_rngs(spec.seed, task.split, task.index)
    params = spec.sample_params(params_rng)
    with World(timestep=spec.render.timestep) as world:
        trajectory = simulation.simulate(spec, params, world)
        posed = set(trajectory.body_ids.values())
        static = [b for b in world.bodies() if b not in posed]
        before = {b: world.pose(b) for b in static}
        camera = render.sample_camera(spec.camera, spec.render, trajectory.focus, camera_rng)
        render.Renderer(spec.render, camera).render(world, trajectory)
        assert static and {b: world.pose(b) for b in static} == before
