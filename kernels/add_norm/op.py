"""``vimvision::add_norm``: the Triton add+norm kernels as one library op with autograd.
The Triton kernels are imported on first use, so the package imports without Triton.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


@torch.library.triton_op("vimvision::add_norm", mutates_args=())
def add_norm(x: Tensor, residual: Optional[Tensor], weight: Tensor, bias: Optional[Tensor], eps: float,
             is_rms: bool, residual_in_fp32: bool) -> tuple[Tensor, Tensor, Tensor]:
    """(out, new residual, rstd) for x, residual of shape (rows, dim)."""
    from . import fused
    return fused.add_norm_fwd(x, residual, weight, bias, eps, is_rms, residual_in_fp32)


@torch.library.triton_op("vimvision::add_norm_bwd", mutates_args=())
def add_norm_bwd(dout: Tensor, dres_out: Optional[Tensor], res_out: Tensor, weight: Tensor, bias: Optional[Tensor],
                 rstd: Tensor, is_rms: bool) -> list[Tensor]:
    from . import fused
    dtotal, dw, db = fused.add_norm_bwd(dout, dres_out, res_out, weight, bias, rstd, is_rms)
    return [dtotal, dw, db if db is not None else dw.new_empty(0)]


@add_norm.register_fake
def _(x, residual, weight, bias, eps, is_rms, residual_in_fp32):
    res_dtype = torch.float32 if residual_in_fp32 else x.dtype
    return torch.empty_like(x), torch.empty_like(x, dtype=res_dtype), x.new_empty(x.shape[0], dtype=torch.float32)


@add_norm_bwd.register_fake
def _(dout, dres_out, res_out, weight, bias, rstd, is_rms):
    db = torch.empty_like(bias) if bias is not None else weight.new_empty(0)
    return [torch.empty_like(dout, dtype=torch.float32), torch.empty_like(weight), db]


def _setup_context(ctx, inputs, output):
    x, residual, weight, bias, eps, is_rms, residual_in_fp32 = inputs
    ctx.save_for_backward(output[1], weight, bias, output[2])
    ctx.is_rms = is_rms
    ctx.dtypes = (x.dtype, residual.dtype if residual is not None else None)


def _backward(ctx, dout, dres_out, _drstd):
    res_out, weight, bias, rstd = ctx.saved_tensors
    dtotal, dw, db = add_norm_bwd(dout.contiguous(), dres_out, res_out, weight, bias, rstd, ctx.is_rms)
    x_dtype, res_dtype = ctx.dtypes
    dres = dtotal.to(res_dtype) if res_dtype is not None else None
    return dtotal.to(x_dtype), dres, dw, db if bias is not None else None, None, None, None


add_norm.register_autograd(_backward, setup_context=_setup_context)
