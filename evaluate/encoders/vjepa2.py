"""Video transformers from transformers: ``vjepa2:<id|dir>``, ``videomae:<id|dir>`` and the
random-weight control ``random-vjepa2[:size]``.

Readout: ``pool=time`` by default, the mean over space of each tubelet step, concatenated in time
order (as ``pixels`` and ``motion`` stack their frames); ``pool=mean`` averages every token,
``pool=tokens`` keeps them all (for the attentive probe), ``pool=trajectory`` reads the time-pooled steps
as a trajectory (:mod:`evaluate.trajectory`: its five geometric signals), and a V-JEPA 2 classifier checkpoint
(``*-ssv2``, ``*-diving48``: config architectures ``VJEPA2ForVideoClassification``) offers
``pool=classifier``, its trained attentive pooler's output, the vector its classification head reads.

Frames (:func:`evaluate.encoders.base.select_frames`, shared with the image encoders): ``frames=N``
resamples every clip to N frames at evenly spaced indices; with ``step=S``
every S-th frame is taken from the first, then the first N of those (V-JEPA 2's sampling: it is
pretrained on 16 frames at about 4 fps, so ``frames=16,step=4`` on a 24 fps clip of 64 frames);
a clip too short for N is padded with its last sampled frame, as V-JEPA's loader does. V-JEPA 2
takes any multiple of its tubelet size (2); a clip with an odd count is padded by repeating its last
frame (noted in the report). VideoMAE has a fixed number of position embeddings, so clips are
resampled to ``config.num_frames`` at evenly spaced indices.

Preprocessing: ``resize=full`` (default) resizes the whole frame to the crop size; ``resize=hf`` is
the checkpoint's video processor (shortest edge, then a centre crop), what Meta's numbers use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from evaluate.encoders.base import (
    Encoder,
    frame_options,
    pad_to_multiple,
    register,
    resample_frames,
    select_frames,
)
from evaluate.encoders.device_views import device_views
from evaluate.encoders.hf import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocessing,
    check_pool,
    checkpoint_tensor_digests,
    hash_weights,
    load_pretrained,
    model_dtype,
    module_digest,
    pick_device,
    pool_tokens,
    preprocess,
    preprocess_tensor,
    preprocessing_key,
    processor_short_edge,
    read_preprocessing,
    resolve_checkpoint,
    select_hidden,
    to_host_async,
    weights_digest,
)
from evaluate.encoders.layer_sweep import LAYERS_HELP, parse_layers
from evaluate.errors import EncoderError
from evaluate.trajectory import TRAJECTORY, TRAJECTORY_HELP, trajectory_when_ready

VIDEO_OPTIONS = {
    "pool": "time (default: the mean over space of each tubelet step, concatenated in time order, as pixels and "
            "motion stack frames), mean (all tokens), tokens (every token as (N, D) float16, for --probe attentive) "
            "or " + TRAJECTORY_HELP + " (of the tubelet steps)",
    "layer": "read hidden_states[layer] (1..L, negative from the end) instead of the final output",
    "layers": LAYERS_HELP,
    "frames": "N frames per clip: resampled at evenly spaced indices, or with step=S the first N of every S-th frame",
    "step": "take every S-th frame first, from the first (V-JEPA 2's frame step: frames=16,step=4 on a 64-frame "
            "24 fps clip covers 2.6 s at 6 fps); a clip too short for frames=N repeats its last sampled frame",
    "resize": "full (default: the whole frame to the crop size) or hf (the checkpoint's video processor: shortest "
              "edge to crop·256/224 for V-JEPA 2, then a centre crop; what Meta's evaluations use)",
}
VJEPA2_OPTIONS = {
    **VIDEO_OPTIONS,
    "pool": VIDEO_OPTIONS["pool"] + ", or classifier (a VJEPA2ForVideoClassification checkpoint such as "
            "vjepa2-vitl-fpc16-256-ssv2: its trained attentive pooler's output, before the classification head)",
    "forward": "fast (default: simgen's forward of the same weights, evaluate/encoders/fast_vjepa2.py) or "
               "transformers (VJEPA2Model's own); the two agree to the dtype's rounding",
    "compile": "1: torch.compile each block of the fast forward (fuses the elementwise work: 1.26-1.27x -> "
               "1.62-1.64x transformers' forward on an H200; 2-7 s to compile each new clip shape, smaller batches "
               "are padded to it), 0: eager; default 1 on CUDA, 0 on a CPU",
}
FORWARDS = ("fast", "transformers")

# random-vjepa2 sizes: (hidden, layers, heads, crop, mlp ratio). large and giant are the ViT-L and ViT-g
# (1B) of vjepa2-vitl-fpc64-256 and vjepa2-vitg-fpc64-256.
RANDOM_SIZES = {
    "tiny": (96, 2, 4, 32, 4.0),  # for tests and smoke runs
    "small": (384, 12, 6, 128, 4.0),
    "base": (768, 12, 12, 256, 4.0),
    "large": (1024, 24, 16, 256, 4.0),
    "giant": (1408, 40, 22, 256, 48 / 11),
}


def random_config(size: str, tubelet: int = 2) -> Any:
    """The VJEPA2Config of a random-vjepa2 size (``tubelet=1``: random-image's per-frame counterpart)."""
    from transformers import VJEPA2Config

    hidden, layers, heads, crop, mlp_ratio = RANDOM_SIZES[size]
    return VJEPA2Config(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, mlp_ratio=mlp_ratio,
                        crop_size=crop, patch_size=16, tubelet_size=tubelet, frames_per_clip=64,
                        pred_hidden_size=max(hidden // 2, 48), pred_num_hidden_layers=1,
                        pred_num_attention_heads=4, attn_implementation="sdpa")


def draw_random(kind: str, size: str, seed: int, tubelet: int = 2) -> tuple[Any, dict[str, Any], Preprocessing, str]:
    """A random-vjepa2 ``size`` drawn from ``seed`` by :func:`random_model` (float32, on the CPU): the model, its
    checkpoint record, its preprocessing and ``encoder_sha256`` (of the encoder's tensors as drawn)."""
    import torch
    import transformers

    if size not in RANDOM_SIZES:
        raise EncoderError(f"{kind}:{size}: unknown size; sizes: {', '.join(RANDOM_SIZES)}")
    hidden, layers, heads, crop, _ = RANDOM_SIZES[size]
    model = random_model(random_config(size, tubelet), seed)
    prep = Preprocessing(crop, crop, IMAGENET_MEAN, IMAGENET_STD, 1 / 255, source=kind)
    checkpoint = {"random_size": size, "seed": seed, "config": [hidden, layers, heads, crop],
                  "init": "normal-0.02-once", "torch": torch.__version__, "transformers": transformers.__version__}
    return model, checkpoint, prep, module_digest(model.encoder, "encoder.")


class VideoTransformer(Encoder):
    option_help = VIDEO_OPTIONS
    fixed_frames: int | None = None  # the model's own frame count, when it cannot take others
    classifier_pool = False  # whether pool=classifier is offered (a classifier checkpoint)

    def __init__(self, spec, device="cpu"):
        super().__init__(spec, device)
        self.layer = self.option("layer", None, int)
        self.frames, self.step = frame_options(self)
        self.device = pick_device(device)
        self.dtype = model_dtype(self.device)
        self.encoder_sha256 = ""
        pool = self.option("pool", "time")
        tokens_pool = "time" if pool == TRAJECTORY else pool  # the trajectory reads the time-pooled tokens
        check_pool(self.kind, tokens_pool, tokens_allowed=True, classifier_allowed=isinstance(self, VJEPA2))  # before loading
        self.model, self.checkpoint, self.prep = self._load()
        check_pool(self.kind, tokens_pool, tokens_allowed=True, classifier_allowed=self.classifier_pool)
        self.pool = pool
        if self.pool == "classifier" and (self.layer is not None or "layers" in self.spec.options):
            raise EncoderError(f"{self.name}: pool=classifier reads the final output (the pooler's input); drop "
                               f"layer= and layers=")
        self.prep = self.prep.with_resize(self.option("resize", "full"), self._short_edge())
        cfg = self.model.config
        self.layers = parse_layers(self.name, self.spec.options.get("layers"), int(cfg.num_hidden_layers))
        self.tubelet = int(getattr(cfg, "tubelet_size", 1))
        self.patch = int(cfg.patch_size)
        if self.prep.height % self.patch or self.prep.width % self.patch:
            raise EncoderError(f"{self.name}: input {self.prep.height}x{self.prep.width} is not a multiple of the "
                               f"patch size {self.patch}")
        self.model.eval().to(self.device)

    def _load(self) -> tuple[Any, dict[str, Any], Preprocessing]:
        raise NotImplementedError

    def _short_edge(self) -> int | None:
        """resize=hf: the shortest edge before the centre crop (None: V-JEPA 2's crop·256/224)."""
        return None

    def _load_pretrained(self, model_cls: Any, fallback_attr: str, directory: Any = None,
                         backbone: str | None = None) -> tuple[Any, dict[str, Any], Preprocessing]:
        """Load ``model_cls`` from the checkpoint; ``backbone`` names the attribute of the loaded model
        that embeds (a head model's base model), whose tensors ``encoder_sha256`` hashes."""
        directory = directory or resolve_checkpoint(self.kind, self.spec.arg)
        self.directory = directory
        digest = hash_weights(directory)
        loaded = load_pretrained(model_cls, directory, self.name, self.dtype, self.device)
        model = getattr(loaded, backbone) if backbone else loaded
        self.stored_digests = checkpoint_tensor_digests(directory, prefixes=(f"{model.base_model_prefix}.",))
        self.encoder_sha256 = weights_digest(self.stored_digests, self._encoder_tensor_names(model), "encoder",
                                             self.notes)
        size = getattr(model.config, fallback_attr)
        prep = read_preprocessing(directory, int(size), self.notes)
        checkpoint = {"source": str(self.spec.arg), "weights_sha256": digest, "model_type": model.config.model_type}
        if backbone:
            checkpoint["architecture"] = type(loaded).__name__
        return loaded, checkpoint, prep

    def _encoder_tensor_names(self, model: Any) -> list[str]:
        """The names (as the model's state dict has them) of the tensors the embeddings depend on."""
        return list(model.state_dict())

    def frames_for_model(self, frames: np.ndarray) -> np.ndarray:
        frames = select_frames(frames, self.frames, self.step, self.notes)
        if self.fixed_frames and len(frames) != self.fixed_frames:
            self._note(f"clips of {len(frames)} frames resampled to the model's {self.fixed_frames}")
            frames = resample_frames(frames, self.fixed_frames)
        if len(frames) % self.tubelet:
            self._note(f"clips of {len(frames)} frames padded to a multiple of the tubelet size {self.tubelet} "
                       f"by repeating the last frame")
            frames = pad_to_multiple(frames, self.tubelet)
        return frames

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def identity(self) -> dict[str, Any]:
        """What the embeddings depend on. ``encoder_sha256`` is the sha256 (16 hex digits) of the encoder's
        tensors as float32 values (the predictor and any classification head left out): equal for two specs, or two
        checkpoints, whose encoders hold the same weights (a frozen-backbone classifier and its base
        model, say). ``token_grid`` is (height, width) in tokens of each tubelet step: pool=tokens
        emits (time steps × height × width, D), time major."""
        return {"kind": self.kind, "checkpoint": self.checkpoint, "encoder_sha256": self.encoder_sha256,
                "preprocessing": self.prep.to_dict(), "pool": self.pool, "layer": self.layer, "frames": self.frames,
                "step": self.step, "fixed_frames": self.fixed_frames, "tubelet": self.tubelet,
                "token_grid": [self.prep.height // self.patch, self.prep.width // self.patch],
                "dtype": str(self.dtype).removeprefix("torch."), **({"layers": self.layers} if self.layers else {})}

    def _outputs(self, x: Any, hidden_states: bool) -> Any:
        """The transformers model's output for a preprocessed (B, T, 3, h, w) batch."""
        raise NotImplementedError

    def _forward(self, x: Any) -> Any:
        """(B, N, D) tokens: the final output, or hidden_states[layer]."""
        return select_hidden(self._outputs(x, self.layer is not None), self.layer, self.name)

    def _forward_layers(self, x: Any) -> list[Any]:
        """(B, N, D) tokens of each layer of the sweep, from one forward pass."""
        outputs = self._outputs(x, True)
        return [select_hidden(outputs, layer, self.name) for layer in self.layers]

    def _readout(self, x: Any) -> Any:
        """The pooled embeddings of a preprocessed batch: (B, D...), or (B, len(layers), D...) with a sweep."""
        import torch

        time_steps = x.shape[1] // self.tubelet
        if self.layers is None:
            return self._pool(self._forward(x), time_steps)
        return torch.stack([self._pool(tokens, time_steps) for tokens in self._forward_layers(x)], dim=1)

    def encode(self, clips: list[np.ndarray]) -> np.ndarray:
        return self.encode_async(clips)()

    def encode_async(self, clips: list[np.ndarray]) -> Callable[[], np.ndarray]:
        with self.timed("preprocess_s"):
            if not self._takes_as_is(clips):  # else a stacked batch the model takes as it is: no copy
                clips = [self.frames_for_model(c) for c in clips]
            if len({len(c) for c in clips}) > 1:  # mixed lengths: one forward per clip
                result = np.concatenate([self.encode([c]) for c in clips])
                return lambda: result
            x = preprocess(clips, self.prep, self.device, self.dtype)
        return self._encode_tensor_async(x)

    builds_views = True

    def encode_views_async(self, clips, frames, needs, memo=None):
        """One host→device copy and one resize of the original frames serve every view
        (:func:`evaluate.encoders.device_views.device_views`). Clips the model takes only after
        resampling or padding go the default way."""
        if not self._takes_as_is(frames):
            yield from super().encode_views_async(clips, frames, needs)
            return
        for view, rows, xv in device_views(clips, frames, needs, self.device,
                                           lambda raw: preprocess_tensor(raw, self.prep, self.dtype),
                                           lambda: self.timed("preprocess_s"), memo,
                                           preprocessing_key(self.prep, self.dtype)):
            yield view, [clips[i] for i in rows], self._encode_tensor_async(xv.contiguous())

    def _takes_as_is(self, clips: list[np.ndarray] | np.ndarray) -> bool:
        """Whether ``clips`` is one stacked (B, T, H, W, 3) batch that needs no resampling or padding."""
        if not (isinstance(clips, np.ndarray) and clips.ndim == 5):
            return False
        first = clips[0]  # one view object: each clips[0] is a new one, and `is` compares objects
        return self.frames_for_model(first) is first

    def _encode_tensor_async(self, x: Any) -> Callable[[], np.ndarray]:
        """Queue the forward of a preprocessed (B, T, 3, h, w) batch; return a function that waits."""
        import torch

        with self.timed("forward_s"), torch.inference_mode():
            # Queued on the GPU, with the copy of the result to the host; nothing here waits for it.
            pooled = self._readout(x)
            result = to_host_async(pooled, np.float16 if self.pool == "tokens" else np.float32)
        self.timings["clips"] += len(x)
        if self.pool == TRAJECTORY:  # the geometry of the time-pooled steps, on the host (a few numbers per clip)
            result = trajectory_when_ready(result, x.shape[1] // self.tubelet, self.name)
        return self.timed_wait(result)

    def _pool(self, tokens: Any, time_steps: int) -> Any:
        """(B, N, D) tokens of the model -> the float32 embedding of ``self.pool`` (pool=trajectory: the
        time-pooled steps, read as a trajectory once on the host)."""
        return pool_tokens(tokens.float(), "time" if self.pool == TRAJECTORY else self.pool, time_steps)


@register
class VJEPA2(VideoTransformer):
    kind = "vjepa2"
    role = "tubelet"
    description = ("V-JEPA 2 video encoder (transformers VJEPA2Model, or VJEPA2ForVideoClassification for a "
                   "classifier checkpoint such as -ssv2), hub id or local dir")
    example = "vjepa2:facebook/vjepa2-vitl-fpc64-256"
    arg_required = arg_allowed = True
    option_help = VJEPA2_OPTIONS
    head_model: Any = None  # a classifier checkpoint's VJEPA2ForVideoClassification; self.model is its .vjepa2
    pooler_sha256: str | None = None

    def __init__(self, spec, device="cpu"):
        super().__init__(spec, device)
        self.forward_kind = self.option("forward", "fast")
        if self.forward_kind not in FORWARDS:
            raise EncoderError(f"{self.name}: forward={self.forward_kind!r}; use forward=fast or forward=transformers")
        cuda = str(self.device).startswith("cuda")
        if "compile" in self.spec.options:
            self.compiled = bool(self.option("compile", 0, int))
            if self.compiled and self.forward_kind != "fast":
                raise EncoderError(f"{self.name}: compile=1 applies to forward=fast only")
        else:  # compiled where it pays: on a GPU; a CPU compile costs ~20 s for little
            self.compiled = cuda and self.forward_kind == "fast"
            missing = _compile_missing(self.device) if self.compiled else None
            if missing:
                self.compiled = False
                self._note(f"not compiled ({missing}): the eager forward, ~0.8x the compiled one's speed")
        self._first_compiled_call = True
        self.fast = None
        self.padded_batch: dict[tuple[int, ...], int] = {}  # clip shape -> batch it is padded to when compiled
        if self.head_model is not None:  # the pooler (and head) to the device, before the fast forward takes views
            self.head_model.eval().to(self.device)
        if self.forward_kind == "fast":
            from evaluate.encoders.fast_vjepa2 import FastVJEPA2Encoder

            self.fast = FastVJEPA2Encoder(self.model, compile=self.compiled)

    def _load(self):
        import json

        from transformers import AutoModel, VJEPA2ForVideoClassification

        directory = resolve_checkpoint(self.kind, self.spec.arg)
        config = json.loads((directory / "config.json").read_text())
        if "VJEPA2ForVideoClassification" not in (config.get("architectures") or []):
            return self._load_pretrained(AutoModel, "crop_size", directory)
        head, checkpoint, prep = self._load_pretrained(VJEPA2ForVideoClassification, "crop_size", directory,
                                                       backbone="vjepa2")
        self.head_model, self.classifier_pool = head, True
        checkpoint["num_labels"] = int(head.config.num_labels)
        self.pooler_sha256 = weights_digest(self.stored_digests, [f"pooler.{n}" for n in head.pooler.state_dict()],
                                            "pooler", self.notes)
        if not any(n.startswith("predictor.") for n in self.stored_digests):
            self._note("this classifier checkpoint has no predictor weights: the predictor (surprise) is random")
        return head.vjepa2, checkpoint, prep

    def _encoder_tensor_names(self, model):
        return [n for n in model.state_dict() if not n.startswith("predictor.")]  # embeddings never use it

    def identity(self):
        # The forwards differ in rounding (bf16 on a GPU), so their embeddings are cached apart.
        extra = {"pooler_sha256": self.pooler_sha256} if self.pool == "classifier" else {}
        return {**super().identity(), **extra, "forward": self.forward_kind, "compiled": self.compiled}

    def _pool(self, tokens, time_steps):
        if self.pool == "classifier":  # as VJEPA2ForVideoClassification.forward, before self.classifier
            return self.head_model.pooler(tokens).float()
        return super()._pool(tokens, time_steps)

    def _outputs(self, x, hidden_states):
        return self.model(pixel_values_videos=x, skip_predictor=True, output_hidden_states=hidden_states)

    def _forward(self, x):
        if self.fast is None:
            return super()._forward(x)
        return self._fast_call(x, lambda batch: self.fast(batch, layer=self.layer))

    def _forward_layers(self, x):
        if self.fast is None:
            return super()._forward_layers(x)
        return self._fast_call(x, lambda batch: self.fast.hidden_states(batch, self.layers))

    def _fast_call(self, x, forward):
        """``forward`` (of simgen's fast encoder) on the batch ``x``, padded for the compiled forward;
        its output (a tensor, or a list of them) cut back to the batch."""
        n = len(x)
        if self.compiled:
            import torch

            # Pad a smaller batch (a dataset's last) up to the largest seen of the same clip shape,
            # with copies of its last clip: each clip's tokens never meet another's, and one compiled
            # shape serves every batch of a clip length instead of a compile (2-7 s) for each
            # remainder. Per clip shape: 8 clips of 64 frames padded to a 16-frame batch of 32 would
            # run 4x the work (seen on an H200).
            shape = tuple(x.shape[1:])
            target = self.padded_batch[shape] = max(self.padded_batch.get(shape, 0), n)
            if n < target:
                x = torch.cat([x, x[-1:].expand(target - n, *shape)])
        try:
            out = forward(x)
        except IndexError as e:
            raise EncoderError(f"{self.name}: {e}") from None
        except Exception as e:
            _raise_if_out_of_memory(e, self.name, x)
            if not (self.compiled and self._first_compiled_call):
                raise
            reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise EncoderError(f"{self.name}: torch.compile failed on this machine ({reason}); pass compile=0 "
                               f"for the eager forward") from e
        self._first_compiled_call = False
        return [h[:n] for h in out] if isinstance(out, list) else out[:n]


@register
class VideoMAE(VideoTransformer):
    kind = "videomae"
    role = "tubelet"
    description = "VideoMAE video encoder (transformers VideoMAEModel), hub id or local dir"
    example = "videomae:MCG-NJU/videomae-base"
    arg_required = arg_allowed = True

    def _load(self):
        from transformers import VideoMAEModel

        loaded = self._load_pretrained(VideoMAEModel, "image_size")
        self.fixed_frames = int(loaded[0].config.num_frames)
        return loaded

    def _short_edge(self):
        # VideoMAE's video processor resizes the shortest edge to its size.shortest_edge (224), then crops.
        return processor_short_edge(self.directory) or self.prep.height

    def _outputs(self, x, hidden_states):
        return self.model(pixel_values=x, output_hidden_states=hidden_states)


@register
class RandomVJEPA2(VJEPA2):
    kind = "random-vjepa2"
    role = "tubelet"
    description = ("V-JEPA 2 architecture with random weights (seed 0, or seed=N): what the architecture gives "
                   f"without pretraining; sizes {', '.join(RANDOM_SIZES)} (default large = ViT-L; giant = ViT-g)")
    example = "random-vjepa2:small"
    arg_required = False
    option_help = {**VJEPA2_OPTIONS, "pool": VIDEO_OPTIONS["pool"],
                   "seed": "seed of the random weights (default 0); several seeds give a spread"}
    seed = 0

    def _load(self):
        self.seed = self.option("seed", 0, int)
        model, checkpoint, prep, self.encoder_sha256 = draw_random(self.kind, self.spec.arg or "large", self.seed)
        return model.to(self.dtype), checkpoint, prep


def random_model(config: Any, seed: int, device: str = "cpu") -> Any:
    """A VJEPA2Model with transformers' initial distribution, each weight drawn once, on the CPU by
    default (the same weights on every machine with the same torch).

    Built on the meta device and drawn here: constructing it normally draws every weight three times
    (nn.Linear's own init, then PreTrainedModel's normal, then V-JEPA 2's truncated normal), 6 of the
    7 s a ViT-L takes on 2 cores. Linear and Conv3d weights are normal(0, initializer_range): the
    truncated normal transformers uses cuts at ±2 absolute, 100 standard deviations out, so it is the
    same distribution; biases are zero, layer norms one and zero, and the predictor's mask tokens
    zero, as transformers initialises them. Every parameter is checked to have been drawn."""
    import torch
    from torch import nn
    from transformers import VJEPA2Model

    with torch.device("meta"):
        model = VJEPA2Model(config)
    model.to_empty(device=device)
    std = config.initializer_range
    drawn: set[int] = set()
    # A private generator state: the global RNG of the caller is left as it was.
    with torch.random.fork_rng(devices=[] if device == "cpu" else [device]), torch.no_grad():
        torch.manual_seed(seed)
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv3d)):
                module.weight.normal_(0.0, std)
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
            else:
                continue
            drawn.add(id(module.weight))
            if module.bias is not None:
                module.bias.zero_()
                drawn.add(id(module.bias))
        for name, param in model.named_parameters():
            if id(param) not in drawn:
                if not name.endswith("mask_tokens"):
                    raise ValueError(f"random_model: no initialisation for {name}")
                param.zero_()
    if any(True for _ in model.buffers()):
        raise ValueError("random_model: VJEPA2Model has buffers, which to_empty leaves undefined")
    return model.eval()


def _compile_missing(device: str) -> str | None:
    """Why torch.compile cannot run here (None when it can): inductor's GPU kernels need Triton, a GPU
    of compute capability 7.0 or newer, and a C compiler for Triton's launcher."""
    import importlib.util
    import os
    import shutil

    import torch

    if importlib.util.find_spec("triton") is None:
        return "no Triton"
    if torch.cuda.get_device_capability(device) < (7, 0):
        return f"compute capability {'.'.join(map(str, torch.cuda.get_device_capability(device)))} < 7.0"
    if not (os.environ.get("CC") or any(shutil.which(c) for c in ("cc", "gcc", "clang"))):
        return "no C compiler for Triton"
    return None


def _raise_if_out_of_memory(error: Exception, name: str, x: Any) -> None:
    import torch

    if isinstance(error, torch.cuda.OutOfMemoryError):
        raise EncoderError(f"{name}: out of GPU memory at a batch of {len(x)} clips of {x.shape[1]} frames; pass a "
                           f"smaller --batch-size") from None
