"""Lights, simulated: the main light and its distractor stars as flat-shaded spheres.

PyBullet has no emissive materials or point lights: a light is a small sphere drawn flat at its
colour × brightness (see :data:`FLAT`), in a sky painted after rendering (see :data:`MAX_LEVEL`).
Why no single frame tells the kinds apart is in ``params.py``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from simgen.families.base import Simulation
from simgen.families.lights.params import KINDS, sky_rgb
from simgen.physics import violations
from simgen.physics.trajectory import BodyFrame, Clip, Frame, Lighting, Trajectory
from simgen.physics.world import World
from simgen.spec.models import SINGLE_VARIANT, SceneSpec

# Flat full-ambient shading: TinyRenderer then draws every surface at exactly its rgba, so a light's
# pixels are colour × brightness whatever its orientation (the nearest thing to an emitter).
FLAT = Lighting(ambient=1.0, diffuse=0.0, specular=0.0)
# TinyRenderer clears to white and has no background setting, and a full-screen sky surface costs
# ~10 ms a frame at 256x256 (TinyRenderer fills pixels slowly). So the sky is painted after
# rendering: a pixel no surface covered is exactly white, and every colour drawn here is capped
# at MAX_LEVEL < 1, so only background pixels are exactly white.
MAX_LEVEL = 254 / 255


class Lights(Simulation):
    def simulate(self, spec: SceneSpec, params: dict[str, Any], world: World) -> Trajectory:
        render = spec.render
        duration = (render.frames - 1) / render.fps
        h = params["altitude"]
        sky = list(sky_rgb(params["sky_value"]))
        if params["ground"]:
            world.add_floor((*(2 * np.asarray(sky)).tolist(), 1.0), size=60.0)

        heading = math.radians(params["direction"])
        velocity = params["speed"] * np.array([math.cos(heading), math.sin(heading), 0.0])
        mid = np.array([*params["mid_position"], h])
        times = np.arange(render.frames) / render.fps
        if params["moves"] == "linear":
            positions = mid + np.outer(times - duration / 2, velocity)
        else:
            # Where an identical moving light would be at a random frame: matches the position marginal.
            still = mid + (times[params["static_frame"]] - duration / 2) * velocity
            positions = np.repeat(still[None], render.frames, axis=0)
        bright = params["brightness"]
        levels = (bright, bright * params["dim_ratio"])
        if params["blinks"] == "blinking":
            on = _blink(times, params["blink_hz"], params["duty_cycle"], params["phase"])
            brightness = np.where(on, levels[0], levels[1])
        else:
            brightness = np.full(render.frames, levels[0] if params["steady_bright"] else levels[1])
        colour = _tint(params["tint"])

        main = world.add_body("sphere", params["radius"], mass=0, position=positions[0], collide=False,
                              rgba=(*colour, 1.0))
        body_ids = {"light": main}
        tracks = {"light": (positions, brightness, colour)}
        for i, d in enumerate(params["distractors"]):
            pos = np.array([*d["position"], h])
            level = d["brightness"] * (np.where(_blink(times, d["blink_hz"], d["duty_cycle"], d["phase"]), 1.0,
                                                d["dim_ratio"]) if d["twinkles"] else np.ones(render.frames))
            c = _tint(d["tint"])
            body_ids[f"star_{i}"] = world.add_body("sphere", params["distractor_radius"], mass=0, position=pos,
                                                   collide=False, rgba=(*c, 1.0))
            tracks[f"star_{i}"] = (np.repeat(pos[None], render.frames, axis=0), level, c)

        frames = []
        for k, t in enumerate(times):
            bodies, lights = {}, {}
            for name, (pos, level, c) in tracks.items():
                rgba = (*(MAX_LEVEL * float(level[k]) * np.asarray(c)).tolist(), 1.0)
                bodies[name] = BodyFrame(tuple(pos[k].tolist()), (0.0, 0.0, 0.0, 1.0),
                                         tuple(velocity.tolist()) if name == "light" and params["moves"] == "linear"
                                         else (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), rgba=rgba)
                lights[name] = {"position": pos[k].tolist(), "brightness": float(level[k]), "color": list(c)}
            lighting = FLAT
            if params["renderer_light"]:
                # The renderer's single directional light, pointed from the main light; ambient stays 1 so
                # the lights keep their flat colour, and the diffuse term lights the ground by brightness.
                lighting = dataclasses.replace(FLAT, direction=tuple(positions[k].tolist()), diffuse=1.0,
                                               color=tuple((brightness[k] * np.asarray(colour)).tolist()))
            frames.append(Frame(t=float(t), bodies=bodies, lights=lights, lighting=lighting))

        linear = params["moves"] == "linear"
        blinking = params["blinks"] == "blinking"
        targets = {
            "moves": params["moves"], "blinks": params["blinks"], "kind": KINDS[(params["moves"], params["blinks"])],
            "speed": float(params["speed"]) if linear else 0.0,
            "speed_px": 0.0, "direction_deg": 0.0,  # filled from the image track in make_clips
            "blink_hz": float(params["blink_hz"]) if blinking else 0.0,
            "duty_cycle": float(params["duty_cycle"]) if blinking else 1.0,
        }
        return Trajectory(frames, body_ids, targets, focus=(0.0, 0.0, h), background=tuple(sky))

    def violate(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                params: dict[str, Any], world: World) -> tuple[Trajectory, int]:
        """The main light jumps, changes speed (a static one starts moving), or vanishes at frame k."""
        k = violations.violation_frame(violation["at"], len(trajectory.frames))
        if kind == "vanish":
            return violations.vanish(trajectory, "light", k), k
        if kind == "light_jump":
            heading = math.radians(violation["heading"])
            offset = violation["distance"] * np.array([math.cos(heading), math.sin(heading), 0.0])
            return violations.edit_light(trajectory, "light", "light", k, lambda _, pos: pos + offset), k
        if kind == "light_speed_change":
            heading = math.radians(params["direction"])
            velocity = params["speed"] * np.array([math.cos(heading), math.sin(heading), 0.0])
            new_velocity = velocity * violation["speed_factor"] if params["moves"] == "linear" else velocity
            start, t0 = np.asarray(trajectory.frames[k - 1].lights["light"]["position"]), trajectory.frames[k - 1].t
            moved = violations.edit_light(trajectory, "light", "light", k,
                                          lambda i, _: start + new_velocity * (trajectory.frames[i].t - t0))
            return violations.edit_body(moved, "light", k, lambda _, s: dataclasses.replace(
                s, linear_velocity=tuple(float(v) for v in new_velocity))), k
        raise ValueError(f"lights cannot render violation {kind!r}")

    def occluded_pair(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                      params: dict[str, Any]) -> tuple[Trajectory, Trajectory, str, float]:
        """Permanence: the sky with the main light, and the same sky without it (its sphere not drawn;
        the stars, and the scene's lighting, unchanged): a light that goes out, or comes on, behind a
        passing occluder (a cloud)."""
        if kind != "permanence":
            raise ValueError(f"lights cannot render occluded violation {kind!r}")
        return trajectory, violations.vanish(trajectory, "light", 0), "light", params["radius"]

    def make_clips(self, trajectory: Trajectory, frames: np.ndarray, states: list[dict[str, Any]]) -> list[Clip]:
        targets = dict(trajectory.targets)
        xy = [s["lights"]["light"]["image_xy"] for s in states]
        if targets["moves"] == "linear" and len(states) > 1 and xy[0] is not None and xy[-1] is not None:
            dx, dy = np.subtract(xy[-1], xy[0])
            duration = states[-1]["t"] - states[0]["t"]
            targets["speed_px"] = float(math.hypot(dx, dy) / duration)
            targets["direction_deg"] = float(math.degrees(math.atan2(-dy, dx)) % 360.0)
        return [Clip(SINGLE_VARIANT, frames, states, targets, trajectory.events)]


def _blink(times: np.ndarray, hz: float, duty: float, phase: float) -> np.ndarray:
    return np.mod(hz * times + phase, 1.0) < duty


def _tint(t: float) -> tuple[float, float, float]:
    """White, shifted towards warm (t > 0) or blue (t < 0)."""
    if t >= 0:
        return (1.0, 1.0 - 0.15 * t, 1.0 - 0.35 * t)
    return (1.0 + 0.35 * t, 1.0 + 0.15 * t, 1.0)
