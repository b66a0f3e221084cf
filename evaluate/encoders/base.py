"""Encoder specs, the Encoder interface and its registry.

An encoder spec string is ``kind[:arg][,option=value...]``, e.g. ``pixels``,
``vjepa2:facebook/vjepa2-vitl-fpc64-256``, ``vjepa2:ckpt/vitl,pool=time,layer=20``,
``random-vjepa2:small``. Options are validated per kind, with a "did you mean".
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from evaluate.encoders.layer_sweep import check_layer_options
from evaluate.encoders.option_values import check_option_values
from evaluate.errors import EncoderError
from evaluate.roles import ROLE_LABELS, ROLES, Role  # noqa: F401  (re-exported: the role vocabulary)
from simgen.spec.registry import Registry, did_you_mean


@dataclass(frozen=True)
class EncoderSpec:
    kind: str
    arg: str | None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        opts = "".join(f",{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.kind}{':' + self.arg if self.arg else ''}{opts}"


LIST_OPTIONS = ("layers",)  # options whose value is a comma-separated list: kind,layers=4,8,12,pool=time


def parse_spec(text: str) -> EncoderSpec:
    """``kind[:arg][,key=value...]`` -> EncoderSpec; the kind must be registered."""
    head, *opts = text.strip().split(",")
    kind, _, arg = head.partition(":")
    try:
        cls = ENCODERS[kind]
    except EncoderError as e:
        raise EncoderError(f"{e} (in {text!r}; see `evaluate ls`)") from None
    options: dict[str, str] = {}
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep and options and list(options)[-1] in LIST_OPTIONS:  # layers=4,8,12: the list goes on
            last = list(options)[-1]
            options[last] += f",{opt}"
            continue
        if not sep or not key:
            raise EncoderError(f"encoder {text!r}: option {opt!r} is not key=value")
        allowed = cls.option_help
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise EncoderError(f"encoder {text!r}: unknown option {key!r}{did_you_mean(key, allowed)}; "
                               f"options of {kind}: {known}")
        options[key] = value
    check_layer_options(text, options)
    check_option_values(text, options)
    if cls.arg_required and not arg:
        raise EncoderError(f"encoder {text!r}: {kind} needs a checkpoint, e.g. {cls.example}")
    if not cls.arg_allowed and arg:
        raise EncoderError(f"encoder {text!r}: {kind} takes no ':' argument, e.g. {cls.example}")
    return EncoderSpec(kind, arg or None, options)


class Encoder(ABC):
    """Maps a batch of clips, each (T, H, W, 3) uint8, to embeddings (B, D) float32.

    ``identity()`` is everything the embedding depends on (checkpoint hash, preprocessing,
    pooling, layer, frame count); the cache key is built from it plus the view and the clip.
    """

    kind: ClassVar[str]
    # What it stands for in the verdict (evaluate/roles.py: tubelet, 3d-kernel, frame-tokenizer, album,
    # llm-album, pixels or control; a control certifies a task, it does not compete on it).
    role: ClassVar[Role] = "pixels"
    description: ClassVar[str]
    example: ClassVar[str]
    option_help: ClassVar[dict[str, str]] = {}
    arg_required: ClassVar[bool] = False
    arg_allowed: ClassVar[bool] = False
    # A layer sweep (layers=, evaluate/encoders/layer_sweep.py): the hidden states read out, in this
    # order; encode then gives (B, len(layers), D...) from one forward pass. None: one output.
    layers: list[int] | None = None
    # Computes in numpy on the host (pixels, motion, track), no torch: evaluate.embed.shared runs these
    # in a thread of their own beside the model encoders, on the same decoded batch.
    host_numpy: ClassVar[bool] = False

    def __init__(self, spec: EncoderSpec, device: str = "cpu"):
        self.spec = spec
        self.device = device
        self.notes: list[str] = []  # what a reader of the report should know (fallbacks, padding)
        self.timings = {"preprocess_s": 0.0, "forward_s": 0.0, "clips": 0}

    @property
    def name(self) -> str:
        return self.spec.text

    def option(self, key: str, default: Any, cast: type = str) -> Any:
        if key not in self.spec.options:
            return default
        value = self.spec.options[key]
        try:
            return cast(value)
        except ValueError:
            raise EncoderError(f"encoder {self.name!r}: option {key}={value!r} is not a {cast.__name__}") from None

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """JSON-able: what the embeddings depend on, apart from the clip and the view."""

    def layer_identity(self, layer: int) -> dict[str, Any]:
        """A sweep's identity at one ``layer``: what the same spec with ``layer=N`` in place of
        ``layers=`` has, so the sweep and a single-layer run share their cache."""
        identity = {k: v for k, v in self.identity().items() if k != "layers"}
        return {**identity, "layer": layer}

    @abstractmethod
    def encode(self, clips: list[np.ndarray]) -> np.ndarray:
        """(B, D) float32 embeddings of B clips (each (T, H, W, 3) uint8, T may differ by clip); with a
        layer sweep (``self.layers``), (B, len(layers), D), the layers in that order."""

    def encode_async(self, clips: list[np.ndarray]) -> Callable[[], np.ndarray]:
        """Start encoding and return a function that waits for the result. On a GPU this lets the
        caller queue the next batch before fetching this one, so the device never idles while the
        host copies results back and writes them to the cache. Default: synchronous."""
        result = self.encode(clips)
        return lambda: result

    # Whether encode_views_async builds the views itself from the original frames (on its device),
    # so that the loader decodes and ships only the original frames.
    builds_views: ClassVar[bool] = False

    def encode_views_async(self, clips: list, frames: np.ndarray | list[np.ndarray], needs: list[tuple[str, ...]],
                           memo: dict | None = None) -> Iterator[tuple[str, list, Callable[[], np.ndarray]]]:
        """Encode the views ``needs[i]`` of each clip ``clips[i]`` (a ClipRef) from its original
        ``frames[i]``; yields (view, its clips, wait for their (n, D) embeddings), one view at a
        time. Default: the views are made in numpy, then each view's clips go through
        :meth:`encode_async`. ``memo``: one dict per batch of ``frames``, shared by the run's encoders,
        where an encoder may keep what another one computes the same (see device_views.py)."""
        from evaluate.data.views import apply_view, rows_by_view

        for view, rows in rows_by_view(needs):
            views = [np.ascontiguousarray(apply_view(view, frames[i], clips[i].clip_id)) for i in rows]
            yield view, [clips[i] for i in rows], self.encode_async(views)

    def timed_wait(self, wait: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
        """``wait``, its time counted as forward time: what it waits for is the device's forward."""

        def timed() -> np.ndarray:
            with self.timed("forward_s"):
                return wait()

        return timed

    @contextmanager
    def timed(self, key: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[key] += time.perf_counter() - start


# Filled by the encoder modules, which evaluate/encoders/__init__.py imports: importing this module
# runs that package first, so every encoder is registered before anyone can look one up.
ENCODERS: Registry[type[Encoder]] = Registry("encoder", error=EncoderError)


def register(cls: type[Encoder]) -> type[Encoder]:
    return ENCODERS.register(cls.kind, cls)


def build_encoder(text: str, device: str = "cpu") -> Encoder:
    """Parse a spec and build (load) its encoder. Raises EncoderError / WeightsMissingError."""
    spec = parse_spec(text)
    return ENCODERS[spec.kind](spec, device=device)


def resample_frames(frames: np.ndarray, n: int) -> np.ndarray:
    """``n`` frames at evenly spaced indices (repeats frames when n > T)."""
    index = np.round(np.linspace(0, len(frames) - 1, n)).astype(int)
    return frames[index]


def frame_options(encoder: Encoder) -> tuple[int | None, int | None]:
    """The ``frames=`` and ``step=`` options of an encoder spec (None when absent), each 1 or more."""
    frames, step = encoder.option("frames", None, int), encoder.option("step", None, int)
    for key, value in (("frames", frames), ("step", step)):
        if value is not None and value < 1:
            raise EncoderError(f"{encoder.name}: {key}={value}; it must be 1 or more")
    return frames, step


def select_frames(frames: np.ndarray, count: int | None, step: int | None, notes: list[str]) -> np.ndarray:
    """The frames an encoder reads, the same for the video and the image encoders (so that both see the
    same frames). ``step=S``: every S-th frame from the first, then the first ``count`` of those; a clip
    too short for ``count`` repeats its last sampled frame (as V-JEPA's loader does), with a note added
    to ``notes`` once. ``count`` alone: ``count`` frames at evenly spaced indices. Neither: ``frames``
    itself, the same object (callers test ``is`` to know that nothing was done)."""
    if step:
        index = np.arange(0, len(frames), step)
        if count:
            if len(index) < count:
                note = (f"clips of {len(frames)} frames hold {len(index)} frames at step={step}, fewer than "
                        f"frames={count}: padded with the last sampled frame")
                if note not in notes:
                    notes.append(note)
                index = np.concatenate([index, np.repeat(index[-1:], count - len(index))])
            index = index[:count]
        return frames[index]
    if count:
        return resample_frames(frames, count)
    return frames


def pad_to_multiple(frames: np.ndarray, multiple: int) -> np.ndarray:
    """Repeat the last frame until the count is a multiple of ``multiple`` (a tubelet)."""
    extra = (-len(frames)) % multiple
    if extra:
        frames = np.concatenate([frames, np.repeat(frames[-1:], extra, axis=0)])
    return frames


def odometers(states: np.ndarray) -> np.ndarray:
    """Per frame (axis 0), Σ|Δ| of every feature over the frames so far (0 at the first): how far a
    thing has travelled and how much it has changed, which a linear probe cannot read from stacked
    states (a static and a moving light have the same state at every frame, on average)."""
    out = np.zeros_like(states)
    out[1:] = np.cumsum(np.abs(np.diff(states, axis=0)), axis=0)
    return out
