"""PyTorchVideo's ResNet-50 video networks (``pytorchvideo.models.resnet.create_resnet``, as its hub
builds them): ``i3d_r50`` (I3D 8×8: a 5×7×7 stem, 3×1×1 temporal kernels in alternate blocks, a temporal
max pool after res2), and its siblings ``slow_r50`` (the SlowFast paper's Slow-only 8×8) and ``c2d_r50``
(no temporal kernel at all: a 2-D ResNet applied per frame, with one temporal max pool). Names match
the model zoo's checkpoints: ``blocks.0`` the stem, ``blocks.1..`` the stages (and the pool), last the head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from evaluate.encoders.cnn3d.net import Cnn3dNet, pool_map, published_pool
from evaluate.encoders.cnn3d.ptv_blocks import BasicHead, ResNetBasicStem, ResStage, bottleneck_stage

K3, K1 = (3, 1, 1), (1, 1, 1)
DEPTHS_R50 = (3, 4, 6, 3)


@dataclass(frozen=True)
class ResNetConfig:
    stem_kernel: tuple[int, int, int]
    conv_a_kernels: tuple[list[tuple[int, int, int]], ...]  # per stage, cycled over its blocks
    head_pool: tuple[int, int, int]
    stage1_pool: bool  # a (2, 1, 1) temporal max pool after res2 (I3D and C2D halve time there)


CONFIGS = {
    "i3d_r50": ResNetConfig((5, 7, 7), ([K3], [K3, K1], [K3, K1], [K1, K3]), (4, 7, 7), True),
    "slow_r50": ResNetConfig((1, 7, 7), ([K1], [K1], [K3], [K3]), (8, 7, 7), False),
    "c2d_r50": ResNetConfig((1, 7, 7), ([K1], [K1], [K1], [K1]), (4, 7, 7), True),
}


class PtvResNet(Cnn3dNet):
    def __init__(self, config: ResNetConfig, classes: int = 400):
        super().__init__()
        blocks: list[nn.Module] = [ResNetBasicStem(3, 64, config.stem_kernel)]
        dim_in = 64
        for i, (inner, depth) in enumerate(zip((64, 128, 256, 512), DEPTHS_R50, strict=True)):
            blocks.append(bottleneck_stage(dim_in, inner, inner * 4, depth, 1 if i == 0 else 2,
                                           config.conv_a_kernels[i]))
            dim_in = inner * 4
            if i == 0 and config.stage1_pool:
                blocks.append(nn.MaxPool3d((2, 1, 1), stride=(2, 1, 1)))
        blocks.append(BasicHead(dim_in, classes, nn.AvgPool3d(config.head_pool, stride=1)))
        self.blocks = nn.ModuleList(blocks)
        self.head_pool = config.head_pool

    def stage_maps(self, x: torch.Tensor, last: int) -> list[torch.Tensor]:
        maps = [self.blocks[0](x)]
        x = maps[0]
        for block in self.blocks[1:-1]:
            if len(maps) > last:
                break
            x = block(x)
            if isinstance(block, ResStage):
                maps.append(x)
        return maps

    def head_features(self, last_map: torch.Tensor, keep_time: bool) -> torch.Tensor:
        return pool_map(published_pool(last_map, self.head_pool, keep_time), keep_time)


def build(name: str, classes: int = 400) -> PtvResNet:
    return PtvResNet(CONFIGS[name], classes)
