"""Shared machinery of the transformers-backed encoders: finding and hashing checkpoints (their
files, and the encoder's tensors), reading their preprocessing, resizing and normalising in torch
(no torchvision), devices."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from evaluate.errors import EncoderError, WeightsMissingError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESSOR_FILES = ("video_preprocessor_config.json", "preprocessor_config.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_HASHES: dict[tuple[str, int, int], str] = {}
_TENSOR_HASHES: dict[tuple[str, int, int], dict[str, str]] = {}
RESIZES = ("full", "hf")


def resolve_checkpoint(kind: str, name: str) -> Path:
    """A local directory for ``name`` (a directory, or a hub id already cached or downloadable).

    Raises WeightsMissingError with a one-line way to get the weights.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise WeightsMissingError(f"{kind}:{name}: {path} has no config.json; is it a transformers checkpoint?")
        return path
    how = (f"{kind}:{name}: weights not found locally and could not be downloaded; get them with "
           f"`huggingface-cli download {name} --local-dir checkpoints/{Path(name).name}` and pass "
           f"{kind}:checkpoints/{Path(name).name}")
    if name.count("/") != 1 or name.startswith((".", "/", "~")):
        raise WeightsMissingError(f"{kind}:{name}: no such directory, and not a hub id (owner/name); " + how.split("; ", 1)[1])
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, allow_patterns=["*.json", "*.safetensors", "*.bin", "*.txt", "*.jinja", "*.model"]))
    except Exception as e:  # offline, unknown repo, gated, no network: all say the same thing to the user
        if path.parent.is_dir():  # `checkpoints/vitl` where ./checkpoints exists: meant as a local path
            raise WeightsMissingError(f"{kind}:{name}: no such directory ({path.parent} has no {path.name}), nor a "
                                      f"hub id that could be downloaded; give the folder that holds config.json "
                                      f"and the weights") from None
        raise WeightsMissingError(f"{how} ({type(e).__name__})") from None


def hash_weights(directory: Path) -> str:
    """sha256 over the weight files of a checkpoint (name + content), memoised by (path, size, mtime)."""
    files = sorted(p for p in directory.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file())
    if not files:
        raise WeightsMissingError(f"{directory}: no weight files ({', '.join(WEIGHT_SUFFIXES)}); "
                                  f"download the checkpoint again")
    total = hashlib.sha256()
    for p in files:
        st = p.stat()
        key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _HASHES:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 22), b""):  # noqa: B023
                    h.update(chunk)
            _HASHES[key] = h.hexdigest()
        total.update(p.name.encode() + _HASHES[key].encode())
    config = directory / "config.json"
    total.update(config.read_bytes() if config.is_file() else b"")
    return total.hexdigest()[:16]


def tensor_digest(tensor: Any) -> str:
    """sha256 of a tensor's shape and its values as float32 (bf16 and fp16 widen exactly), so the
    same values hash the same whatever dtype a checkpoint stores them in."""
    import torch

    t = tensor.detach().to("cpu", torch.float32).contiguous()
    h = hashlib.sha256(repr(tuple(t.shape)).encode())
    h.update(memoryview(t.numpy()).cast("B"))
    return h.hexdigest()


def combine_digests(digests: dict[str, str]) -> str:
    """One 16-hex digest over (name, tensor digest) pairs, in name order."""
    total = hashlib.sha256()
    for name in sorted(digests):
        total.update(f"{name}\0{digests[name]}\n".encode())
    return total.hexdigest()[:16]


def _file_tensor_digests(path: Path) -> dict[str, str]:
    """{tensor name as stored: tensor_digest} of one weight file, memoised by (path, size, mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _TENSOR_HASHES:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:  # one tensor in memory at a time
                _TENSOR_HASHES[key] = {name: tensor_digest(f.get_tensor(name)) for name in f.keys()}  # noqa: SIM118
        else:
            import torch

            try:
                state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:  # the legacy (non-zip) format cannot be memory-mapped
                state = torch.load(str(path), map_location="cpu", weights_only=True)
            _TENSOR_HASHES[key] = {name: tensor_digest(t) for name, t in state.items() if hasattr(t, "shape")}
    return _TENSOR_HASHES[key]


def checkpoint_tensor_digests(directory: Path, prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    """{tensor name: tensor_digest} over a checkpoint's weight files, a leading ``prefixes`` entry
    (a head model's base-model prefix, e.g. ``vjepa2.``) taken off each name."""
    out: dict[str, str] = {}
    for path in sorted(p for p in directory.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file()):
        for name, digest in _file_tensor_digests(path).items():
            for prefix in prefixes:
                if name.startswith(prefix):
                    name = name[len(prefix):]
                    break
            out[name] = digest
    return out


def weights_digest(stored: dict[str, str], names: list[str], what: str, notes: list[str]) -> str:
    """The digest of the tensors ``names`` (the module's own parameter names) as ``stored`` in the
    checkpoint (:func:`checkpoint_tensor_digests`). Names the checkpoint lacks were initialised at
    random by from_pretrained: noted, and hashed as missing (so no two such loads look alike)."""
    missing = [n for n in names if n not in stored]
    if missing:
        notes.append(f"{len(missing)} of the {what}'s {len(names)} tensors are not in the checkpoint (initialised "
                     f"at random), e.g. {missing[0]}")
    return combine_digests({n: stored.get(n, "missing") for n in names})


def module_digest(module: Any, prefix: str = "") -> str:
    """The digest of a module's parameters and buffers as they are in memory (as float32)."""
    named = [*module.named_parameters(), *module.named_buffers()]
    return combine_digests({prefix + name: tensor_digest(t) for name, t in named})


@dataclass(frozen=True)
class Preprocessing:
    """Frames to (height, width), then (x * rescale - mean) / std.

    ``resize``: ``full`` resizes the whole frame to (height, width) (no crop: objects at the edges
    stay in); ``hf`` does what transformers' VJEPA2VideoProcessor does, the preprocessing of Meta's
    evaluations: the shortest edge to ``short_edge`` (height·256/224), the other in proportion, both
    through uint8 as torchvision rounds them, then a centre crop of (height, width).
    """

    height: int
    width: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    rescale: float = 1 / 255
    source: str = ""
    resize: str = "full"
    short_edge: int | None = None  # resize=hf: the shortest edge before the crop

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_resize(self, resize: str, short_edge: int | None = None) -> Preprocessing:
        """This preprocessing with ``resize`` (full or hf); hf's shortest edge defaults to
        int(height·256/224), as VJEPA2VideoProcessor computes it from its crop size."""
        if resize not in RESIZES:
            raise EncoderError(f"resize={resize!r}; use resize=full (the whole frame to the crop size) or resize=hf "
                               f"(shortest edge to crop·256/224, then a centre crop, as VJEPA2VideoProcessor)")
        if resize == "full":
            return replace(self, resize="full", short_edge=None)
        return replace(self, resize="hf", short_edge=short_edge or int(self.height * 256 / 224))


def _size(value: Any) -> tuple[int, int] | None:
    if isinstance(value, int):
        return value, value
    if isinstance(value, dict):
        if "height" in value and "width" in value:
            return int(value["height"]), int(value["width"])
        if "shortest_edge" in value:
            return int(value["shortest_edge"]), int(value["shortest_edge"])
    return None


def read_preprocessing(directory: Path | None, fallback_size: int, notes: list[str]) -> Preprocessing:
    """crop_size (else size), mean and std from the checkpoint's preprocessor json; falls back to
    ``fallback_size`` (the model config's crop/image size) and ImageNet mean/std, with a note."""
    for fname in PREPROCESSOR_FILES:
        path = directory / fname if directory else None
        if path and path.is_file():
            cfg = json.loads(path.read_text())
            size = _size(cfg.get("crop_size")) or _size(cfg.get("size"))
            if size is None:
                notes.append(f"{fname} has no crop_size/size; using the model's {fallback_size}")
                size = (fallback_size, fallback_size)
            mean = tuple(cfg.get("image_mean", IMAGENET_MEAN))
            std = tuple(cfg.get("image_std", IMAGENET_STD))
            rescale = float(cfg.get("rescale_factor", 1 / 255)) if cfg.get("do_rescale", True) else 1.0
            if not cfg.get("do_normalize", True):
                mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
            return Preprocessing(size[0], size[1], mean, std, rescale, source=fname)
    notes.append(f"no preprocessor config in the checkpoint: resize to the model's {fallback_size}px and "
                 f"ImageNet mean/std")
    return Preprocessing(fallback_size, fallback_size, IMAGENET_MEAN, IMAGENET_STD, 1 / 255, source="fallback")


def processor_short_edge(directory: Path | None) -> int | None:
    """``size.shortest_edge`` of the checkpoint's processor json, if it has one."""
    for fname in PREPROCESSOR_FILES:
        path = directory / fname if directory else None
        if path and path.is_file():
            size = json.loads(path.read_text()).get("size")
            return int(size["shortest_edge"]) if isinstance(size, dict) and "shortest_edge" in size else None
    return None


def load_pretrained(model_cls: Any, directory: Path, name: str, dtype: Any, device: str) -> Any:
    """``model_cls.from_pretrained(directory)`` in ``dtype`` (SDPA attention on CUDA); a checkpoint
    that cannot be loaded is an EncoderError naming the encoder and the folder."""
    kwargs: dict[str, Any] = {"dtype": dtype}
    if device.startswith("cuda"):
        kwargs["attn_implementation"] = "sdpa"
    try:
        return model_cls.from_pretrained(str(directory), **kwargs)
    except (OSError, ValueError) as e:
        raise EncoderError(f"{name}: cannot load {directory}: {str(e).splitlines()[0]}") from None


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EncoderError(f"--device {device}: CUDA is not available on this machine")
    return device


def model_dtype(device: str):
    import torch

    return torch.bfloat16 if device.startswith("cuda") else torch.float32


# Nothing on the way to the forward pass may wait for the GPU: a copy from pageable memory, a
# tensor built from a Python list on the device, or ``.cpu()`` each drain the queue, and the GPU then
# idles while the host launches the next forward (that cost a fifth of the throughput on an H100).
# Host→device copies go from pinned memory, device→host copies into pinned memory, each non-blocking,
# and only the result's own event is waited on (a GPU test in tests/evaluate/test_encoders.py and
# bench/gpu_check.py check this in torch's sync-debug mode).


def to_device(array: list[np.ndarray] | np.ndarray, device: str) -> Any:
    """An array (or a list of same-shape arrays, stacked) as a tensor on ``device``; on CUDA a
    non-blocking copy from pinned memory, which does not wait for the work queued before it. A
    (B, T, H, W, 3) batch from the DataLoader is already stacked, and pinned on CUDA (then
    pin_memory() returns it as it is): no copy on this thread before the transfer."""
    import torch

    x = torch.from_numpy(array if isinstance(array, np.ndarray) else np.stack(array))
    if device.startswith("cuda"):
        x = x.pin_memory().to(device, non_blocking=True)
    return x


def to_host_async(x: Any, dtype: np.dtype) -> Callable[[], np.ndarray]:
    """Queue the copy of device tensor ``x`` to the host; return a function that waits for this copy
    alone (not for work queued after it) and gives the array as ``dtype``."""
    import torch

    if not x.is_cuda:
        return lambda: x.numpy().astype(dtype)
    host = x.to("cpu", non_blocking=True)  # into pinned memory
    done = torch.cuda.Event()
    done.record()

    def wait() -> np.ndarray:
        done.synchronize()
        return host.numpy().astype(dtype)

    return wait


@functools.lru_cache(maxsize=8)
def _normaliser(mean: tuple[float, ...], std: tuple[float, ...], device: str) -> tuple[Any, Any]:
    """The (1, 3, 1, 1) mean and std on ``device``, made once: building them per batch would be a
    copy from pageable memory, which waits for the GPU."""
    import torch

    return (torch.tensor(mean).view(1, 3, 1, 1).to(device), torch.tensor(std).view(1, 3, 1, 1).to(device))


def preprocessing_key(prep: Preprocessing, dtype) -> tuple:
    """Everything :func:`preprocess_tensor` reads (not ``source``, which only names where ``prep`` came
    from): two encoders with equal keys get equal tensors from the same frames."""
    return prep.height, prep.width, tuple(prep.mean), tuple(prep.std), prep.rescale, prep.resize, prep.short_edge, \
        str(dtype)


def preprocess_tensor(x: Any, prep: Preprocessing, dtype) -> Any:
    """(B, T, H, W, 3) uint8 tensor -> (B, T, 3, h, w) on the same device: the resize of
    ``prep.resize`` (``full``: whole-frame bilinear resize with antialiasing, no centre crop, so
    objects at the edges stay in; ``hf``: :func:`processor_resize`), then normalisation. Every frame
    is resized on its own, so a view that selects frames commutes with this. Resizing runs in
    float32 (``hf``: through uint8, as the processor), then the tensor is cast to the model's dtype."""
    b, t, h, w, c = x.shape
    x = x.reshape(b * t, h, w, c).permute(0, 3, 1, 2)
    if prep.resize == "hf":
        x = processor_resize(x, prep).float()
    else:
        x = resize_float(x, (prep.height, prep.width), antialias=True)
    mean, std = _normaliser(tuple(prep.mean), tuple(prep.std), str(x.device))
    x = (x * prep.rescale - mean) / std
    return x.reshape(b, t, c, prep.height, prep.width).to(dtype)


CPU_RESIZE_CHUNK = 8  # frames resized at a time on a CPU


def resize_float(frames: Any, size: tuple[int, int], antialias: bool) -> Any:
    """(N, C, H, W) uint8 frames -> (N, C, *size) float32: a bilinear resize (align_corners=False) in float32,
    or the frames as float32 when they are that size. On a CPU, :data:`CPU_RESIZE_CHUNK` frames at a time:
    the float32 copy of a few frames stays in cache where that of a whole batch (100 MB for 8 clips of 48
    frames at 256²) goes to memory and back, 2.3x slower to 32², 2x to 112² on one core
    (``python bench/preprocess.py``). Each frame is resized alone, so the chunks give the same bits."""
    import torch
    import torch.nn.functional as F

    def resize(chunk: Any) -> Any:
        chunk = chunk.float()
        if tuple(chunk.shape[-2:]) == tuple(size):
            return chunk
        return F.interpolate(chunk, size=size, mode="bilinear", antialias=antialias, align_corners=False)

    if frames.device.type != "cpu" or len(frames) <= CPU_RESIZE_CHUNK:
        return resize(frames)
    return torch.cat([resize(chunk) for chunk in frames.split(CPU_RESIZE_CHUNK)])


def processor_size(height: int, width: int, short_edge: int) -> tuple[int, int]:
    """(height, width) after transformers' shortest-edge resize (get_resize_output_image_size with
    default_to_square=False): the short side to ``short_edge``, the long one to int(short_edge·long/short)."""
    if width <= height:
        return int(short_edge * height / width), short_edge
    return short_edge, int(short_edge * width / height)


def processor_resize(x: Any, prep: Preprocessing) -> Any:
    """(N, 3, H, W) uint8 -> (N, 3, height, width) uint8, as VJEPA2VideoProcessor (transformers'
    TorchvisionBackend.resize and center_crop, torchvision's resize_image): bilinear with
    antialiasing to :func:`processor_size`, in uint8 on a CPU (torch's native uint8 kernel, which
    torchvision picks on AVX2/AVX-512 and ARM CPUs) and in float32 rounded to uint8 elsewhere (a
    GPU), as torchvision does; then the crop at top int((H' - height)/2), left int((W' - width)/2).
    Tested against the processor's output (tests/evaluate/test_vjepa2_readout.py): equal to float32
    rounding where the uint8 kernel runs, within one uint8 level per pixel where it does not."""
    import torch
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    new_h, new_w = processor_size(h, w, prep.short_edge or int(prep.height * 256 / 224))
    if new_h < prep.height or new_w < prep.width:
        raise EncoderError(f"resize=hf: frames of {h}x{w} resize to {new_h}x{new_w}, smaller than the "
                           f"{prep.height}x{prep.width} crop")
    if (new_h, new_w) != (h, w):
        if x.device.type == "cpu" and _native_uint8_resize():
            x = F.interpolate(x.contiguous(), size=(new_h, new_w), mode="bilinear", align_corners=False,
                              antialias=True)
        else:  # torchvision's fallback: float32, rounded back (bilinear weights are >= 0: no overshoot)
            x = F.interpolate(x.float(), size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
            x = x.round_().to(torch.uint8)
    top, left = int((new_h - prep.height) / 2.0), int((new_w - prep.width) / 2.0)
    return x[:, :, top:top + prep.height, left:left + prep.width]


def _native_uint8_resize() -> bool:
    """Whether torchvision resizes uint8 frames natively on this CPU (its _do_native_uint8_resize_on_cpu)."""
    import platform

    import torch

    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512") or platform.machine() in ("aarch64", "arm64")


def preprocess(clips: list[np.ndarray] | np.ndarray, prep: Preprocessing, device: str, dtype) -> Any:
    """list of (T, H, W, 3) uint8 (same T) -> (B, T, 3, h, w) tensor on ``device``
    (:func:`to_device`, then :func:`preprocess_tensor`)."""
    return preprocess_tensor(to_device(clips, device), prep, dtype)


def pool_tokens(tokens: Any, pool: str, time_steps: int) -> Any:
    """(B, N, D) tokens in (time, height, width) order -> (B, D) for ``mean``, or (B, time_steps * D)
    for ``time``: the mean over space of each tubelet step, concatenated in time order."""
    if pool == "mean":
        return tokens.mean(dim=1)
    if pool == "tokens":  # every token, for the attentive probe
        return tokens
    b, n, d = tokens.shape
    if n % time_steps:
        raise EncoderError(f"pool=time: {n} tokens do not split into {time_steps} time steps")
    return tokens.reshape(b, time_steps, n // time_steps, d).mean(dim=2).reshape(b, time_steps * d)


def check_pool(kind: str, pool: str, tokens_allowed: bool = False, classifier_allowed: bool = False) -> str:
    if (pool == "tokens" and tokens_allowed) or (pool == "classifier" and classifier_allowed):
        return pool
    if pool not in ("mean", "time"):
        also = " or pool=tokens (every token, float16, for --probe attentive)" if tokens_allowed else ""
        if pool == "classifier" and tokens_allowed:
            raise EncoderError(f"{kind}: pool=classifier needs a V-JEPA 2 classifier checkpoint (config.json's "
                               f"architectures: VJEPA2ForVideoClassification, e.g. facebook/vjepa2-vitl-fpc16-256-ssv2)")
        raise EncoderError(f"{kind}: pool={pool!r}; use pool=mean (all tokens) or pool=time (one vector per tubelet "
                           f"step){also}")
    return pool


def select_hidden(outputs: Any, layer: int | None, kind: str) -> Any:
    """Final output (``layer`` None) or hidden_states[layer]: 0 is the patch embedding, 1..L the
    blocks' outputs; negative counts from the end (-1: the last block, before the final norm)."""
    if layer is None:
        return outputs.last_hidden_state
    states = outputs.hidden_states
    if not -len(states) < layer < len(states) or layer == -len(states):
        raise EncoderError(f"{kind}: layer={layer} out of range; this model has layers 0..{len(states) - 1}")
    return states[layer]


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
