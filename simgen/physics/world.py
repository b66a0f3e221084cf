"""A thin PyBullet wrapper: one fresh DIRECT client per clip, client id on every call.

Bodies are created undamped: PyBullet's default linearDamping of 0.04 slows a free fall
by ~17% at 9 m/s, which would make every kinematic label wrong. Damping is only set when a
spec asks for drag, and it is recorded with the clip.
"""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simgen.dataset.io import atomic_path
from simgen.physics.bullet import p, quiet_c_output
from simgen.physics.heap import keep_freed_memory
from simgen.physics.shapes import SHAPES, TEXTURES, Shape
from simgen.physics.trajectory import BodyFrame, Frame


@dataclass(frozen=True)
class BodyState:
    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float]
    linear_velocity: tuple[float, float, float]
    angular_velocity: tuple[float, float, float]


@dataclass(frozen=True)
class ContactPoint:
    """One contact point after the last step. ``normal_on_b`` points from body B towards body A.

    ``normal_force`` is PyBullet's applied normal impulse of the step divided by the timestep (N);
    ``friction_force`` is the lateral friction, as a world vector (N), on body A.
    """

    body_a: int
    body_b: int
    position_on_a: tuple[float, float, float]
    position_on_b: tuple[float, float, float]
    normal_on_b: tuple[float, float, float]
    distance: float
    normal_force: float
    friction_force: tuple[float, float, float]


_process_client: dict[int, int] = {}  # pid -> DIRECT client of this process


def _fresh_client() -> int:
    """This process's DIRECT client, emptied by resetSimulation.

    Connecting costs ~14 ms and a reset ~0.2 ms, so each process keeps one client and resets
    it per clip. The world is as fresh either way: the determinism tests render different clip
    sequences per process (1 vs 2 workers, shards) and compare bytes.
    """
    pid = os.getpid()
    client = _process_client.get(pid)
    if client is None or not p.isConnected(physicsClientId=client):
        keep_freed_memory()  # a process that renders clips reuses its heap from clip to clip
        with quiet_c_output():
            client = p.connect(p.DIRECT)
        _process_client[pid] = client
    else:
        p.resetSimulation(physicsClientId=client)
    return client


class World:
    """A fresh PyBullet DIRECT world with an explicit timestep. Use as a context manager."""

    def __init__(self, timestep: float = 1 / 240, gravity: float = 9.81):
        self.timestep = timestep
        self.gravity = gravity
        self.client = _fresh_client()
        self._configure()

    def _configure(self) -> None:
        self._textures: dict[str, int] = {}
        p.setTimeStep(self.timestep, physicsClientId=self.client)
        p.setGravity(0, 0, -self.gravity, physicsClientId=self.client)
        # Deterministic pair ordering: identical inputs give identical contacts across processes.
        p.setPhysicsEngineParameter(deterministicOverlappingPairs=1, physicsClientId=self.client)

    def reset(self) -> None:
        """Empty the world (same settings), e.g. to re-simulate a clip with an intervention."""
        p.resetSimulation(physicsClientId=self.client)
        self._configure()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the world; its bodies are cleared by the next World's reset."""
        self.client = -1

    # ------------------------------------------------------------------ bodies

    def add_floor(self, rgba: tuple[float, float, float, float], *, size: float = 20.0,
                  restitution: float = 0.0, lateral_friction: float = 0.8, texture: str | None = None) -> int:
        """A static floor whose top surface is z = 0."""
        cid = self.client
        col = p.createCollisionShape(p.GEOM_PLANE, physicsClientId=cid)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=[size, size, 0.01], visualFramePosition=[0, 0, -0.01],
                                  rgbaColor=rgba, physicsClientId=cid)
        body = p.createMultiBody(0, col, vis, [0, 0, 0], physicsClientId=cid)
        p.changeDynamics(body, -1, restitution=restitution, lateralFriction=lateral_friction, physicsClientId=cid)
        if texture:
            p.changeVisualShape(body, -1, textureUniqueId=self.texture(texture), physicsClientId=cid)
        return body

    def add_body(self, shape: Shape, size: float, *, mass: float, position, orientation=(0, 0, 0, 1),
                 rgba=(0.8, 0.2, 0.2, 1.0), texture: str | None = None, linear_damping: float = 0.0,
                 angular_damping: float = 0.0, restitution: float = 0.0, lateral_friction: float = 0.5,
                 collide: bool = True) -> int:
        """A dynamic body. ``size`` is the radius (sphere, cylinder, capsule) or half-extent (box)."""
        cid = self.client
        if shape == "sphere":
            geom = {"shapeType": p.GEOM_SPHERE, "radius": size}
            vis_geom = geom
        elif shape == "box":
            geom = {"shapeType": p.GEOM_BOX, "halfExtents": [size] * 3}
            vis_geom = geom
        elif shape == "cylinder":
            geom = {"shapeType": p.GEOM_CYLINDER, "radius": size, "height": 2 * size}
            vis_geom = {"shapeType": p.GEOM_CYLINDER, "radius": size, "length": 2 * size}
        elif shape == "capsule":
            geom = {"shapeType": p.GEOM_CAPSULE, "radius": size, "height": 2 * size}
            vis_geom = {"shapeType": p.GEOM_CAPSULE, "radius": size, "length": 2 * size}
        else:
            raise ValueError(f"unknown shape {shape!r}; allowed: {', '.join(SHAPES)}")
        col = p.createCollisionShape(**geom, physicsClientId=cid) if collide else -1
        vis = p.createVisualShape(**vis_geom, rgbaColor=rgba, physicsClientId=cid)
        body = p.createMultiBody(mass, col, vis, position, orientation, physicsClientId=cid)
        p.changeDynamics(body, -1, linearDamping=linear_damping, angularDamping=angular_damping,
                         restitution=restitution, lateralFriction=lateral_friction, physicsClientId=cid)
        if texture:
            p.changeVisualShape(body, -1, textureUniqueId=self.texture(texture), physicsClientId=cid)
        return body

    def add_panel(self, half_extents, *, rgba, position=(0.0, 0.0, 0.0), orientation=(0, 0, 0, 1)) -> int:
        """A box that is only seen: no collision shape and no mass, so it never touches the physics
        (an occluder, posed frame by frame by the renderer)."""
        cid = self.client
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=list(half_extents), rgbaColor=rgba, physicsClientId=cid)
        return p.createMultiBody(0, -1, vis, position, orientation, physicsClientId=cid)

    def texture(self, name: str) -> int:
        if name not in self._textures:
            self._textures[name] = p.loadTexture(str(texture_file(name)), physicsClientId=self.client)
        return self._textures[name]

    # ------------------------------------------------------------------ dynamics

    def set_velocity(self, body: int, linear, angular=(0, 0, 0)) -> None:
        p.resetBaseVelocity(body, linear, angular, physicsClientId=self.client)

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            p.stepSimulation(physicsClientId=self.client)

    def state(self, body: int) -> BodyState:
        pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
        lin, ang = p.getBaseVelocity(body, physicsClientId=self.client)
        return BodyState(tuple(pos), tuple(orn), tuple(lin), tuple(ang))

    def record(self, body: int, name: str, frames: int, steps_per_frame: int, fps: int) -> list[Frame]:
        """``frames`` frames of ``body``'s state (as body ``name``): the first as it is now, then one every
        ``steps_per_frame`` physics steps, at times i / ``fps``."""
        out = []
        for i in range(frames):
            if i:
                self.step(steps_per_frame)
            s = self.state(body)
            out.append(Frame(t=i / fps, bodies={name: BodyFrame(s.position, s.orientation, s.linear_velocity,
                                                                 s.angular_velocity)}))
        return out

    def contact_count(self) -> int:
        """Contact points in the world after the last step."""
        return len(p.getContactPoints(physicsClientId=self.client))

    def contact_points(self) -> list[ContactPoint]:
        """Every contact point after the last step, with its forces (see :class:`ContactPoint`)."""
        out = []
        for c in p.getContactPoints(physicsClientId=self.client):
            friction = np.asarray(c[11]) * c[10] + np.asarray(c[13]) * c[12]
            out.append(ContactPoint(c[1], c[2], tuple(c[5]), tuple(c[6]), tuple(c[7]), float(c[8]), float(c[9]),
                                    tuple(float(f) for f in friction)))
        return out

    def mass(self, body: int) -> float:
        """Mass of a body's base (kg); 0 for a static body."""
        return float(p.getDynamicsInfo(body, -1, physicsClientId=self.client)[0])

    def set_gravity(self, acceleration) -> None:
        """Gravity as an acceleration vector (m/s²); a violation may flip it mid-clip."""
        p.setGravity(*acceleration, physicsClientId=self.client)

    def disable_collision(self, a: int, b: int) -> None:
        """Let bodies a and b pass through each other from now on."""
        p.setCollisionFilterPair(a, b, -1, -1, 0, physicsClientId=self.client)

    def bodies(self) -> list[int]:
        """Ids of every body in the world, in creation order."""
        cid = self.client
        return [p.getBodyUniqueId(i, physicsClientId=cid) for i in range(p.getNumBodies(physicsClientId=cid))]

    def pose(self, body: int) -> tuple[tuple[float, float, float], tuple[float, float, float, float]]:
        position, orientation = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
        return tuple(position), tuple(orientation)

    def set_pose(self, body: int, position, orientation) -> None:
        p.resetBasePositionAndOrientation(body, position, orientation, physicsClientId=self.client)

    def set_color(self, body: int, rgba) -> None:
        p.changeVisualShape(body, -1, rgbaColor=rgba, physicsClientId=self.client)


# ---------------------------------------------------------------------- textures


@functools.cache
def texture_file(name: str) -> Path:
    """A small procedural texture PNG, written once per process (PyBullet loads textures from files)."""
    import imageio.v3 as iio

    n = 64
    yy, xx = np.mgrid[0:n, 0:n]
    if name == "checker":
        mask = ((xx // 8) + (yy // 8)) % 2 == 0
    elif name == "stripes":
        mask = (xx // 8) % 2 == 0
    else:
        raise ValueError(f"unknown texture {name!r}; allowed: {', '.join(TEXTURES)}")
    img = np.where(mask[..., None], 255, 90).astype(np.uint8).repeat(3, axis=2)
    directory = Path(tempfile.gettempdir()) / "simgen-textures"
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.png"
    if not path.exists():
        with atomic_path(path) as tmp:
            iio.imwrite(tmp, img, extension=".png")
    return path
