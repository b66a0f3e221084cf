"""The audit of one spec: per target, what one frame's visible state gives at a dense set of frames,
and what all frames give, each by a linear and a nonlinear probe; checked against the family's
promise (``TargetInfo.in_one_frame``).

A promise that no single frame gives a target (``in_one_frame: false``) is broken, a **leak**, when at
any audited frame either probe's 95% CI lower bound exceeds chance by more than the tolerance:
balanced accuracy chance + 0.02, R² (and circular R²) 0.05. The tolerance keeps a 5,000-clip audit,
whose CIs are about ±0.015 wide, from calling noise a leak across its many frames and probes, and is
small enough that a leak that matters cannot pass. Targets that one frame may give
(``in_one_frame: true``) are measured at the first, middle and last frames, for the record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from evaluate.metrics import Metric
from simgen.families import FAMILIES
from simgen.families.base import TargetInfo
from simgen.run.audit.measure import PROBES, Measurement, measure
from simgen.run.audit.pool import bounded_map
from simgen.run.audit.sample import AuditSample, sample_clips
from simgen.spec.models import SceneSpec

TOLERANCE = {"balanced_accuracy": 0.02, "r2": 0.05, "circular_r2": 0.05}
DENSE_FRAMES = 9  # frames audited for a temporal promise (first, middle and last among them)
ALL_FRAMES_MAX = 8  # frames whose changing features the all-frames source stacks (evenly spaced)
NOT_IN_ONE_FRAME, ONE_FRAME_MAY, NO_PROMISE = "not_in_one_frame", "one_frame_may", "none"


@dataclass(frozen=True)
class AuditRecord:
    target: str
    source: str  # one_frame | all_frames
    frame: int | None  # the frame of a one_frame record
    probe: str  # linear | boosted
    metric: str
    value: float
    ci95: tuple[float, float]
    chance: float
    n: int  # clips scored
    promise: str  # not_in_one_frame | one_frame_may | none (undeclared)
    verdict: str  # pass | leak

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ci95": list(self.ci95)}


@dataclass
class AuditResult:
    spec: str
    family: str
    fingerprint: str
    seed: int
    clips: int
    groups: int
    frames: int
    audited_frames: list[int]
    records: list[AuditRecord] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # target: why it was not measured
    seconds: dict[str, float] = field(default_factory=dict)  # simulate, measure, total

    @property
    def leaks(self) -> list[AuditRecord]:
        return [r for r in self.records if r.verdict == "leak"]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditResult:
        """An ``audit.json`` read back (``bench/audit.py --reuse`` splices saved audits)."""
        records = [AuditRecord(**{**r, "ci95": tuple(r["ci95"])}) for r in d["records"]]
        return cls(d["spec"], d["family"], d["fingerprint"], d["seed"], d["clips"], d["groups"], d["frames"],
                   d["audited_frames"], records, d["skipped"], d["seconds"])

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "family": self.family, "fingerprint": self.fingerprint, "seed": self.seed,
                "clips": self.clips, "groups": self.groups, "frames": self.frames,
                "audited_frames": self.audited_frames, "tolerance": TOLERANCE, "seconds": self.seconds,
                "leaks": len(self.leaks), "skipped": self.skipped, "records": [r.to_dict() for r in self.records]}


def dense_frames(frames: int, k: int = DENSE_FRAMES) -> list[int]:
    """``k`` evenly spaced frame indices, always with the first, the middle and the last."""
    picked = {0, (frames - 1) // 2, frames // 2, frames - 1, *np.linspace(0, frames - 1, k).round().astype(int)}
    return sorted(int(i) for i in picked if 0 <= i < frames)


def audit_spec(spec: SceneSpec, n_clips: int, *, name: str = "", workers: int = 1, closed_form: bool = True,
               dense: int = DENSE_FRAMES, probes: tuple[str, ...] = PROBES,
               on_simulated: Callable[[int, int], None] | None = None,
               on_measured: Callable[[int, int], None] | None = None) -> AuditResult:
    """Simulate ``n_clips`` clips of ``spec`` (whole groups) without rendering, and measure every target from
    one frame at ``dense`` frames (for a promise that no single frame gives it) and from all frames."""
    if dense < 3:
        raise ValueError(f"--frames {dense}: at least 3 (the first, middle and last frames)")
    if n_clips < 2 * spec.clips_per_group * 5:
        raise ValueError(f"-n {n_clips}: the audit needs at least {10 * spec.clips_per_group} clips (10 groups of "
                         f"{spec.clips_per_group}) for its 5-fold grouped cross-validation; use thousands")
    started = time.perf_counter()
    sample = sample_clips(spec, n_clips // spec.clips_per_group, workers=workers, closed_form=closed_form,
                          on_progress=on_simulated)
    simulated = time.perf_counter()
    frames = sample.states.shape[1]
    result = AuditResult(name or spec.family, spec.family, spec.fingerprint(), spec.seed, len(sample.targets),
                         len(np.unique(sample.groups)), frames, dense_frames(frames, dense))
    targets = FAMILIES[spec.family].targets
    varying = varying_features(sample.states)
    jobs, prepared = [], {}
    for target_name, info in targets.items():
        rows, y, why = target_values(sample, target_name, info, targets)
        if why:
            result.skipped[target_name] = why
            continue
        prepared[target_name] = (sample.states[rows][:, :, varying], y, sample.groups[rows])
        jobs += [(target_name, frame, probe) for frame in frame_plan(info, frames, dense) for probe in probes]

    def calls():
        for target_name, frame, probe in jobs:
            states, y, groups = prepared[target_name]
            info = targets[target_name]
            yield (target_name, frame, probe), (source_features(states, frame), y, groups,
                                                Metric(info.kind, info.period), probe)

    measured = {}
    for key, measurement in bounded_map(measure, calls(), workers):
        measured[key] = measurement
        if on_measured:
            on_measured(len(measured), len(jobs))
    result.records = [audit_record(key, targets[key[0]], measured[key], len(prepared[key[0]][1])) for key in jobs]
    finished = time.perf_counter()
    result.seconds = {"simulate": round(simulated - started, 2), "measure": round(finished - simulated, 2),
                      "total": round(finished - started, 2)}
    return result


def frame_plan(info: TargetInfo, frames: int, dense: int = DENSE_FRAMES) -> list[int | None]:
    """The one-frame sources (frame indices) to measure, then None: all frames."""
    one = dense_frames(frames, dense) if info.in_one_frame is False else sorted({0, (frames - 1) // 2, frames - 1})
    return [*one, None]


def promise_of(info: TargetInfo) -> str:
    return {False: NOT_IN_ONE_FRAME, True: ONE_FRAME_MAY, None: NO_PROMISE}[info.in_one_frame]


def varying_features(states: np.ndarray) -> np.ndarray:
    """The feature columns that vary over the sample (the others carry nothing): bool (D,)."""
    flat = states.reshape(-1, states.shape[-1])
    return flat.max(axis=0) > flat.min(axis=0)


def target_values(sample: AuditSample, name: str, info: TargetInfo,
                  targets: dict[str, TargetInfo]) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The clips the target is scored on (``defined_when``), its values there (a residual where
    ``residual_on``, as evaluate scores it), or why it cannot be measured."""
    rows = np.array([i for i, t in enumerate(sample.targets) if info.defined_on(t) and t.get(name) is not None], int)
    if len(np.unique(sample.groups[rows])) < 10:
        return rows, np.array([]), f"defined on {len(rows)} clips only"
    if info.kind == "class":
        y = np.array([str(sample.targets[i][name]) for i in rows])
        return rows, y, None if len(np.unique(y)) > 1 else f"one class only ({y[0]})"
    y = np.array([float(sample.targets[i][name]) for i in rows])
    if info.residual_on:
        from evaluate.data.targets import residualise

        x = np.array([[float(sample.targets[i][other]) for other in info.residual_on] for i in rows])
        y = residualise(y, y, x, x)[0]
    # evaluate's rule (evaluate/probes/base.py): a least-squares accel_z without drag varies by float noise only
    constant = np.std(y) <= 1e-9 * max(1.0, float(np.abs(y).mean()))
    return rows, y, f"constant ({y.mean():.6g}) over the clips: nothing to read" if constant else None


def source_features(states: np.ndarray, frame: int | None) -> np.ndarray:
    """One frame's visible state; or all frames': the features that never change within a clip once,
    the others at up to :data:`ALL_FRAMES_MAX` evenly spaced frames, each with its odometer Σ|Δ| over
    every frame (how much it changed: what a linear probe cannot make of stacked states)."""
    if frame is not None:
        return states[:, frame, :]
    moving = (states.max(axis=1) > states.min(axis=1)).any(axis=0)
    picked = np.unique(np.linspace(0, states.shape[1] - 1, min(ALL_FRAMES_MAX, states.shape[1])).round().astype(int))
    odometer = np.abs(np.diff(states[:, :, moving], axis=1)).sum(axis=1)
    return np.concatenate([states[:, 0, ~moving], states[:, picked][:, :, moving].reshape(len(states), -1), odometer],
                          axis=1)


def audit_record(key: tuple[str, int | None, str], info: TargetInfo, m: Measurement, n: int) -> AuditRecord:
    """A measurement as a record, with its verdict against the target's promise."""
    name, frame, probe = key
    metric = Metric(info.kind, info.period).name
    record = AuditRecord(name, "all_frames" if frame is None else "one_frame", frame, probe, metric,
                         round(m.value, 4), (round(m.ci95[0], 4), round(m.ci95[1], 4)), round(m.chance, 4), n,
                         promise_of(info), "pass")
    return replace(record, verdict=verdict_of(record))


def verdict_of(record: AuditRecord) -> str:
    """``leak`` where a one-frame reading breaks a "not in one frame" promise (its CI lower bound above
    chance + the tolerance), else ``pass``; from the record alone, so a saved audit can be judged again."""
    broken = (record.promise == NOT_IN_ONE_FRAME and record.frame is not None
              and record.ci95[0] > record.chance + TOLERANCE[record.metric])
    return "leak" if broken else "pass"


def rejudged(result: AuditResult, targets: Mapping[str, TargetInfo], dense: int = DENSE_FRAMES) -> AuditResult | None:
    """A saved audit judged against the promises as declared now (a promise changed after the audit, by
    what it measured), or None where its readings cannot judge them: a target it did not read, or one
    now promised "not in one frame" that it read at fewer frames than such a promise is audited at."""
    if set(targets) != {r.target for r in result.records} | set(result.skipped):
        return None
    records = [replace(r, promise=promise_of(targets[r.target])) for r in result.records]
    for target, info in targets.items():
        read = {r.frame for r in records if r.target == target and r.frame is not None}
        if info.in_one_frame is False and target not in result.skipped and not (
                set(dense_frames(result.frames, dense)) <= read):
            return None
    return replace(result, records=[replace(r, verdict=verdict_of(r)) for r in records])
