"""PyTorchVideo's building blocks in plain torch, with its attribute names (``conv``, ``norm``,
``branch1_conv``, ``branch2.conv_a``, ``res_blocks.N`` ...) so that the model zoo's state dicts load
unchanged into the networks built from them (i3d.py, slowfast.py, x3d.py). Each class mirrors the one of
the same name in ``pytorchvideo.models`` (stem.py, resnet.py, x3d.py); only inference is needed, so
dropout and weight initialisation are left out (the weights come from a checkpoint or a seed).
"""

from __future__ import annotations

import torch
from torch import nn


def same_padding(kernel: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(k // 2 for k in kernel)  # type: ignore[return-value]


class ResNetBasicStem(nn.Module):
    """conv → norm → ReLU → (max pool): ``blocks.0`` of a PyTorchVideo ResNet, one per SlowFast pathway."""

    def __init__(self, dim_in: int, dim_out: int, kernel: tuple[int, int, int], pool: bool = True,
                 conv: nn.Module | None = None):
        super().__init__()
        self.conv = conv or nn.Conv3d(dim_in, dim_out, kernel, stride=(1, 2, 2), padding=same_padding(kernel),
                                      bias=False)
        self.norm = nn.BatchNorm3d(dim_out)
        self.activation = nn.ReLU()
        self.pool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)) if pool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activation(self.norm(self.conv(x)))
        return self.pool(x) if self.pool is not None else x


class BottleneckBlock(nn.Module):
    """1×1×1 (temporal ``conv_a`` kernel) → 3×3 spatial (``conv_b``, carries the stride) → 1×1×1 (``conv_c``).
    X3D's variant (``x3d=True``) makes conv_b depthwise 3×3×3, adds squeeze-excitation after norm_b
    (``norm_b`` is then a Sequential of the norm and the SE, as in PyTorchVideo) and Swish as act_b."""

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, conv_a_kernel: tuple[int, int, int],
                 spatial_stride: int, x3d_se_width: int | None = None, x3d: bool = False):
        super().__init__()
        stride = (1, spatial_stride, spatial_stride)
        self.conv_a = nn.Conv3d(dim_in, dim_inner, conv_a_kernel, padding=same_padding(conv_a_kernel), bias=False)
        self.norm_a = nn.BatchNorm3d(dim_inner)
        self.act_a = nn.ReLU()
        if x3d:
            self.conv_b = nn.Conv3d(dim_inner, dim_inner, (3, 3, 3), stride=stride, padding=(1, 1, 1),
                                    groups=dim_inner, bias=False)
            se = SqueezeExcitation(dim_inner, x3d_se_width) if x3d_se_width else nn.Identity()
            self.norm_b: nn.Module = nn.Sequential(nn.BatchNorm3d(dim_inner), se)
            self.act_b: nn.Module = Swish()
        else:
            self.conv_b = nn.Conv3d(dim_inner, dim_inner, (1, 3, 3), stride=stride, padding=(0, 1, 1), bias=False)
            self.norm_b = nn.BatchNorm3d(dim_inner)
            self.act_b = nn.ReLU()
        self.conv_c = nn.Conv3d(dim_inner, dim_out, (1, 1, 1), bias=False)
        self.norm_c = nn.BatchNorm3d(dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act_a(self.norm_a(self.conv_a(x)))
        x = self.act_b(self.norm_b(self.conv_b(x)))
        return self.norm_c(self.conv_c(x))


class ResBlock(nn.Module):
    """branch2(x) + x, or + branch1(x) (a strided 1×1×1 projection) where the shape changes; then ReLU.
    X3D's projection has a norm only where the width changes (``x3d=True``), not where only the stride does."""

    def __init__(self, dim_in: int, dim_out: int, spatial_stride: int, branch2: BottleneckBlock, x3d: bool = False):
        super().__init__()
        self.branch1_conv = self.branch1_norm = None
        if dim_in != dim_out or spatial_stride != 1:
            self.branch1_conv = nn.Conv3d(dim_in, dim_out, (1, 1, 1), stride=(1, spatial_stride, spatial_stride),
                                          bias=False)
            self.branch1_norm = nn.BatchNorm3d(dim_out) if dim_in != dim_out or not x3d else None
        self.branch2 = branch2
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.branch1_conv is not None:
            shortcut = self.branch1_conv(x)
            if self.branch1_norm is not None:
                shortcut = self.branch1_norm(shortcut)
        return self.activation(shortcut + self.branch2(x))


class ResStage(nn.Module):
    def __init__(self, blocks: list[ResBlock]):
        super().__init__()
        self.res_blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.res_blocks:
            x = block(x)
        return x


def bottleneck_stage(dim_in: int, dim_inner: int, dim_out: int, depth: int, spatial_stride: int,
                     conv_a_kernels: list[tuple[int, int, int]]) -> ResStage:
    """A ResNet-50 stage: ``depth`` bottleneck blocks, the first strided; block i's temporal kernel is
    ``conv_a_kernels[i % len]`` (I3D alternates 3×1×1 and 1×1×1)."""
    blocks = []
    for i in range(depth):
        d_in, stride = (dim_in, spatial_stride) if i == 0 else (dim_out, 1)
        kernel = conv_a_kernels[i % len(conv_a_kernels)]
        blocks.append(ResBlock(d_in, dim_out, stride, BottleneckBlock(d_in, dim_inner, dim_out, kernel, stride)))
    return ResStage(blocks)


class SqueezeExcitation(nn.Module):
    """Channels rescaled by a gate read from their global mean (``block``: 1×1×1 conv, ReLU, conv, sigmoid)."""

    def __init__(self, channels: int, reduced: int):
        super().__init__()
        self.block = nn.Sequential(nn.Conv3d(channels, reduced, 1), nn.ReLU(), nn.Conv3d(reduced, channels, 1),
                                   nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.block(x.mean(dim=(2, 3, 4), keepdim=True))


class Swish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class BasicHead(nn.Module):
    """``ResNetBasicHead`` as the encoder needs it: the published pooling (``pool``, may be absent when a
    SlowFast pools per pathway before it) and ``proj``, the classifier, kept so a checkpoint loads strictly;
    the embeddings are read before it."""

    def __init__(self, dim_in: int, classes: int, pool: nn.Module | None):
        super().__init__()
        self.pool = pool
        self.proj = nn.Linear(dim_in, classes)
