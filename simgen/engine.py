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
from simgen.families import FAMILIES
from simgen.render import Renderer, sample_camera
from simgen.spec.models import SPLITS, SceneSpec
from simgen.trajectory import Clip, Frame
from simgen.violations import twin_targets
from simgen.world import World

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
    """Independent streams for scene parameters, camera and violations, so adding one never shifts another.

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
    simulation = FAMILIES[spec.family].load_simulation()
    params_rng, camera_rng, violation_rng = group_rngs(spec.seed, task.split, task.index)
    params = spec.sample_params(params_rng)
    violation = spec.violations.sample(violation_rng) if spec.violations else None
    with World(timestep=spec.render.timestep, gravity=float(params.get("gravity", 9.81))) as world:
        trajectory = simulation.simulate(spec, params, world)
        camera = sample_camera(spec.camera, spec.render, trajectory.focus, camera_rng)
        renderer = Renderer(spec.render, camera)
        frames = renderer.render(world, trajectory)
        if violation:
            impossible, k = simulation.violate(violation["kind"], trajectory, violation, spec, params, world)
            impossible_frames = frames.copy()
            impossible_frames[k:] = renderer.render(world, impossible, start=k)
    states = [frame_record(f, camera) for f in trajectory.frames]
    if violation:
        possible_targets, impossible_targets = twin_targets(violation["kind"], k)
        clips = [Clip("possible", frames, states, possible_targets, trajectory.events),
                 Clip("impossible", impossible_frames, [frame_record(f, camera) for f in impossible.frames],
                      impossible_targets, impossible.events)]
        params = {**params, "violation": violation}
    else:
        clips = simulation.make_clips(trajectory, frames, states)
    common = {
        "family": spec.family, "seed": spec.seed, "split": task.split, "index": task.index,
        "group_id": task.group_id, "params": params, "camera": camera.to_dict(),
        "physics": {"timestep": spec.render.timestep, "steps_per_frame": spec.render.steps_per_frame,
                    "fps": spec.render.fps, "engine": "pybullet", **physics_settings(params)},
    }
    return [RenderedClip(task.split, f"{task.group_id}-{clip.variant}", task.group_id, clip.frames,
                         clip_labels(f"{task.group_id}-{clip.variant}", clip, common)) for clip in clips]


def physics_settings(params: dict[str, Any]) -> dict[str, Any]:
    keys = ("gravity", "linear_damping", "angular_damping")
    return {k: params[k] for k in keys if k in params}


def clip_labels(clip_id: str, clip: Clip, common: dict[str, Any]) -> dict[str, Any]:
    return {"clip_id": clip_id, "variant": clip.variant, **common, "targets": clip.targets,
            "frames": clip.states, "events": clip.events}


def frame_record(frame: Frame, camera) -> dict[str, Any]:
    """A frame's states as JSON data, with pixel positions of every body and light."""
    names = list(frame.bodies)
    lights = {k: v for k, v in frame.lights.items() if not k.startswith("_")}
    points = [frame.bodies[n].position for n in names] + [v["position"] for v in lights.values()]
    xy = camera.project(np.asarray(points)) if points else np.empty((0, 2))
    bodies = {}
    for i, name in enumerate(names):
        b = frame.bodies[name]
        bodies[name] = {"position": list(b.position), "orientation": list(b.orientation),
                        "linear_velocity": list(b.linear_velocity), "angular_velocity": list(b.angular_velocity),
                        "image_xy": _xy(xy[i])}
        if not b.visible:
            bodies[name]["visible"] = False
    light_records = {name: {**light, "position": list(light["position"]), "image_xy": _xy(xy[len(names) + j])}
                     for j, (name, light) in enumerate(lights.items())}
    record: dict[str, Any] = {"t": frame.t, "bodies": bodies}
    if light_records:
        record["lights"] = light_records
    return record


def _xy(v: np.ndarray) -> list[float] | None:
    return None if np.isnan(v).any() else [float(v[0]), float(v[1])]


def generator_info() -> dict[str, str]:
    from importlib.metadata import version

    return {"name": "simgen", "version": simgen.__version__, "pybullet": version("pybullet"),
            "numpy": np.__version__, "python": platform.python_version()}
