"""``vimvision::causal_conv1d``: the Triton kernels as one library op with autograd (fx/compile-safe).
The Triton kernels are imported on first use, so the package imports without Triton.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


@torch.library.triton_op("vimvision::causal_conv1d", mutates_args=())
def causal_conv1d(x: Tensor, weight: Tensor, bias: Optional[Tensor], silu: bool, reverse: bool) -> Tensor:
    from . import fused
    return fused.conv_fwd(x, weight, bias, silu, reverse)


@torch.library.triton_op("vimvision::causal_conv1d_bwd", mutates_args=())
def causal_conv1d_bwd(dout: Tensor, x: Tensor, weight: Tensor, bias: Optional[Tensor], silu: bool,
                      reverse: bool) -> list[Tensor]:
    from . import fused
    dx, dw, db = fused.conv_bwd(dout, x, weight, bias, silu, reverse)
    return [dx, dw, db if db is not None else x.new_empty(0)]


@causal_conv1d.register_fake
def _(x, weight, bias, silu, reverse):
    return torch.empty_like(x)


@causal_conv1d_bwd.register_fake
def _(dout, x, weight, bias, silu, reverse):
    dbias = torch.empty_like(bias) if bias is not None else x.new_empty(0)
    return [torch.empty_like(x), torch.empty_like(weight), dbias]


def _setup_context(ctx, inputs, output):
    x, weight, bias, silu, reverse = inputs
    ctx.save_for_backward(x, weight, bias)
    ctx.flags = (silu, reverse)


def _backward(ctx, dout):
    x, weight, bias = ctx.saved_tensors
    dx, dw, db = causal_conv1d_bwd(dout.contiguous(), x, weight, bias, *ctx.flags)
    return dx, dw, db if bias is not None else None, None, None


causal_conv1d.register_autograd(_backward, setup_context=_setup_context)
