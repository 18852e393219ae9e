"""The two pieces of ViTDet's detector (the official Vim detector's design) that mmdet 3.x ships only as a
project, registered in mmengine's root MODELS so configs name them: ``LN2d`` (detectron2's channels-first
LayerNorm, the heads' ``norm="LN"``) and ``LastLevelMaxPool`` (the stride-64 level from the last one)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS
from timm.layers import LayerNorm2d


@MODELS.register_module()
class LN2d(LayerNorm2d):
    """LayerNorm over the channels of (batch, C, H, W); mmcv's ``build_norm_layer(dict(type='LN2d', eps=1e-6), C)``."""


@MODELS.register_module()
class LastLevelMaxPool(nn.Module):
    """A neck that keeps the backbone's maps and adds one more, max-pooled from the last (kernel 1, stride 2),
    as detectron2's ``LastLevelMaxPool`` after ViTDet's simple feature pyramid (no lateral or top-down convs)."""

    def __init__(self, num_extra: int = 1):
        super().__init__()
        self.num_extra = num_extra

    def forward(self, feats: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        outs = list(feats)
        for _ in range(self.num_extra):
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)
