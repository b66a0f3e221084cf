"""SlowFast-R50 8×8 (``pytorchvideo.models.slowfast.create_slowfast`` as its hub's ``slowfast_r50``): a Slow
pathway of 8 frames and a Fast pathway of alpha·8 = 32 frames with beta = 1/8 of the channels, joined after
the stem and after res2..res4 by lateral connections (a 7×1×1 convolution of stride alpha from Fast to Slow,
concatenated onto Slow's channels). Names match the model zoo's checkpoint: ``blocks.i.multipathway_blocks.
{0: slow, 1: fast}``, ``blocks.i.multipathway_fusion``, ``blocks.5`` the per-pathway pool, ``blocks.6`` the head.

Its readouts put the two pathways side by side in Slow's time steps: Fast's time axis is averaged down to
Slow's (alpha frames per step) and its channels are concatenated after Slow's, as the head does.
"""

from __future__ import annotations

import torch
from torch import nn

from evaluate.encoders.cnn3d.net import Cnn3dNet, pool_map, published_pool, time_aligned
from evaluate.encoders.cnn3d.ptv_blocks import BasicHead, ResNetBasicStem, bottleneck_stage

ALPHA = 4  # Fast's frames per Slow frame
BETA_INV = 8  # Slow's channels per Fast channel
FUSION_RATIO = 2  # a lateral connection's output channels per Fast channel
FUSION_KERNEL = 7
DEPTHS_R50 = (3, 4, 6, 3)
SLOW_CONV_A = ([(1, 1, 1)], [(1, 1, 1)], [(3, 1, 1)], [(3, 1, 1)])  # Slow has temporal kernels only in res4-5
FAST_CONV_A = ([(3, 1, 1)],) * 4
HEAD_POOLS = ((8, 7, 7), (32, 7, 7))  # (slow, fast), for 8 and 32 frames at 224-256 pixels


class FuseFastToSlow(nn.Module):
    def __init__(self, fast_dim: int):
        super().__init__()
        self.conv_fast_to_slow = nn.Conv3d(fast_dim, fast_dim * FUSION_RATIO, (FUSION_KERNEL, 1, 1),
                                           stride=(ALPHA, 1, 1), padding=(FUSION_KERNEL // 2, 0, 0), bias=False)
        self.norm = nn.BatchNorm3d(fast_dim * FUSION_RATIO)
        self.activation = nn.ReLU()

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        return torch.cat([slow, self.activation(self.norm(self.conv_fast_to_slow(fast)))], dim=1)


class MultiPathWayWithFuse(nn.Module):
    def __init__(self, slow: nn.Module, fast: nn.Module, fusion: FuseFastToSlow | None):
        super().__init__()
        self.multipathway_blocks = nn.ModuleList([slow, fast])
        self.multipathway_fusion = fusion


class PoolConcatPathway(nn.Module):
    """``blocks.5``: the per-pathway AvgPool3d of the head (no parameters; kept for the block numbering)."""

    def __init__(self):
        super().__init__()
        self.pool = nn.ModuleList([nn.AvgPool3d(k, stride=1) for k in HEAD_POOLS])


class SlowFast(Cnn3dNet):
    def __init__(self, classes: int = 400):
        super().__init__()
        slow_dim, fast_dim = 64, 64 // BETA_INV
        blocks = [MultiPathWayWithFuse(ResNetBasicStem(3, slow_dim, (1, 7, 7)), ResNetBasicStem(3, fast_dim, (5, 7, 7)),
                                       FuseFastToSlow(fast_dim))]
        slow_in, fast_in = slow_dim + fast_dim * FUSION_RATIO, fast_dim
        for i, (inner, depth) in enumerate(zip((64, 128, 256, 512), DEPTHS_R50, strict=True)):
            stride = 1 if i == 0 else 2
            fast_inner = inner // BETA_INV
            slow = bottleneck_stage(slow_in, inner, inner * 4, depth, stride, SLOW_CONV_A[i])
            fast = bottleneck_stage(fast_in, fast_inner, fast_inner * 4, depth, stride, FAST_CONV_A[i])
            fusion = FuseFastToSlow(fast_inner * 4) if i < 3 else None  # res5 has none
            blocks.append(MultiPathWayWithFuse(slow, fast, fusion))
            slow_in = inner * 4 + (fast_inner * 4 * FUSION_RATIO if fusion else 0)
            fast_in = fast_inner * 4
        blocks += [PoolConcatPathway(), BasicHead(slow_in + fast_in, classes, None)]
        self.blocks = nn.ModuleList(blocks)

    @staticmethod
    def pathways(x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, T, H, W) Fast frames -> [Slow, Fast]: Slow takes T/alpha of them at evenly spaced indices,
        as PyTorchVideo's PackPathway does."""
        index = torch.linspace(0, x.shape[2] - 1, max(x.shape[2] // ALPHA, 1), device=x.device).long()
        return [x.index_select(2, index), x]

    def stage_maps(self, x: torch.Tensor, last: int) -> list[list[torch.Tensor]]:
        """Each stage's [Slow, Fast] maps as its pathways give them, before the lateral connection."""
        slow, fast = self.pathways(x)
        maps = []
        for block in self.blocks[:last + 1]:
            slow, fast = (pathway(p) for pathway, p in zip(block.multipathway_blocks, (slow, fast), strict=True))
            maps.append([slow, fast])
            if block.multipathway_fusion is not None:
                slow = block.multipathway_fusion(slow, fast)
        return maps

    def map_features(self, feature_map: list[torch.Tensor], keep_time: bool) -> torch.Tensor:
        slow, fast = (pool_map(p, keep_time) for p in feature_map)
        return torch.cat([slow, time_aligned(fast, slow.shape[-1])], dim=1)

    def head_features(self, last_map: list[torch.Tensor], keep_time: bool) -> torch.Tensor:
        slow, fast = (pool_map(published_pool(p, kernel, keep_time), keep_time)
                      for p, kernel in zip(last_map, HEAD_POOLS, strict=True))
        return torch.cat([slow, time_aligned(fast, slow.shape[-1])], dim=1)


def build(name: str = "slowfast_r50", classes: int = 400) -> SlowFast:
    return SlowFast(classes)
