"""``vimvision::forgetting_attention``: the Triton kernels as one library op with autograd."""
from __future__ import annotations

import torch
from torch import Tensor

from . import fused


@torch.library.triton_op("vimvision::forgetting_attention", mutates_args=())
def forgetting_attention(q: Tensor, k: Tensor, v: Tensor, cf: Tensor, cb: Tensor,
                         scale: float) -> tuple[Tensor, Tensor]:
    """(batch * heads, L, head_dim) inputs, (batch * heads, L) cumulative log-gates -> (out, row log-sum-exp)."""
    return fused.fox_fwd(q, k, v, cf, cb, scale)


@torch.library.triton_op("vimvision::forgetting_attention_bwd", mutates_args=())
def forgetting_attention_bwd(do: Tensor, q: Tensor, k: Tensor, v: Tensor, cf: Tensor, cb: Tensor, out: Tensor,
                             lse: Tensor, scale: float) -> list[Tensor]:
    return list(fused.fox_bwd(do, q, k, v, cf, cb, out, lse, scale))


@forgetting_attention.register_fake
def _(q, k, v, cf, cb, scale):
    return torch.empty_like(q), q.new_empty(q.shape[:2], dtype=torch.float32)


@forgetting_attention_bwd.register_fake
def _(do, q, k, v, cf, cb, out, lse, scale):
    return [torch.empty_like(q), torch.empty_like(k), torch.empty_like(v), torch.empty_like(cf), torch.empty_like(cb)]


def _setup_context(ctx, inputs, output):
    q, k, v, cf, cb, scale = inputs
    ctx.save_for_backward(q, k, v, cf, cb, *output)
    ctx.scale = scale


def _backward(ctx, do, _dlse):
    q, k, v, cf, cb, out, lse = ctx.saved_tensors
    dq, dk, dv, dcf, dcb = forgetting_attention_bwd(do.contiguous(), q, k, v, cf, cb, out, lse, ctx.scale)
    return dq, dk, dv, dcf, dcb, None


forgetting_attention.register_autograd(_backward, setup_context=_setup_context)
