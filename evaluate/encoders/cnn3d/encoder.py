"""The 3D kernels: ``cnn3d:<checkpoint>`` (R3D-18, MC3-18, R(2+1)D-18, I3D-R50, Slow-R50, C2D-R50,
SlowFast-R50, X3D-XS/S/M/L with their published Kinetics-400 weights) and ``random-cnn3d[:size]``, a
random-weight network of R3D's shape, the 3D kernels' control beside ``random-vjepa2`` and ``random-image``.

Readout (evaluate/encoders/cnn3d/net.py): by default the head's pooled feature, the vector the classifier
reads, computed with the checkpoint's own pooling; ``layer=N`` a stage's feature map instead (0 the stem,
1..4 the residual stages). ``pool=time`` (default, as the video transformers' default) averages over space
only and concatenates the remaining time steps in order (each stage halves time where its kernels stride
in time); ``pool=mean`` averages time too, which for the head is exactly the classifier's input.
SlowFast's readouts put Fast's channels beside Slow's in Slow's time steps.

Frames: each checkpoint's own recipe (recipes.py) unless ``frames=``/``step=`` say otherwise, selected as
every other encoder selects them (:func:`evaluate.encoders.base.select_frames`). ``layers=`` sweeps are
not offered: a CNN's stages differ in width and in time steps, so their embeddings cannot stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from evaluate.encoders.base import Encoder, frame_options, register, select_frames
from evaluate.encoders.cnn3d.recipes import CHECKPOINTS, KINETICS_MEAN, KINETICS_STD, Recipe
from evaluate.encoders.device_views import device_views, stacked_as_is
from evaluate.encoders.hf import model_dtype, module_digest, pick_device, to_device, to_host_async
from evaluate.errors import EncoderError
from simgen.spec.registry import did_you_mean

POOLS = ("time", "mean")
CNN3D_OPTIONS = {
    "pool": "time (default: the feature averaged over space at each of its time steps, concatenated in time "
            "order) or mean (averaged over time too; without layer=, exactly the vector the classifier reads)",
    "layer": "a stage's feature map instead of the head's pooled feature: 0 the stem, 1..4 the residual stages "
             "(res2..res5, torchvision's layer1..layer4), negative from the last",
    "frames": "N frames per clip (default: the checkpoint's recipe, e.g. 16 for r3d_18, 32 for slowfast_r50): "
              "resampled at evenly spaced indices, or with step=S the first N of every S-th frame",
    "step": "take every S-th frame first (default: the recipe's sampling rate, e.g. 2 for r3d_18, 8 for i3d_r50); "
            "a clip too short for frames=N repeats its last sampled frame",
}
# random-cnn3d sizes: (stage widths, blocks per stage, crop). r3d_18 is torchvision's R3D-18.
RANDOM_SIZES = {
    "tiny": ((8, 16, 32, 64), (1, 1, 1, 1), 32),  # for tests and the demo: ~0.2 M parameters
    "small": ((32, 64, 128, 256), (1, 1, 1, 1), 64),
    "r3d_18": ((64, 128, 256, 512), (2, 2, 2, 2), 112),
}


class _Cnn3d(Encoder):
    role = "3d-kernel"
    option_help = CNN3D_OPTIONS

    def __init__(self, spec, device="cpu"):
        super().__init__(spec, device)
        self.pool = self.option("pool", "time")
        if self.pool not in POOLS:
            raise EncoderError(f"{self.name}: pool={self.pool!r}; use pool=time or pool=mean")
        self.layer = self.option("layer", None, int)
        if self.layer is not None and not -5 <= self.layer <= 4:
            raise EncoderError(f"{self.name}: layer={self.layer} out of range; 0 is the stem, 1..4 the stages "
                               f"(-5..-1 from the last)")
        import torch

        frames, step = frame_options(self)
        self.device = pick_device(device)
        self.dtype = model_dtype(self.device)
        self.network, self.recipe, self.checkpoint = self._load()
        self.frames = frames if frames is not None else (None if step else self.recipe.frames)
        self.step = step if step is not None else (None if frames else self.recipe.step)
        self.encoder_sha256 = module_digest(self.network)
        self.network = self.network.to(self.dtype).eval().to(self.device, memory_format=torch.channels_last_3d)

    def _load(self) -> tuple[Any, Recipe, dict[str, Any]]:
        """The network with its weights (float32, CPU), its input recipe and its checkpoint record."""
        raise NotImplementedError

    def identity(self) -> dict[str, Any]:
        """``encoder_sha256``: sha256 of the network's tensors as float32 values (the cache follows the weights)."""
        return {"kind": self.kind, "checkpoint": self.checkpoint, "encoder_sha256": self.encoder_sha256,
                "preprocessing": self.recipe.to_dict(), "pool": self.pool, "layer": self.layer, "frames": self.frames,
                "step": self.step, "dtype": str(self.dtype).removeprefix("torch.")}

    def encode(self, clips: list[np.ndarray]) -> np.ndarray:
        return self.encode_async(clips)()

    def encode_async(self, clips: list[np.ndarray]) -> Callable[[], np.ndarray]:
        from evaluate.encoders.cnn3d.recipes import preprocess_clips

        with self.timed("preprocess_s"):
            clips = [select_frames(c, self.frames, self.step, self.notes) for c in clips]
            if len({c.shape for c in clips}) > 1:  # mixed lengths or sizes: one forward per clip
                result = np.concatenate([self.encode([c]) for c in clips])
                return lambda: result
            x = preprocess_clips(to_device(clips, self.device), self.recipe, self.dtype)
        return self._encode_tensor_async(x)

    def encode_views_async(self, clips, frames, needs, memo=None):
        """Every view from one copy and one resize of the original frames
        (:func:`evaluate.encoders.device_views.device_views`), when the network reads every frame as it is;
        a recipe or option that samples frames (frames=, step=) samples each view, the default way."""
        from evaluate.encoders.cnn3d.recipes import network_layout, preprocess_frames

        if not stacked_as_is(frames, lambda clip: select_frames(clip, self.frames, self.step, self.notes)):
            yield from super().encode_views_async(clips, frames, needs)
            return
        for view, rows, xv in device_views(clips, frames, needs, self.device,
                                           lambda raw: preprocess_frames(raw, self.recipe),
                                           lambda: self.timed("preprocess_s")):
            with self.timed("preprocess_s"):
                x = network_layout(xv, self.dtype)
            yield view, [clips[i] for i in rows], self._encode_tensor_async(x)

    def _encode_tensor_async(self, x: Any) -> Callable[[], np.ndarray]:
        """Queue the forward of a preprocessed (B, 3, T, h, w) batch; return a function that waits."""
        import torch

        layers = None if self.layer is None else [self.layer % 5]
        with self.timed("forward_s"), torch.inference_mode():
            (features,) = self.network.features(x, layers, keep_time=self.pool == "time")  # (B, C, T')
            result = to_host_async(features.float().transpose(1, 2).flatten(1), np.float32)  # time-major
        self.timings["clips"] += len(x)
        return self.timed_wait(result)


@register
class Cnn3d(_Cnn3d):
    kind = "cnn3d"
    description = ("a 3D CNN with its published Kinetics-400 weights: " + ", ".join(CHECKPOINTS) + " (torchvision "
                   "and PyTorchVideo model zoo files, loaded strictly into plain-torch networks), each with its own "
                   "input recipe")
    example = "cnn3d:r3d_18"
    arg_required = arg_allowed = True
    option_help = {**CNN3D_OPTIONS, "weights": "the checkpoint file (default: $SIMGEN_CNN3D_DIR/<file>, then torch "
                                               "hub's cache, then a download from its published URL)"}

    def _load(self):
        from evaluate.encoders.cnn3d.recipes import build_network
        from evaluate.encoders.cnn3d.weights import find_weights, load_strict, read_state_dict

        name = self.spec.arg
        if name not in CHECKPOINTS:
            raise EncoderError(f"{self.name}: unknown checkpoint {name!r}{did_you_mean(name, list(CHECKPOINTS))}; "
                               f"known: {', '.join(CHECKPOINTS)}")
        checkpoint = CHECKPOINTS[name]
        file = find_weights(self.name, name, self.spec.options.get("weights"))
        network = build_network(name)
        load_strict(self.name, network, read_state_dict(self.name, file, checkpoint), file)
        return network, checkpoint.recipe, {"source": name, "file": file.name, "url": checkpoint.url}


@register
class RandomCnn3d(_Cnn3d):
    kind = "random-cnn3d"
    description = ("the 3D kernels' random-weight control: R3D's shape (3×3×3 kernels throughout, torchvision's "
                   f"initialisation, seed 0 or seed=N); sizes {', '.join(RANDOM_SIZES)} (default tiny; r3d_18 is "
                   "R3D-18 itself); every frame, resized whole to the crop")
    example = "random-cnn3d:tiny"
    arg_required = False
    arg_allowed = True
    option_help = {**CNN3D_OPTIONS, "seed": "seed of the random weights (default 0); several seeds give a spread"}

    def _load(self):
        size = self.spec.arg or "tiny"
        if size not in RANDOM_SIZES:
            raise EncoderError(f"{self.name}: unknown size {size!r}; sizes: {', '.join(RANDOM_SIZES)}")
        seed = self.option("seed", 0, int)
        widths, depths, crop = RANDOM_SIZES[size]
        network = random_r3d(widths, depths, seed)
        recipe = Recipe(None, None, crop, KINETICS_MEAN, KINETICS_STD, antialias=True)  # as random-vjepa2's resize
        return network, recipe, {"random_size": size, "seed": seed, "config": [list(widths), list(depths), crop],
                                 "init": "torchvision-video-resnet"}


def random_r3d(widths: tuple[int, ...], depths: tuple[int, ...], seed: int) -> Any:
    """An R3D network (no classifier) with torchvision's initialisation drawn from ``seed`` on the CPU: the same
    weights on every machine with the same torch. Convolutions kaiming-normal (fan out, ReLU), batch norms
    one and zero with the running statistics of a fresh network. The caller's random state is left as it was."""
    import torch
    from torch import nn

    from evaluate.encoders.cnn3d.video_resnet import build

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        network = build("r3d_18", widths, depths, classes=None)
        for module in network.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
    return network.eval()
