"""torchvision's video ResNets (``torchvision.models.video.resnet``) in plain torch: ``r3d_18`` (3×3×3
kernels throughout), ``mc3_18`` (3-D kernels in the stem and layer1 only, then 2-D: "mixed convolutions")
and ``r2plus1d_18`` (each 3×3×3 factorised into a 1×3×3 spatial and a 3×1×1 temporal convolution). Names
and shapes are torchvision's (``stem.0``, ``layer1.0.conv1.0``, ``downsample``, ``fc``), so its Kinetics-400
files load unchanged. ``widths``/``depths`` other than 64-512 and 2-2-2-2 give ``random-cnn3d``'s small
networks of the same R3D shape.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from evaluate.encoders.cnn3d.net import Cnn3dNet, pool_map

R18_WIDTHS, R18_DEPTHS = (64, 128, 256, 512), (2, 2, 2, 2)


def conv3d_simple(d_in: int, d_out: int, mid: int, stride: int = 1) -> nn.Module:
    return nn.Conv3d(d_in, d_out, 3, stride=stride, padding=1, bias=False)


def conv3d_no_temporal(d_in: int, d_out: int, mid: int, stride: int = 1) -> nn.Module:
    return nn.Conv3d(d_in, d_out, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)


def conv2plus1d(d_in: int, d_out: int, mid: int, stride: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv3d(d_in, mid, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
                         nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
                         nn.Conv3d(mid, d_out, (3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False))


ConvMaker = Callable[[int, int, int, int], nn.Module]
# The stride of a block's shortcut projection: only the 3-D kernels also downsample time.
DOWNSAMPLE_TIME = {conv3d_simple: True, conv2plus1d: True, conv3d_no_temporal: False}


class BasicBlock(nn.Module):
    def __init__(self, d_in: int, d_out: int, conv: ConvMaker, stride: int, downsample: nn.Module | None):
        super().__init__()
        # R(2+1)D's middle width keeps the parameter count of the 3×3×3 it replaces; torchvision computes it
        # once from the block's input width and uses it in both convolutions.
        mid = (d_in * d_out * 27) // (d_in * 9 + 3 * d_out)
        self.conv1 = nn.Sequential(conv(d_in, d_out, mid, stride), nn.BatchNorm3d(d_out), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv(d_out, d_out, mid), nn.BatchNorm3d(d_out))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + shortcut)


def basic_stem(width: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(3, width, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
                         nn.BatchNorm3d(width), nn.ReLU(inplace=True))


def r2plus1d_stem(width: int) -> nn.Sequential:
    mid = width * 45 // 64  # torchvision's 45 for 64
    return nn.Sequential(nn.Conv3d(3, mid, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
                         nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
                         nn.Conv3d(mid, width, (3, 1, 1), padding=(1, 0, 0), bias=False),
                         nn.BatchNorm3d(width), nn.ReLU(inplace=True))


class VideoResNet(Cnn3dNet):
    def __init__(self, stem: nn.Module, convs: tuple[ConvMaker, ...], widths: tuple[int, ...] = R18_WIDTHS,
                 depths: tuple[int, ...] = R18_DEPTHS, classes: int | None = 400):
        super().__init__()
        self.stem = stem
        d_in = widths[0]
        for i, (conv, width, depth) in enumerate(zip(convs, widths, depths, strict=True)):
            stride = 1 if i == 0 else 2
            downsample = None
            if stride != 1 or d_in != width:
                ds_stride = stride if DOWNSAMPLE_TIME[conv] else (1, stride, stride)
                downsample = nn.Sequential(nn.Conv3d(d_in, width, 1, stride=ds_stride, bias=False),
                                           nn.BatchNorm3d(width))
            blocks = [BasicBlock(d_in, width, conv, stride, downsample)]
            blocks += [BasicBlock(width, width, conv, 1, None) for _ in range(depth - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            d_in = width
        # The Kinetics classifier, kept so the published file loads strictly; random networks have none.
        self.fc = nn.Linear(d_in, classes) if classes else None

    def stage_maps(self, x: torch.Tensor, last: int) -> list[torch.Tensor]:
        maps = [self.stem(x)]
        for i in range(1, last + 1):
            maps.append(getattr(self, f"layer{i}")(maps[-1]))
        return maps

    def head_features(self, last_map: torch.Tensor, keep_time: bool) -> torch.Tensor:
        return pool_map(last_map, keep_time)  # torchvision's AdaptiveAvgPool3d(1) before fc


def build(name: str, widths: tuple[int, ...] = R18_WIDTHS, depths: tuple[int, ...] = R18_DEPTHS,
          classes: int | None = 400) -> VideoResNet:
    """``r3d_18``, ``mc3_18`` or ``r2plus1d_18`` (other ``widths``/``depths``: the same shape, smaller)."""
    if name == "r3d_18":
        return VideoResNet(basic_stem(widths[0]), (conv3d_simple,) * 4, widths, depths, classes)
    if name == "mc3_18":
        return VideoResNet(basic_stem(widths[0]), (conv3d_simple,) + (conv3d_no_temporal,) * 3, widths, depths,
                           classes)
    if name == "r2plus1d_18":
        return VideoResNet(r2plus1d_stem(widths[0]), (conv2plus1d,) * 4, widths, depths, classes)
    raise ValueError(f"unknown torchvision video ResNet {name!r}")
