"""What every 3D-CNN network here offers the encoder: its feature maps stage by stage and its head's pooled
feature, each read out as (B, C, T') with the time axis kept (``keep_time``) or averaged away.

Stages are numbered as ``layer=`` counts them: 0 the stem, 1..4 the four residual stages (res2..res5 in
PyTorchVideo's naming, layer1..layer4 in torchvision's). ``layer=None`` is the head's pooled feature, the
vector the classifier (``fc`` / ``head.proj``) reads, computed with the checkpoint's own pooling.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

N_STAGES = 4


class Cnn3dNet(nn.Module):
    n_stages = N_STAGES

    def stage_maps(self, x: torch.Tensor, last: int) -> list[Any]:
        """Feature maps of the stem (0) and of stages 1..``last`` for a (B, 3, T, H, W) clip batch."""
        raise NotImplementedError

    def head_features(self, last_map: Any, keep_time: bool) -> torch.Tensor:
        """(B, C, T') the head's pooled feature from the last stage's map; T' = 1 unless ``keep_time``."""
        raise NotImplementedError

    def map_features(self, feature_map: Any, keep_time: bool) -> torch.Tensor:
        """(B, C, T') one stage's map averaged over space (and time unless ``keep_time``)."""
        return pool_map(feature_map, keep_time)

    def features(self, x: torch.Tensor, layers: list[int] | None, keep_time: bool) -> list[torch.Tensor]:
        """One forward pass: the head's feature (``layers`` None), else each listed stage's, in that order."""
        maps = self.stage_maps(x, max(layers) if layers else self.n_stages)
        if layers is None:
            return [self.head_features(maps[-1], keep_time)]
        return [self.map_features(maps[layer], keep_time) for layer in layers]


def pool_map(x: torch.Tensor, keep_time: bool) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, C, T) mean over space, or (B, C, 1) mean over space and time."""
    return x.mean(dim=(3, 4)) if keep_time else x.mean(dim=(2, 3, 4))[..., None]


def published_pool(x: torch.Tensor, kernel: tuple[int, ...], keep_time: bool) -> torch.Tensor:
    """PyTorchVideo's head pooling: an AvgPool3d of the checkpoint's fixed ``kernel`` (stride 1), whose outputs
    the head then averages. ``keep_time``: the same pooling over space only. The kernel is cut to the map
    where the input is smaller than the model was trained on (tiny test inputs), which leaves a published-size
    input's result unchanged."""
    t, h, w = x.shape[2:]
    kt, kh, kw = kernel
    return F.avg_pool3d(x, (1 if keep_time else min(kt, t), min(kh, h), min(kw, w)), stride=1)


def time_aligned(fast: torch.Tensor, steps: int) -> torch.Tensor:
    """(B, C, T) -> (B, C, steps): a faster pathway's time axis averaged down to the slow one's."""
    return fast if fast.shape[-1] == steps else F.adaptive_avg_pool1d(fast, steps)
