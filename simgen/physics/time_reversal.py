"""Time reversal of recorded clips, for the families whose groups hold a clip and its exact reversal
(falling_rising, gravity, arrow_of_time): the reversed states, and a target that reversal keeps."""

from __future__ import annotations

from typing import Any


def speed_mid(vz) -> float:
    """|vz| at the middle of the clip: the middle frame's, or with an even number of frames |the mean of
    the two middle frames'|, which is |vz| at the middle time when vz is linear in t (free fall). A
    clip and its reversal (vz reversed and negated) give the same value, bit for bit."""
    vz = [float(v) for v in vz]
    n = len(vz)
    if n % 2:
        return abs(vz[n // 2])
    return abs((vz[n // 2 - 1] + vz[n // 2]) / 2)


def time_reverse(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Frame states in reverse order, velocities negated, times kept ascending."""
    out = []
    for t_state, state in zip(states, reversed(states), strict=True):
        bodies = {name: {**b, "linear_velocity": [-v for v in b["linear_velocity"]],
                         "angular_velocity": [-v for v in b["angular_velocity"]]}
                  for name, b in state["bodies"].items()}
        out.append({**state, "t": t_state["t"], "bodies": bodies})
    return out
