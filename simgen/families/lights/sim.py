"""Lights: "satellite vs star". Point lights in a night sky, static or moving, steady or blinking.

A 2×2 design, ``moves`` ∈ {static, linear} × ``blinks`` ∈ {steady, blinking}, names the light's
``kind``: star (static, blinking: twinkling), planet (static, steady), satellite (linear, steady),
aircraft (linear, blinking). The camera looks up into a dark sky; the main light is a small
sphere drawn flat at its colour × brightness (PyBullet has no emissive materials or point lights:
see :data:`FLAT`), optionally with fainter static distractor stars.

No single frame tells the classes apart, by construction:

- **Brightness.** A blinking light shows its bright level when frac(blink_hz·t + phase) <
  duty_cycle and its dim level otherwise; with the phase uniform, every frame is bright with
  probability duty_cycle. A steady light draws the same levels and shows the bright one, for the
  whole clip, with the same probability duty_cycle. So the per-frame brightness has the same
  distribution for steady and blinking lights at every frame index.
- **Position.** A moving light crosses the sky plane at constant velocity with its mid-clip
  position uniform in a disk. A static light sits where an identically drawn moving light would
  be at a uniformly random frame. So pooled over frames, static and moving lights have the same
  position distribution (per frame index they differ only within a path length of the disk's rim).
- Size, colour and altitude are drawn the same way for every kind.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import model_validator

from simgen import violations
from simgen.families import register
from simgen.families.base import BodyFrame, Clip, Family, Frame, TargetInfo, Trajectory
from simgen.spec import AnyDist, Params, SceneSpec, dist_field
from simgen.world import World

KINDS = {("static", "blinking"): "star", ("static", "steady"): "planet",
         ("linear", "steady"): "satellite", ("linear", "blinking"): "aircraft"}
# Flat full-ambient shading: TinyRenderer then draws every surface at exactly its rgba, so a light's
# pixels are colour × brightness whatever its orientation (the nearest thing to an emitter).
FLAT = {"ambient": 1.0, "diffuse": 0.0, "specular": 0.0}
# TinyRenderer clears to white and has no background setting, and a full-screen sky surface costs
# ~10 ms a frame at 256x256 (TinyRenderer fills pixels slowly). So the sky is painted after
# rendering: a pixel no surface covered is exactly white, and every colour drawn here is capped
# at MAX_LEVEL < 1, so only background pixels are exactly white.
MAX_LEVEL = 254 / 255


class LightsParams(Params):
    moves: AnyDist = dist_field({"choice": ["static", "linear"]}, options=["static", "linear"])
    blinks: AnyDist = dist_field({"choice": ["steady", "blinking"]}, options=["steady", "blinking"])
    altitude: AnyDist = dist_field(20.0, gt=1, le=30, unit="m", description="height of the sky plane")
    region_radius: AnyDist = dist_field(5.0, ge=0, le=20, unit="m",
                                        description="mid-clip positions are uniform in a disk of this radius")
    speed: AnyDist = dist_field({"uniform": [1.0, 3.0]}, gt=0, le=50, unit="m/s",
                                description="speed in the sky plane (linear lights)")
    direction: AnyDist = dist_field({"uniform": [0.0, 360.0]}, unit="deg", description="heading in the sky plane")
    blink_hz: AnyDist = dist_field({"uniform": [1.5, 4.5]}, gt=0, unit="Hz",
                                   description="blink frequency; must stay below render.fps / 2")
    duty_cycle: AnyDist = dist_field({"uniform": [0.3, 0.7]}, gt=0, le=1,
                                     description="fraction of each blink period at the bright level")
    phase: AnyDist = dist_field({"uniform": [0.0, 1.0]}, ge=0, le=1, description="blink phase, in cycles")
    brightness: AnyDist = dist_field({"uniform": [0.6, 1.0]}, gt=0, le=1, description="the bright level")
    dim_ratio: AnyDist = dist_field({"uniform": [0.1, 0.4]}, ge=0, le=1,
                                    description="dim level / bright level; 0 = fully off")
    radius: AnyDist = dist_field(0.3, gt=0, le=2, unit="m", description="radius of the light's sphere")
    tint: AnyDist = dist_field({"uniform": [-1.0, 1.0]}, ge=-1, le=1, description="< 0 bluish, > 0 warm")
    n_distractors: AnyDist = dist_field({"choice": [0, 1, 2, 3, 4, 5]}, ge=0, le=50,
                                        description="fainter, smaller static stars (steady or twinkling)")
    distractor_radius: AnyDist = dist_field(0.12, gt=0, le=2, unit="m")
    distractor_brightness: AnyDist = dist_field({"uniform": [0.25, 0.5]}, ge=0, le=1)
    sky_value: AnyDist = dist_field({"uniform": [0.02, 0.08]}, ge=0, le=0.5, description="sky brightness")
    ground: AnyDist = dist_field(False, options=[False, True],
                                 description="a dark ground plane (in view only with a low camera pitch)")
    renderer_light: AnyDist = dist_field(False, options=[False, True],
                                         description="also drive TinyRenderer's light from the main light "
                                                     "(direction from its position, colour × brightness)")


class LightsSpec(SceneSpec):
    family: Literal["lights"]
    params: LightsParams = LightsParams()

    @model_validator(mode="after")
    def _nyquist(self) -> LightsSpec:
        nyquist = self.render.fps / 2
        top = self.params.blink_hz.support()[1]
        if top >= nyquist:
            raise ValueError(f"params.blink_hz reaches {top:g} Hz, at or above the Nyquist limit render.fps/2 = "
                             f"{nyquist:g} Hz; keep blink_hz below {nyquist:g} Hz or raise render.fps")
        return self


@register
class Lights(Family):
    name = "lights"
    description = "point lights in a night sky: static or moving × steady or blinking (star, planet, satellite, " \
                  "aircraft)"
    spec_model = LightsSpec
    violation_kinds = ("light_jump", "light_speed_change", "vanish")
    targets: ClassVar[dict[str, TargetInfo]] = {
        "moves": TargetInfo("class", "whether the main light moves", classes=("static", "linear")),
        "blinks": TargetInfo("class", "whether the main light blinks", classes=("steady", "blinking")),
        "kind": TargetInfo("class", "moves × blinks", classes=("star", "planet", "satellite", "aircraft")),
        "speed": TargetInfo("regression", "speed in the sky plane (0 when static)", "m/s"),
        "speed_px": TargetInfo("regression", "mean image speed: image displacement / clip duration", "px/s"),
        "direction_deg": TargetInfo("regression", "image direction of travel, counter-clockwise from the image "
                                                  "x axis with y up (0 when static)", "deg"),
        "blink_hz": TargetInfo("regression", "blink frequency (0 when steady)", "Hz"),
        "duty_cycle": TargetInfo("regression", "fraction of each period at the bright level (1 when steady)"),
    }

    def sample(self, spec: SceneSpec, rng: np.random.Generator) -> dict[str, Any]:
        params = spec.params.sample(rng)
        # Drawn for every kind, so switching a class never shifts the other draws.
        r = params["region_radius"] * math.sqrt(rng.uniform())
        a = rng.uniform(0, 2 * math.pi)
        params["mid_position"] = [r * math.cos(a), r * math.sin(a)]
        params["static_frame"] = int(rng.integers(spec.render.frames))
        params["steady_bright"] = bool(rng.uniform() < params["duty_cycle"])
        n = int(params["n_distractors"])
        params["distractors"] = [_distractor(params, spec.render.fps, rng) for _ in range(n)]
        return params

    def simulate(self, spec: SceneSpec, params: dict[str, Any], world: World) -> Trajectory:
        render = spec.render
        duration = (render.frames - 1) / render.fps
        h = params["altitude"]
        sky = [params["sky_value"] * 0.6, params["sky_value"] * 0.7, params["sky_value"]]
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
            renderer = dict(FLAT)
            if params["renderer_light"]:
                # The renderer's single directional light, pointed from the main light; ambient stays 1 so
                # the lights keep their flat colour, and the diffuse term lights the ground by brightness.
                renderer.update(direction=positions[k].tolist(), color=(brightness[k] * np.asarray(colour)).tolist(),
                                diffuse=1.0)
            lights["_renderer"] = renderer
            frames.append(Frame(t=float(t), bodies=bodies, lights=lights))

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

    def make_clips(self, trajectory: Trajectory, frames: np.ndarray, states: list[dict[str, Any]]) -> list[Clip]:
        targets = dict(trajectory.targets)
        xy = [s["lights"]["light"]["image_xy"] for s in states]
        if targets["moves"] == "linear" and len(states) > 1 and xy[0] is not None and xy[-1] is not None:
            dx, dy = np.subtract(xy[-1], xy[0])
            duration = states[-1]["t"] - states[0]["t"]
            targets["speed_px"] = float(math.hypot(dx, dy) / duration)
            targets["direction_deg"] = float(math.degrees(math.atan2(-dy, dx)) % 360.0)
        return [Clip(self.variants[0], frames, states, targets, trajectory.events)]


def _blink(times: np.ndarray, hz: float, duty: float, phase: float) -> np.ndarray:
    return np.mod(hz * times + phase, 1.0) < duty


def _tint(t: float) -> tuple[float, float, float]:
    """White, shifted towards warm (t > 0) or blue (t < 0)."""
    if t >= 0:
        return (1.0, 1.0 - 0.15 * t, 1.0 - 0.35 * t)
    return (1.0 + 0.35 * t, 1.0 + 0.15 * t, 1.0)


def _distractor(params: dict[str, Any], fps: int, rng: np.random.Generator) -> dict[str, Any]:
    r = (params["region_radius"] + 3.0) * math.sqrt(rng.uniform())
    a = rng.uniform(0, 2 * math.pi)
    return {"position": [r * math.cos(a), r * math.sin(a)], "twinkles": bool(rng.uniform() < 0.5),
            "blink_hz": float(rng.uniform(1.0, min(4.5, 0.45 * fps))), "duty_cycle": float(rng.uniform(0.3, 0.7)),
            "phase": float(rng.uniform()), "dim_ratio": float(rng.uniform(0.1, 0.4)),
            "brightness": float(params["distractor_brightness"]), "tint": float(rng.uniform(-1, 1))}
