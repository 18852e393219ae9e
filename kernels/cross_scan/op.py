"""``vimvision::cross_scan`` / ``vimvision::cross_merge`` library ops; each one's backward is the other."""
from __future__ import annotations

import torch
from torch import Tensor

from . import fused


@torch.library.triton_op("vimvision::cross_scan", mutates_args=())
def cross_scan(x: Tensor) -> Tensor:
    return fused.cross_scan(x)


@torch.library.triton_op("vimvision::cross_merge", mutates_args=())
def cross_merge(y: Tensor) -> Tensor:
    return fused.cross_merge(y)


@cross_scan.register_fake
def _(x):
    return x.new_empty(x.shape[0], 4, x.shape[1], x.shape[2] * x.shape[3])


@cross_merge.register_fake
def _(y):
    return y.new_empty(y.shape[0], y.shape[2], y.shape[3] * y.shape[4])


def _save_hw(ctx, inputs, output):
    ctx.hw = inputs[0].shape[-2:]


cross_scan.register_autograd(
    lambda ctx, g: cross_merge(g.contiguous().view(*g.shape[:3], *ctx.hw)).view(g.shape[0], g.shape[2], *ctx.hw),
    setup_context=_save_hw,
)
cross_merge.register_autograd(
    lambda ctx, g: cross_scan(g.contiguous().view(*g.shape[:2], *ctx.hw)).view(g.shape[0], 4, g.shape[1], *ctx.hw),
    setup_context=_save_hw,
)
