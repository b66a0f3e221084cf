"""X3D (``pytorchvideo.models.x3d.create_x3d`` as its hub builds ``x3d_xs``, ``x3d_s``, ``x3d_m`` and
``x3d_l``): a (2+1)D stem, then stages of depthwise 3×3×3 bottlenecks with squeeze-excitation on every other
block and Swish inside, widths 24-48-96-192 (×2.25 inside), and a head that projects 192 → 432 channels,
pools, and projects to 2048 before the classifier. The sizes differ in depth (L) and in the clip the head's
pool was fitted to: XS 4 frames at 160 px, S 13 at 160 (tested at 182), M 16 at 224 (tested at 256), L 16 at
312 (tested at 356). Names match the model zoo: ``blocks.0.conv.conv_t`` ... ``blocks.5.pool.post_conv``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from evaluate.encoders.cnn3d.net import Cnn3dNet, pool_map, published_pool
from evaluate.encoders.cnn3d.ptv_blocks import BottleneckBlock, ResBlock, ResNetBasicStem, ResStage

STEM_DIM, STAGE_DIMS, INNER_RATIO = 24, (24, 48, 96, 192), 2.25
BASE_DEPTHS = (1, 2, 5, 3)
HEAD_INNER, HEAD_OUT = 432, 2048
SE_RATIO = 0.0625


@dataclass(frozen=True)
class X3dConfig:
    depth_factor: float
    clip_frames: int  # the clip the head's pool kernel was sized for
    crop: int


CONFIGS = {"x3d_xs": X3dConfig(2.2, 4, 160), "x3d_s": X3dConfig(2.2, 13, 160), "x3d_m": X3dConfig(2.2, 16, 224),
           "x3d_l": X3dConfig(5.0, 16, 312)}


def round_width(width: float, multiplier: float, divisor: int = 8) -> int:
    """PyTorchVideo's channel rounding (x3d.round_width): to a multiple of 8, at least 8, never below 90%."""
    width *= multiplier
    out = max(divisor, int(width + divisor / 2) // divisor * divisor)
    return int(out + divisor if out < 0.9 * width else out)


class Conv2plus1d(nn.Module):
    """X3D's stem convolution. PyTorchVideo names the spatial 1×3×3 part ``conv_t`` and the depthwise 5×1×1
    temporal part ``conv_xy``; the names are kept as the checkpoints have them."""

    def __init__(self):
        super().__init__()
        self.conv_t = nn.Conv3d(3, STEM_DIM, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False)
        self.conv_xy = nn.Conv3d(STEM_DIM, STEM_DIM, (5, 1, 1), padding=(2, 0, 0), groups=STEM_DIM, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_xy(self.conv_t(x))


class ProjectedPool(nn.Module):
    def __init__(self, kernel: tuple[int, int, int]):
        super().__init__()
        self.pre_conv = nn.Conv3d(STAGE_DIMS[-1], HEAD_INNER, 1, bias=False)
        self.pre_norm = nn.BatchNorm3d(HEAD_INNER)
        self.pre_act = nn.ReLU()
        self.kernel = kernel
        self.post_conv = nn.Conv3d(HEAD_INNER, HEAD_OUT, 1, bias=False)
        self.post_act = nn.ReLU()

    def forward(self, x: torch.Tensor, keep_time: bool) -> torch.Tensor:
        x = self.pre_act(self.pre_norm(self.pre_conv(x)))
        return self.post_act(self.post_conv(published_pool(x, self.kernel, keep_time)))


class X3dHead(nn.Module):
    def __init__(self, kernel: tuple[int, int, int], classes: int):
        super().__init__()
        self.pool = ProjectedPool(kernel)
        self.proj = nn.Linear(HEAD_OUT, classes)


class X3D(Cnn3dNet):
    def __init__(self, config: X3dConfig, classes: int = 400):
        super().__init__()
        blocks: list[nn.Module] = [ResNetBasicStem(3, STEM_DIM, (1, 3, 3), pool=False, conv=Conv2plus1d())]
        dim_in = STEM_DIM
        for dim_out, base in zip(STAGE_DIMS, BASE_DEPTHS, strict=True):
            inner = int(INNER_RATIO * dim_out)
            res = []
            for i in range(int(math.ceil(config.depth_factor * base))):
                d_in, stride = (dim_in, 2) if i == 0 else (dim_out, 1)
                se = round_width(inner, SE_RATIO) if (i + 1) % 2 else None  # SE on blocks 0, 2, 4...
                branch2 = BottleneckBlock(d_in, inner, dim_out, (1, 1, 1), stride, x3d_se_width=se, x3d=True)
                res.append(ResBlock(d_in, dim_out, stride, branch2, x3d=True))
            blocks.append(ResStage(res))
            dim_in = dim_out
        side = int(math.ceil(config.crop / 32))
        blocks.append(X3dHead((config.clip_frames, side, side), classes))
        self.blocks = nn.ModuleList(blocks)

    def stage_maps(self, x: torch.Tensor, last: int) -> list[torch.Tensor]:
        maps = [self.blocks[0](x)]
        for stage in self.blocks[1:last + 1]:
            maps.append(stage(maps[-1]))
        return maps

    def head_features(self, last_map: torch.Tensor, keep_time: bool) -> torch.Tensor:
        return pool_map(self.blocks[-1].pool(last_map, keep_time), keep_time)


def build(name: str, classes: int = 400) -> X3D:
    return X3D(CONFIGS[name], classes)
