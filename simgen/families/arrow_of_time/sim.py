"""Arrow of time, simulated: an inelastic bounce or a slide under friction, and its exact time reversal.

**Bounce.** The impact speed v is solved so that a window of the clip's length, starting with the sphere
falling at height ``clearance`` and ending with it rising through the same height, holds the bounce
(:func:`bounce_speed`). The sphere is released at the window's first frame so that, under Bullet's
semi-implicit Euler steps, its gap to the floor is exactly 0 at the end of a physics step (the impact
step): Bullet's effective restitution otherwise depends on where within a step the contact is detected
(impact measures 0.8× nominal on average, with a wide spread), and touching exactly on a step it
matches the nominal value (within ~1%). The sphere-floor contact is frictionless, so the horizontal
drift and the spin go through the bounce unchanged and the energy lost is (1 − e²)·½·m·v².

**Slide.** The box rests on the floor (settled for 0.1 s before the first frame), then starts the clip
at speed v_end + μ·g·T along a random heading, with its path centred on the origin, and slows at μ·g
to ``speed_end`` at the last frame. Friction combines as the product of the two bodies' coefficients
(the floor's is 1), restitution likewise (the box's is 0).

The ``backward`` clip is the forward clip's frames in reverse order with velocities negated (see
params.py for why only the speeds tell them apart).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import brentq

from simgen.families.arrow_of_time.params import SHAPE, body_rgba, bounce_window_ok
from simgen.families.base import Simulation
from simgen.physics import violations
from simgen.physics.events import ContactAccumulator
from simgen.physics.materials import floor_rgba
from simgen.physics.shapes import half_height
from simgen.physics.time_reversal import time_reverse
from simgen.physics.trajectory import BodyFrame, Clip, Frame, Trajectory
from simgen.physics.world import World
from simgen.spec.models import SceneSpec

SETTLE_S = 0.1  # the box rests this long on the floor before the slide starts
# Below an impact travel of about 0.034 radii per physics step, Bullet meets the sphere a step early
# (within its contact margin) and the bounce fails (the sphere keeps sinking, restitution < 0). The
# floor for a clean bounce, with a margin: speed·dt ≥ MIN_STEP_TRAVEL·radius.
MIN_STEP_TRAVEL = 0.045


def bounce_speed(clearance: float, restitution: float, gravity: float, duration: float) -> float:
    """The impact speed v for which falling from gap ``clearance`` to the floor and rising back to it at
    e·v takes ``duration``: (v − sqrt(v² − 2gh))/g + (ev − sqrt(e²v² − 2gh))/g = duration."""
    h, e, g = clearance, restitution, gravity
    if not bounce_window_ok(h, e, g, duration):
        raise ValueError(f"arrow_of_time: no balanced bounce window of {duration:.3f} s at clearance {h:.3f} m, "
                         f"restitution {e:.3f}, gravity {g} (raise params.clearance or restitution, or lower "
                         "gravity or render.frames)")

    def excess(v: float) -> float:
        return ((v - math.sqrt(v * v - 2 * g * h)) + (e * v - math.sqrt(max(e * e * v * v - 2 * g * h, 0.0)))) / g \
            - duration

    lo = math.sqrt(2 * g * h) / e
    hi = 2 * lo
    while excess(hi) > 0:
        hi *= 2
    return float(brentq(excess, lo, hi, xtol=1e-12))


def inertia(shape: str, mass: float, size: float) -> float:
    """Moment of inertia of a solid sphere (radius ``size``) or cube (half-extent ``size``): isotropic."""
    return 0.4 * mass * size**2 if shape == "sphere" else 2 / 3 * mass * size**2


def mechanical_energy(state: BodyFrame, mass: float, moment: float, gravity: float) -> float:
    """½m|v|² + ½I|ω|² + m·g·z (z of the centre)."""
    v, w = np.asarray(state.linear_velocity), np.asarray(state.angular_velocity)
    return float(0.5 * mass * v @ v + 0.5 * moment * w @ w + mass * gravity * state.position[2])


class ArrowOfTime(Simulation):
    def simulate(self, spec: SceneSpec, params: dict[str, Any], world: World) -> Trajectory:
        render = spec.render
        steps, dt = render.steps_per_frame, render.timestep
        duration = (render.frames - 1) / render.fps
        g, event, size, mass = params["gravity"], params["event"], params["size"], params["mass"]
        shape = SHAPE[event]
        floor = world.add_floor(floor_rgba(params["floor_value"]), restitution=1.0, lateral_friction=1.0)
        texture = None if params["texture"] == "none" else params["texture"]
        common = {"mass": mass, "texture": texture, "rgba": body_rgba(params),
                  "linear_damping": params["linear_damping"], "angular_damping": params["angular_damping"]}

        if event == "bounce":
            e, h = params["restitution"], params["clearance"]
            v = bounce_speed(h, e, g, duration)
            if v * dt < MIN_STEP_TRAVEL * size:
                raise ValueError(f"arrow_of_time: impact speed {v:.2f} m/s travels {v * dt * 1000:.1f} mm per physics "
                                 f"step, under {MIN_STEP_TRAVEL}·radius: Bullet would not bounce cleanly (lower "
                                 "render.physics_hz, or raise gravity or clearance)")
            t1 = (v - math.sqrt(v * v - 2 * g * h)) / g
            n = max(1, round(t1 / dt))  # the step at whose end the sphere touches the floor
            vz0 = -v + n * g * dt  # semi-implicit Euler: v_k = vz0 − k·g·dt, z_k = z0 + dt·Σ v_1..v_k
            z0 = size - (n * vz0 * dt - g * dt * dt * n * (n + 1) / 2)
            heading = math.radians(params["drift_heading"])
            drift = params["drift_speed"] * np.array([math.cos(heading), math.sin(heading)])
            x0, y0 = -drift * duration / 2
            body = world.add_body("sphere", size, position=(x0, y0, z0), orientation=params["orientation"],
                                  restitution=e, lateral_friction=0.0, **common)
            world.set_velocity(body, (drift[0], drift[1], vz0), np.asarray(params["spin_axis"]) * params["spin"])
        else:
            mu = params["friction"]
            v0 = params["speed_end"] + mu * g * duration
            path = (v0 + params["speed_end"]) / 2 * duration
            heading = math.radians(params["slide_heading"])
            direction = np.array([math.cos(heading), math.sin(heading)])
            x0, y0 = -direction * path / 2
            yaw = math.radians(params["yaw"]) / 2
            body = world.add_body("box", size, position=(x0, y0, size), orientation=(0, 0, math.sin(yaw), math.cos(yaw)),
                                  restitution=0.0, lateral_friction=mu, **common)
            world.step(round(SETTLE_S / dt))
            world.set_velocity(body, (*(v0 * direction), 0.0))

        # The bounce's collision event; the sliding box is in resting contact throughout (its corners
        # rock by a few mm on Bullet's four contact points, which are not events).
        acc = ContactAccumulator(world, {"object": body, "floor": floor}, gravity=g, fps=render.fps)
        advance = acc.step if event == "bounce" else world.step
        frames = []
        for i in range(render.frames):
            if i:
                advance(steps)
            s = world.state(body)
            frames.append(Frame(t=i / render.fps, bodies={"object": BodyFrame(
                s.position, s.orientation, s.linear_velocity, s.angular_velocity)}))
        events = acc.finish()

        moment = inertia(shape, mass, size)
        energy = [mechanical_energy(f.bodies["object"], mass, moment, g) for f in frames]
        t = np.array([f.t for f in frames])
        if event == "bounce":
            hits = [ev for ev in events if "object" in ev.bodies]
            if len(hits) != 1:
                raise RuntimeError(f"arrow_of_time: {len(hits)} sphere-floor collisions in a bounce clip (expected 1)")
            restitution, friction = max(hits[0].restitution, 0.0), 0.0
        else:
            speed = np.array([math.hypot(*f.bodies["object"].linear_velocity[:2]) for f in frames])
            restitution, friction = 0.0, float(-np.polyfit(t, speed, 1)[0] / g)
            if speed.min() <= 0.01:
                raise RuntimeError("arrow_of_time: the box came to rest within the clip; raise params.speed_end")
        lost = abs(energy[0] - energy[-1])
        targets = {"forward": "true", "event": event, "restitution": float(restitution), "friction": friction,
                   "energy_lost": float(lost), "energy_lost_per_kg": float(lost / mass), "mass": float(mass)}
        return Trajectory(frames, {"object": body}, targets, focus=camera_focus(spec, event),
                          events=[ev.to_dict() for ev in events])

    def occluded_pair(self, kind: str, trajectory: Trajectory, violation: dict[str, Any], spec: SceneSpec,
                      params: dict[str, Any]) -> tuple[Trajectory, Trajectory, str, float]:
        """energy_change (slides only): A is the forward slide; B is the slide under the same friction,
        started faster (possible on its own), that is where A is half a frame before the frame the occluder
        is centred on, ``speed_factor`` times as fast. Spliced behind the panel, the box leaves it faster
        than it went in (A then B: energy from nowhere) or slower (B then A: energy gone at once, with
        nothing to take it). A bounce has no such pair: its contact would sit in the windows that score
        the switch, where a constant-acceleration oracle cannot tell a gain from a loss."""
        if kind != "energy_change" or params["event"] != "slide":
            raise ValueError(f"arrow_of_time renders occluded {kind!r} only for kind energy_change and event slide "
                             f"(this group's event: {params['event']}); set params.event: slide")
        k = violations.violation_frame(violation["at"], len(trajectory.frames))
        faster = violations.horizontal_speed_change(trajectory, "object", violations.meeting_time(trajectory, k),
                                                    violation["speed_factor"])
        return trajectory, faster, "object", half_height("box", params["size"])

    def make_clips(self, trajectory: Trajectory, frames: np.ndarray, states: list[dict[str, Any]]) -> list[Clip]:
        forward = trajectory.targets
        backward = {**forward, "forward": "false"}
        return [Clip("forward", frames, states, forward, trajectory.events),
                Clip("backward", frames[::-1], time_reverse(states), backward, [])]


def camera_focus(spec: SceneSpec, event: str) -> tuple[float, float, float]:
    """One aim point per event kind for the whole spec, never the clip's own trajectory (which would tell
    one frame the clip's clearance): a bounce, halfway up the highest a sphere's top can be at the ends;
    a slide, the centre of the largest box (every path is centred on the origin)."""
    p = spec.params
    size = p.size.support()[1]
    if event == "bounce":
        return (0.0, 0.0, (p.clearance.support()[1] + 2 * size) / 2)
    return (0.0, 0.0, size)
