"""``vimvision::cross_scan`` / ``vimvision::cross_merge`` library ops; each one's backward is the other.
The Triton kernels are imported on first use, so the package imports without Triton.
"""
from __future__ import annotations

import torch
from torch import Tensor


@torch.library.triton_op("vimvision::cross_scan", mutates_args=())
def cross_scan(x: Tensor, routes: int) -> Tensor:
    from . import fused
    return fused.cross_scan(x, routes)


@torch.library.triton_op("vimvision::cross_merge", mutates_args=())
def cross_merge(y: Tensor) -> Tensor:
    from . import fused
    return fused.cross_merge(y)


@cross_scan.register_fake
def _(x, routes):
    return x.new_empty(x.shape[0], routes, x.shape[1], x.shape[2] * x.shape[3])


@cross_merge.register_fake
def _(y):
    return y.new_empty(y.shape[0], y.shape[2], y.shape[3] * y.shape[4])


def _save_layout(ctx, inputs, output):
    """Both backwards need the map's (H, W); the merge's also needs its number of routes."""
    ctx.hw = inputs[0].shape[-2:]
    ctx.routes = inputs[0].shape[1]


def _scan_backward(ctx, g):
    merged = cross_merge(g.contiguous().view(*g.shape[:3], *ctx.hw))
    return merged.view(g.shape[0], g.shape[2], *ctx.hw), None


def _merge_backward(ctx, g):
    routes = cross_scan(g.contiguous().view(*g.shape[:2], *ctx.hw), ctx.routes)
    return routes.view(g.shape[0], ctx.routes, g.shape[1], *ctx.hw)


cross_scan.register_autograd(_scan_backward, setup_context=_save_layout)
cross_merge.register_autograd(_merge_backward, setup_context=_save_layout)
