"""The audit's clips: the visible states and targets of N clips of a spec, simulated without rendering.

Group ``i`` is drawn exactly as ``simgen render`` draws train group ``i`` of the same spec and seed (the
same ``(seed, split, index)`` streams, the same camera), so an audit speaks of the clips a render makes.
Each group's trajectory comes from the family's closed form where it has one (``Simulation.closed_form``,
exact up to what the family's tests bound), else from PyBullet in DIRECT mode; no frame is drawn:
``image_xy`` is the camera model's projection. The family's ``make_clips`` then makes the group's clips
(a clip and its time reversal...), handed an empty frame array in place of pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from simgen.families import FAMILIES
from simgen.physics.labels import frame_record
from simgen.physics.world import World
from simgen.render.renderer import Camera, sample_camera
from simgen.render.visible import frame_states
from simgen.run.audit.pool import bounded_map
from simgen.run.engine import group_rngs
from simgen.spec.models import SceneSpec

SPLIT = "train"  # group i of the audit is train group i of a render with the same seed
CHUNK = 25  # groups per worker call: one round trip per chunk


@dataclass
class AuditSample:
    """``states`` (clips, frames, features): each clip's visible state per frame (simgen.render.visible);
    ``targets``: each clip's targets; ``groups``: each clip's group index (a clip and its twins)."""

    states: np.ndarray
    targets: list[dict[str, Any]]
    groups: np.ndarray


class FixedProjection:
    """``camera.project`` with the camera's matrices computed once, not at every call: labels project
    each frame on its own, and over thousands of clips recomputing them was a third of the audit's
    simulation time."""

    def __init__(self, camera: Camera):
        view = np.asarray(camera.view_matrix).reshape(4, 4, order="F")
        self.matrix = np.asarray(camera.projection_matrix).reshape(4, 4, order="F") @ view
        self.width, self.height = camera.width, camera.height

    def project(self, points: np.ndarray) -> np.ndarray:
        """As :meth:`simgen.render.renderer.Camera.project` (the tests compare them)."""
        points = np.atleast_2d(np.asarray(points, float))
        homo = points @ self.matrix[:, :3].T + self.matrix[:, 3]
        w = homo[:, 3:4]
        ndc = np.where(w > 0, homo[:, :2] / np.where(w > 0, w, 1.0), np.nan)
        return np.stack([(ndc[:, 0] + 1) * 0.5 * self.width, (1 - ndc[:, 1]) * 0.5 * self.height], axis=1)


def group_states(spec: SceneSpec, index: int, closed_form: bool = True) -> list[tuple[np.ndarray, dict[str, Any]]]:
    """(visible states (T, D), targets) of each clip of group ``index``, simulated, never rendered."""
    family = FAMILIES[spec.family]
    simulation = family.load_simulation()
    params_rng, camera_rng, _ = group_rngs(spec.seed, SPLIT, index)
    params = spec.sample_params(params_rng)
    trajectory = simulation.closed_form(spec, params) if closed_form else None
    if trajectory is None:
        with World(timestep=spec.render.timestep, gravity=float(params.get("gravity", 9.81))) as world:
            trajectory = simulation.simulate(spec, params, world)
    camera = sample_camera(spec.camera, spec.render, trajectory.focus, camera_rng)
    projection = FixedProjection(camera)
    records = [frame_record(f, projection) for f in trajectory.frames]
    no_pixels = np.zeros((len(records), 0, 0, 3), np.uint8)
    slots = family.looks.slots(spec.canonical())
    label = {"family": spec.family, "params": params, "camera": camera.to_dict()}
    return [(frame_states({**label, "frames": clip.states}, slots), clip.targets)
            for clip in simulation.make_clips(trajectory, no_pixels, records)]


def _chunk(spec: SceneSpec, indices: list[int], closed_form: bool) -> list[list[tuple[np.ndarray, dict]]]:
    return [group_states(spec, i, closed_form) for i in indices]


def sample_clips(spec: SceneSpec, n_groups: int, *, workers: int = 1, closed_form: bool = True,
                 on_progress: Callable[[int, int], None] | None = None) -> AuditSample:
    """The visible states and targets of the clips of ``n_groups`` groups (in group order)."""
    if spec.violations:
        raise ValueError(f"audit: the spec asks for violations ({spec.violations.design}); the audit certifies a "
                         f"family's own targets: audit the spec without `violations:` (violation sets are "
                         f"certified by `evaluate surprise`'s controls)")
    chunks = [list(range(i, min(i + CHUNK, n_groups))) for i in range(0, n_groups, CHUNK)]
    states, targets, groups = [], [], []
    done = 0
    calls = ((indices, (spec, indices, closed_form)) for indices in chunks)
    for indices, result in bounded_map(_chunk, calls, workers):
        for index, clips in zip(indices, result, strict=True):
            for clip_states, clip_targets in clips:
                states.append(clip_states)
                targets.append(clip_targets)
                groups.append(index)
        done += len(indices)
        if on_progress:
            on_progress(done, n_groups)
    order = np.argsort(groups, kind="stable")  # completion order varies with workers; group order does not
    return AuditSample(np.stack(states)[order], [targets[i] for i in order], np.asarray(groups)[order])
