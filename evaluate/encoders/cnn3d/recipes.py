"""The published 3D-CNN checkpoints ``cnn3d:<name>`` knows: where each file is published, how it wraps its
state dict, and its own input recipe (frames, frame step, resize, crop, normalisation), with the input
preprocessing done in torch.

Recipes, as their sources evaluate the Kinetics-400 checkpoints:
- torchvision (``r3d_18``, ``mc3_18``, ``r2plus1d_18``): clips of 16 frames at 15 fps (every 2nd frame of
  30 fps video), each frame resized to 128×171 and centre-cropped to 112, Kinetics mean/std
  (``torchvision.transforms._presets.VideoClassification``; the file is a plain state dict).
- PyTorchVideo's model zoo (``i3d_r50``, ``slow_r50``, ``c2d_r50``, ``slowfast_r50``, ``x3d_*``): the short
  side scaled to ``side``, a centre crop, mean 0.45 and std 0.225; 8×8 (8 frames, every 8th), SlowFast 32×2
  (its Slow pathway takes every alpha = 4th of those), X3D-XS 4×12, S 13×6, M 16×5, L 16×5 at 182, 182, 256
  and 356 pixels (the hub's tutorial values). The ``.pyth`` files wrap the weights as
  ``checkpoint["model_state"]``.

Frame steps count frames of the clip as given; the recipes were set for 30 fps video.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any

KINETICS_MEAN, KINETICS_STD = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)
PTV_MEAN, PTV_STD = (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)
TV_ROOT = "https://download.pytorch.org/models"
PTV_ROOT = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics"


@dataclass(frozen=True)
class Recipe:
    """Input of one network: ``frames`` at ``step`` (None: the clip's own frames); each frame resized to
    ``resize`` (height, width), or its short side to ``short_side``, or whole to crop×crop (neither), then
    centre-cropped to ``crop`` and normalised ((x/255 − mean)/std)."""

    frames: int | None
    step: int | None
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: tuple[int, int] | None = None
    short_side: int | None = None
    alpha: int | None = None  # SlowFast: Fast frames per Slow frame
    antialias: bool = False  # the published recipes resize without; a whole frame shrunk to a tiny crop needs it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resized_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of a frame after the resize, before the crop."""
        if self.resize:
            return self.resize
        if self.short_side:  # pytorchvideo.transforms.functional.short_side_scale
            s = self.short_side
            return (int(math.floor(height / width * s)), s) if width < height else (s, int(math.floor(width / height * s)))
        return self.crop, self.crop


@dataclass(frozen=True)
class Checkpoint:
    family: str  # the module that builds it: video_resnet, i3d, slowfast or x3d
    url: str
    wrapped_in: str | None  # the key the file keeps its state dict under (None: the file is the state dict)
    recipe: Recipe

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def _torchvision(file: str) -> Checkpoint:
    return Checkpoint("video_resnet", f"{TV_ROOT}/{file}", None,
                      Recipe(16, 2, 112, KINETICS_MEAN, KINETICS_STD, resize=(128, 171)))


def _ptv(family: str, file: str, frames: int, step: int, side: int, alpha: int | None = None) -> Checkpoint:
    return Checkpoint(family, f"{PTV_ROOT}/{file}", "model_state",
                      Recipe(frames, step, side, PTV_MEAN, PTV_STD, short_side=side, alpha=alpha))


CHECKPOINTS = {
    "r3d_18": _torchvision("r3d_18-b3b3357e.pth"),
    "mc3_18": _torchvision("mc3_18-a90a0ba3.pth"),
    "r2plus1d_18": _torchvision("r2plus1d_18-91a641e6.pth"),
    "i3d_r50": _ptv("i3d", "I3D_8x8_R50.pyth", 8, 8, 256),
    "slow_r50": _ptv("i3d", "SLOW_8x8_R50.pyth", 8, 8, 256),
    "c2d_r50": _ptv("i3d", "C2D_8x8_R50.pyth", 8, 8, 256),
    "slowfast_r50": _ptv("slowfast", "SLOWFAST_8x8_R50.pyth", 32, 2, 256, alpha=4),
    "x3d_xs": _ptv("x3d", "X3D_XS.pyth", 4, 12, 182),
    "x3d_s": _ptv("x3d", "X3D_S.pyth", 13, 6, 182),
    "x3d_m": _ptv("x3d", "X3D_M.pyth", 16, 5, 256),
    "x3d_l": _ptv("x3d", "X3D_L.pyth", 16, 5, 356),
}


def build_network(name: str) -> Any:
    """The network of checkpoint ``name``, weights uninitialised by any file (torch's defaults)."""
    from evaluate.encoders.cnn3d import i3d, slowfast, video_resnet, x3d

    family = {"video_resnet": video_resnet, "i3d": i3d, "slowfast": slowfast, "x3d": x3d}[CHECKPOINTS[name].family]
    return family.build(name)


@functools.lru_cache(maxsize=8)
def normaliser(mean: tuple[float, ...], std: tuple[float, ...], device: str) -> tuple[Any, Any]:
    """The (1, 3, 1, 1) mean and std on ``device``, made once: a tensor built per batch would be a copy from
    pageable memory, which waits for the GPU."""
    import torch

    return torch.tensor(mean).view(1, 3, 1, 1).to(device), torch.tensor(std).view(1, 3, 1, 1).to(device)


def preprocess_clips(x: Any, recipe: Recipe, dtype: Any) -> Any:
    """(B, T, H, W, 3) uint8 tensor -> (B, 3, T, crop, crop) in ``dtype``, on x's device, channels-last (the
    layout a CPU's 3-D convolutions run fastest on: 1.7x on random-cnn3d:tiny): :func:`preprocess_frames`,
    then :func:`network_layout`."""
    return network_layout(preprocess_frames(x, recipe), dtype)


def preprocess_frames(x: Any, recipe: Recipe) -> Any:
    """(B, T, H, W, 3) uint8 tensor -> (B, T, 3, crop, crop) float32, each frame alone: bilinear resize, without
    antialiasing unless the recipe says so (both torchvision's and PyTorchVideo's evaluation transforms
    resize without), centre crop (offsets rounded as torchvision's center_crop), then normalisation."""
    from evaluate.encoders.hf import resize_float

    b, t, h, w, c = x.shape
    size = recipe.resized_size(h, w)
    frames = resize_float(x.reshape(b * t, h, w, c).permute(0, 3, 1, 2), size, recipe.antialias)  # not scaled yet
    top, left = int(round((size[0] - recipe.crop) / 2.0)), int(round((size[1] - recipe.crop) / 2.0))
    if top < 0 or left < 0:
        raise ValueError(f"frames of {size[0]}x{size[1]} after the resize are smaller than the {recipe.crop} crop")
    frames = frames[:, :, top:top + recipe.crop, left:left + recipe.crop]
    mean, std = normaliser(recipe.mean, recipe.std, str(x.device))
    frames = (frames / 255.0 - mean) / std  # scaled after the crop: fewer pixels
    return frames.reshape(b, t, c, recipe.crop, recipe.crop)


def network_layout(frames: Any, dtype: Any) -> Any:
    """(B, T, 3, h, w) preprocessed frames -> (B, 3, T, h, w) in ``dtype``, channels-last."""
    import torch

    return frames.permute(0, 2, 1, 3, 4).to(dtype).contiguous(memory_format=torch.channels_last_3d)
