"""What a user asks of ``evaluate run``, ``surprise`` and ``sweep``: one pydantic model each.

Every choice is a ``Literal``, so a bad value fails before anything is computed, and the CLI
offers exactly these choices (:func:`choices`). A model is written into each result file as it
was run (``results.json`` ``config``), so a run can be read back and repeated.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evaluate.errors import EvaluateError

ViewName = Literal["original", "shuffled", "reversed", "single_frame", "frame_mean"]
LoaderName = Literal["auto", "threads", "torch"]  # auto = threads (pinned memory on CUDA)
ExecutorName = Literal["local", "ray"]
SplitName = Literal["train", "val", "test"]
# auto picks CUDA when present; an index picks one GPU.
Device = Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$")]
Positive = Annotated[int, Field(ge=1)]

# Field name -> the CLI flag that sets it, for messages (the rest are --field-name).
FLAGS = {"datasets": "DATASETS", "encoders": "--encoder", "views": "--view", "probes": "--probe",
         "targets": "--target", "contexts": "--context", "n_bootstrap": "--bootstrap", "source": "SOURCE",
         "param": "--param", "frame_steps": "--frame-steps"}


class ConfigError(EvaluateError):
    """A configuration value out of range; the message names the flag and what it allows."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @classmethod
    def build(cls, **values: Any):
        """The model, or a ConfigError with one line per bad field naming its flag."""
        try:
            return cls(**values)
        except ValidationError as e:
            raise ConfigError("; ".join(_describe(err) for err in e.errors())) from None


def _describe(err: dict[str, Any]) -> str:
    if not err["loc"]:  # a rule across fields: its message names them
        return str(err.get("ctx", {}).get("error", err["msg"]))
    field = str(err["loc"][0])
    flag = FLAGS.get(field, "--" + field.replace("_", "-"))
    allowed = err.get("ctx", {}).get("expected")
    value = err.get("input")
    shown = f" {value!r}" if not isinstance(value, dict) else ""
    return f"{flag}{shown}: {'allowed: ' + allowed if allowed else err['msg'].lower()}"


def choices(annotation: Any) -> list[str]:
    """The values a Literal allows."""
    return [str(v) for v in get_args(annotation)]


def choice_enum(name: str, annotation: Any) -> type[Enum]:
    """A string Enum of a Literal's values: what typer offers as the choices of an option."""
    return Enum(name, {v: v for v in choices(annotation)}, type=str)


class RunConfig(_Config):
    """``evaluate run``: embed every dataset with every encoder under every view, then probe."""

    datasets: list[str] = Field(min_length=1)
    encoders: list[str] = Field(min_length=1)
    out: str
    views: list[ViewName] = Field(default_factory=lambda: list(choices(ViewName)), min_length=1)
    probes: list[str] = Field(default_factory=lambda: ["linear"])  # name[,key=value...]; [] embeds only
    targets: list[str] | None = None  # default: every target of every dataset
    cache: str | None = None  # default: OUT/embeddings
    skip_bad: bool = False
    batch_size: Positive | None = None  # clips per forward; None: 32 on CUDA, 8 elsewhere
    device: Device = "auto"
    workers: Annotated[int, Field(ge=0)] = 2  # decoding threads (DataLoader processes with loader torch)
    probe_workers: Positive | None = None  # processes fitting the probes; None: one per core (same results)
    n_bootstrap: Positive = 1000
    loader: LoaderName = "auto"
    executor: ExecutorName = "local"  # ray: one actor per GPU, clips sharded, results in the shared cache
    address: str | None = None  # Ray cluster address (auto, ray://...); default: start a local one
    actors: Positive | None = None  # Ray actors; default: one per GPU, or one per 2 CPUs
    compare: list[str] | None = None  # pairs "A vs B" to compare; None: every pair of contenders (controls left out)
    verify_hashes: bool = True  # every clip against the dataset's SHA256SUMS before it is read

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        if self.address is not None and self.executor != "ray":
            raise ValueError(f"--address {self.address!r} applies only with --executor ray")
        if self.actors is not None and self.executor != "ray":
            raise ValueError(f"--actors {self.actors} applies only with --executor ray")
        for flag, values in (("--encoder", self.encoders), ("--probe", self.probes), ("--target", self.targets or []),
                             ("--view", self.views)):
            _once(flag, values)
        return self


def _once(flag: str, values: list[str]) -> None:
    """Refuse a value given twice: it would be computed and reported twice."""
    seen = set()
    for value in values:
        if value.strip() in seen:
            raise ValueError(f"{flag} {value.strip()!r} is given twice; give each once")
        seen.add(value.strip())


def check_device(device: str) -> None:
    """Refuse, before any work, a device this machine does not have (ConfigError naming --device)."""
    if device in ("auto", "cpu"):
        return
    import torch

    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            have = f"{count} CUDA device(s) (0 to {count - 1})" if count else "no CUDA device"
            raise ConfigError(f"--device {device}: this machine has {have}; use --device auto or cpu")
    elif device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--device mps: MPS is not available on this machine; use --device auto or cpu")


class SurpriseConfig(_Config):
    """``evaluate surprise``: surprise curves on possible/impossible groups, then relative and pairwise
    scores and the certification of each violation kind by the controls."""

    datasets: list[str] = Field(min_length=1)
    encoders: list[str] = Field(min_length=1)
    out: str
    # Frames, every one reported. A context must end before the violation frame, else that group is skipped
    # for it: k is 5-10 of a 16-frame clip in scenes/violations.yaml, so 4 scores every group and 6 nearly
    # all; both are whole V-JEPA 2 tubelets, and the oracle's quadratic needs at least 3 frames.
    contexts: list[Positive] = Field(default_factory=lambda: [4, 6], min_length=1)
    horizon: Positive = 2  # frames predicted per window
    stride: Positive = 2  # frames between windows
    split: SplitName | None = None  # default: every split (nothing is trained)
    device: Device = "auto"
    workers: Annotated[int, Field(ge=0)] = 2
    n_bootstrap: Positive = 1000
    skip_bad: bool = False
    verify_hashes: bool = True  # every clip against the dataset's SHA256SUMS before it is read

    @model_validator(mode="after")
    def _each_once(self) -> SurpriseConfig:
        _once("--encoder", self.encoders)
        _once("--context", [str(c) for c in self.contexts])
        return self


class SweepConfig(_Config):
    """``evaluate sweep``: a score against one scene parameter, binned on test, with a threshold."""

    source: str  # a run folder (results.json + predictions.jsonl) or a dataset
    param: str | None = None  # a clip parameter; or, with frame_steps, the timescale is swept instead
    frame_steps: list[Positive] | None = None  # dataset mode: encode with frames=FRAMES,step=S for each S
    frames: Positive = 16  # frames an encoder reads per clip in a frame-step sweep (V-JEPA 2's 16)

    @model_validator(mode="after")
    def _one_sweep(self) -> SweepConfig:
        if (self.param is None) == (self.frame_steps is None):
            raise ValueError("give one of --param (a clip parameter) or --frame-steps (the timescale)")
        if self.frame_steps is not None and len(set(self.frame_steps)) != len(self.frame_steps):
            raise ValueError(f"--frame-steps {self.frame_steps}: each step once")
        return self
    out: str | None = None  # default: the run folder
    targets: list[str] | None = None  # default: every target with predictions
    view: ViewName = "original"
    probe: str | None = None  # default: every probe
    bins: Positive = 5
    n_bootstrap: Positive = 300
    encoders: list[str] = Field(default_factory=list)  # dataset mode only
    device: Device = "auto"
