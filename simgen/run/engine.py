"""One group of clips, from (spec, split, index) to frames and labels: sample, simulate, render.

Every clip draws from a Generator seeded by ``(spec seed, split, group index)`` alone, so a
clip's bytes do not depend on worker count, sharding, or which other clips were rendered.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any

import numpy as np

import simgen
from simgen.physics.labels import clip_labels, physics_settings
from simgen.physics.world import World
from simgen.render.renderer import Renderer, sample_camera
from simgen.run.variants import Rendered, variants_for
from simgen.spec.models import SPLITS, SceneSpec

_SPLIT_CODE = {name: i for i, name in enumerate(SPLITS)}


@dataclass(frozen=True, order=True)
class GroupTask:
    ordinal: int  # position in the dataset's global order; sharding splits on it
    split: str
    index: int

    @property
    def group_id(self) -> str:
        return f"{self.split}-{self.index:06d}"

    def clip_ids(self, variants: tuple[str, ...]) -> list[str]:
        return [f"{self.group_id}-{v}" for v in variants]


def plan(spec: SceneSpec, shard: tuple[int, int] = (1, 1)) -> list[GroupTask]:
    """Every group of the dataset in a fixed order, or shard K of N of them (1-based K)."""
    k, n = shard
    tasks, ordinal = [], 0
    for split, count in spec.counts.items():
        for index in range(count // spec.clips_per_group):
            if ordinal % n == k - 1:
                tasks.append(GroupTask(ordinal, split, index))
            ordinal += 1
    return tasks


def group_rngs(seed: int, split: str, index: int) -> tuple[np.random.Generator, ...]:
    """Independent streams for scene parameters, camera and the group's variants (a violation), so
    adding one never shifts another.

    (SeedSequence children depend only on their index, so a new stream appended here leaves the
    first ones, and every dataset rendered before, unchanged.)
    """
    children = np.random.SeedSequence([seed, _SPLIT_CODE[split], index]).spawn(3)
    return tuple(np.random.default_rng(c) for c in children)


@dataclass
class RenderedClip:
    split: str
    clip_id: str
    group_id: str
    frames: np.ndarray
    labels: dict[str, Any]


def render_group(spec: SceneSpec, task: GroupTask) -> list[RenderedClip]:
    """Sample, simulate and render one group; its variants (simgen/run/variants.py) make the clips."""
    variants = variants_for(spec)
    params_rng, camera_rng, variants_rng = group_rngs(spec.seed, task.split, task.index)
    params = spec.sample_params(params_rng)
    drawn = variants.draw(variants_rng)
    with World(timestep=spec.render.timestep, gravity=float(params.get("gravity", 9.81))) as world:
        trajectory = variants.simulation.simulate(spec, params, world)
        camera = sample_camera(spec.camera, spec.render, trajectory.focus, camera_rng)
        renderer = Renderer(spec.render, camera)
        rendered = Rendered(params, world, renderer, trajectory)
        clips = variants.clips(rendered, drawn)
    params = {**params, **drawn}
    common = {
        "family": spec.family, "seed": spec.seed, "split": task.split, "index": task.index,
        "group_id": task.group_id, "params": params, "camera": camera.to_dict(),
        "physics": {"timestep": spec.render.timestep, "steps_per_frame": spec.render.steps_per_frame,
                    "fps": spec.render.fps, "engine": "pybullet", **physics_settings(params)},
    }
    return [RenderedClip(task.split, f"{task.group_id}-{clip.variant}", task.group_id, clip.frames,
                         clip_labels(f"{task.group_id}-{clip.variant}", clip, common)) for clip in clips]


def generator_info() -> dict[str, str]:
    from importlib.metadata import version

    return {"name": "simgen", "version": simgen.__version__, "pybullet": version("pybullet"),
            "numpy": np.__version__, "av": version("av"), "python": platform.python_version()}
