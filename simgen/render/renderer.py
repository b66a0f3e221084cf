"""Camera model and TinyRenderer frames.

The camera knows its own view and projection matrices, so labels can carry exact pixel
positions (``image_xy``) of every body: x to the right, y down, origin top-left.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from simgen.physics.bullet import p
from simgen.physics.trajectory import Lighting

if TYPE_CHECKING:
    from simgen.physics.trajectory import Trajectory
    from simgen.physics.world import World
    from simgen.spec.models import CameraSpec, RenderSettings


@dataclass(frozen=True)
class Camera:
    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    fov_deg: float
    width: int
    height: int
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    near: float = 0.05
    far: float = 100.0

    @property
    def view_matrix(self) -> list[float]:
        return list(p.computeViewMatrix(self.eye, self.target, self.up))

    @property
    def projection_matrix(self) -> list[float]:
        return list(p.computeProjectionMatrixFOV(self.fov_deg, self.width / self.height, self.near, self.far))

    def to_dict(self) -> dict[str, Any]:
        return {"eye": list(self.eye), "target": list(self.target), "up": list(self.up), "fov_deg": self.fov_deg,
                "width": self.width, "height": self.height, "near": self.near, "far": self.far}

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) to pixel coordinates (N, 2); NaN for points behind the camera."""
        points = np.atleast_2d(np.asarray(points, float))
        view = np.asarray(self.view_matrix).reshape(4, 4, order="F")
        proj = np.asarray(self.projection_matrix).reshape(4, 4, order="F")
        homo = np.c_[points, np.ones(len(points))] @ (proj @ view).T
        w = homo[:, 3:4]
        ndc = np.where(w > 0, homo[:, :2] / np.where(w > 0, w, 1.0), np.nan)
        return np.c_[(ndc[:, 0] + 1) * 0.5 * self.width, (1 - ndc[:, 1]) * 0.5 * self.height]


def sample_camera(spec: CameraSpec, render: RenderSettings, focus, rng: np.random.Generator) -> Camera:
    """Draw a camera looking at ``focus`` (plus jitter) from the spec's ranges."""
    distance = spec.distance.sample(rng)
    yaw = math.radians(spec.yaw.sample(rng))
    pitch = math.radians(spec.pitch.sample(rng))
    fov = spec.fov.sample(rng)
    target = np.asarray(focus, float) + np.array([spec.target_jitter.sample(rng) for _ in range(3)])
    direction = np.array([math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), math.sin(pitch)])
    eye = target - distance * direction
    return Camera(tuple(map(float, eye)), tuple(map(float, target)), float(fov), render.width, render.height)


DEFAULT_LIGHTING = Lighting()  # the spec's light direction, and PyBullet's own colour and shading
# Lighting's shading coefficients and the getCameraImage arguments they set.
_SHADING_ARGS = {"ambient": "lightAmbientCoeff", "diffuse": "lightDiffuseCoeff", "specular": "lightSpecularCoeff"}
# TinyRenderer keeps lighting arguments from one call to the next in a client, and a client serves
# many clips (see world.py). So every call passes all of them: these are PyBullet's own defaults.
_LIGHTING_DEFAULTS = {"lightColor": [1.0, 1.0, 1.0], "lightAmbientCoeff": 0.6, "lightDiffuseCoeff": 0.35,
                      "lightSpecularCoeff": 0.05}


_HIDDEN = (0.0, 0.0, -1000.0)
_WHITE = np.array([255, 255, 255, 255], np.uint8).view(np.uint32)[0]


def rgba_to_rgb(rgba: np.ndarray, out: np.ndarray) -> None:
    """Write the RGB of (H, W, 4) uint8 ``rgba`` into (H, W, 3) uint8 ``out``. Every four pixels (16
    bytes) become three 32-bit words (12 bytes) through shifts: 0.07 ms a 256² frame against 0.2 ms
    for the strided ``out[...] = rgba[..., :3]``, which was ~13% of a lights clip's time."""
    if rgba.size % 16 or sys.byteorder != "little" or not (rgba.flags.c_contiguous and out.flags.c_contiguous):
        out[...] = rgba[..., :3]
        return
    pixels = rgba.reshape(-1, 4, 4).view(np.uint32)[..., 0]  # (n/4, 4): R | G<<8 | B<<16 | A<<24
    words = out.reshape(-1, 12).view(np.uint32)  # (n/4, 3)
    p0, p1, p2, p3 = pixels.T
    np.bitwise_or(p0 & 0xFFFFFF, p1 << 24, out=words[:, 0])
    np.bitwise_or((p1 >> 8) & 0xFFFF, p2 << 16, out=words[:, 1])
    np.bitwise_or((p2 >> 16) & 0xFF, p3 << 8, out=words[:, 2])


def _rgba_word(rgb) -> np.uint32:
    return np.array([*np.round(np.asarray(rgb) * 255), 255], np.uint8).view(np.uint32)[0]


def paint_background(rgba: np.ndarray, background) -> None:
    """Paint the pixels no surface covers ``background`` (rgb in [0, 1]), in place. TinyRenderer
    clears to opaque white and cannot be told otherwise; as one uint32 per pixel the repaint costs
    ~0.02 ms a frame. (Drawn colours must stay below pure white.)"""
    words = rgba.view(np.uint32)
    words[words == _WHITE] = _rgba_word(background)


class Renderer:
    """Poses the world's bodies frame by frame and grabs TinyRenderer images.

    TinyRenderer's cost is the pixels it fills, not the triangles: the floor of a falling_rising
    frame is ~85% of it (bench/render.py, "what a frame costs"), and it is the same in every frame.
    So by default (``layered``) the bodies a trajectory never poses (the floor) are drawn once per
    clip, each frame draws only the posed bodies, and the two are merged by depth, the later-drawn
    surface winning ties as TinyRenderer's own depth test does: a 256² frame's camera call then
    costs ~1 ms instead of ~5.5.
    The frames equal a plain render but for rare pixels where a body touches the floor (depth ties
    within a float rounding), and stay deterministic. Shadows, or lighting that changes from frame
    to frame, make every frame depend on everything: those clips are drawn plainly.
    """

    layered: ClassVar[bool] = True  # bench/render.py switches it off to time the plain render

    def __init__(self, render: RenderSettings, camera: Camera):
        self.settings = render
        self.camera = camera
        self._view = camera.view_matrix
        self._proj = camera.projection_matrix

    def capture(self, world: World, lighting: Lighting = DEFAULT_LIGHTING) -> tuple[np.ndarray, np.ndarray]:
        """TinyRenderer's (H, W, 4) uint8 RGBA buffer of the world as it is now, lit by ``lighting``,
        and its (H, W) depth (1.0 where no surface was drawn)."""
        kwargs: dict[str, Any] = dict(_LIGHTING_DEFAULTS)
        if lighting.color is not None:
            kwargs["lightColor"] = list(lighting.color)
        for key, arg in _SHADING_ARGS.items():
            if getattr(lighting, key) is not None:
                kwargs[arg] = float(getattr(lighting, key))
        height, width = self.settings.height, self.settings.width
        _, _, rgba, depth, _ = p.getCameraImage(
            width, height, self._view, self._proj,
            lightDirection=list(lighting.direction or self.settings.light_direction),
            shadow=int(self.settings.shadows), renderer=p.ER_TINY_RENDERER,
            flags=p.ER_NO_SEGMENTATION_MASK, physicsClientId=world.client, **kwargs)
        return (np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4),
                np.asarray(depth, dtype=np.float32).reshape(height, width))

    def grab(self, world: World, lighting: Lighting = DEFAULT_LIGHTING, background=None) -> np.ndarray:
        """One frame of the world as it is now: (H, W, 4) uint8 RGBA, TinyRenderer's own buffer, with
        pixels no surface covers painted ``background`` (rgb in [0, 1]) when it is given."""
        rgba, _ = self.capture(world, lighting)
        if background is not None:
            paint_background(rgba, background)
        return rgba

    def render(self, world: World, trajectory: Trajectory, start: int = 0) -> np.ndarray:
        """Frames (T - start, H, W, 3) uint8 of a simulated trajectory, replayed from its recorded states."""
        frames = trajectory.frames[start:]
        out = np.empty((len(frames), self.settings.height, self.settings.width, 3), np.uint8)
        lighting = [frame.lighting for frame in frames]
        static = StaticLayer.draw(self, world, trajectory, lighting[0]) if self._can_layer(lighting) else None
        try:
            last_rgba: dict[str, Any] = {}
            for i, frame in enumerate(frames):
                for name, state in frame.bodies.items():
                    body = trajectory.body_ids[name]
                    # A body that is not visible is parked far below the floor, out of every view.
                    world.set_pose(body, state.position if state.visible else _HIDDEN, state.orientation)
                    if state.rgba is not None and last_rgba.get(name) != state.rgba:
                        world.set_color(body, state.rgba)
                        last_rgba[name] = state.rgba
                if static is None:
                    rgba = self.grab(world, lighting[i], trajectory.background)
                else:
                    rgba = static.under(*self.capture(world, lighting[i]))
                rgba_to_rgb(rgba, out[i])
        finally:
            if static is not None:
                static.restore(world)
        return out

    def _can_layer(self, lighting: list[Lighting]) -> bool:
        # A shadow falls from a posed body onto the floor, and a light that changes relights the floor:
        # then no frame's floor is the same as another's.
        return self.layered and not self.settings.shadows and all(light == lighting[0] for light in lighting)


class StaticLayer:
    """The bodies a trajectory never poses, drawn once, under each frame's posed bodies."""

    def __init__(self, rgba: np.ndarray, depth: np.ndarray, poses: dict[int, tuple]):
        self.words = rgba.view(np.uint32)[..., 0].copy()
        # A frame's pixel shows the static layer where that frame drew nothing (depth 1.0) or drew a
        # surface strictly behind it; ties go to the posed body, drawn after the floor in a plain render.
        self.depth = np.minimum(depth, np.nextafter(np.float32(1.0), np.float32(0.0)))
        self.poses = poses

    @classmethod
    def draw(cls, renderer: Renderer, world: World, trajectory: Trajectory,
             lighting: Lighting) -> StaticLayer | None:
        posed = set(trajectory.body_ids.values())
        static = [body for body in world.bodies() if body not in posed]
        if not static:
            return None  # nothing drawn once: the plain render is as cheap
        for body in posed:
            world.set_pose(body, _HIDDEN, (0.0, 0.0, 0.0, 1.0))
        rgba, depth = renderer.capture(world, lighting)
        if trajectory.background is not None:
            paint_background(rgba, trajectory.background)
        layer = cls(rgba, depth, {body: world.pose(body) for body in static})
        for body in static:
            world.set_pose(body, _HIDDEN, (0.0, 0.0, 0.0, 1.0))
        return layer

    def under(self, rgba: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """``rgba`` (a frame of the posed bodies alone) with the static layer filled in, in place."""
        np.copyto(rgba.view(np.uint32)[..., 0], self.words, where=depth > self.depth)
        return rgba

    def restore(self, world: World) -> None:
        """Put the static bodies back where they were, for whatever the world is used for next."""
        for body, (position, orientation) in self.poses.items():
            world.set_pose(body, position, orientation)
