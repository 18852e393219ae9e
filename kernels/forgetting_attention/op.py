"""``vimvision::forgetting_attention``: the Triton kernels as one library op with autograd.
The Triton kernels are imported on first use, so the package imports without Triton.
"""
from __future__ import annotations

import torch
from torch import Tensor


@torch.library.triton_op("vimvision::forgetting_attention", mutates_args=())
def forgetting_attention(q: Tensor, k: Tensor, v: Tensor, cf: Tensor, cb: Tensor,
                         scale: float) -> tuple[Tensor, Tensor]:
    """(batch * heads, L, head_dim) inputs, (batch * heads, L) cumulative log-gates -> (out, row log-sum-exp)."""
    from . import fused
    return fused.fox_fwd(q, k, v, cf, cb, scale)


@torch.library.triton_op("vimvision::forgetting_attention_bwd", mutates_args=())
def forgetting_attention_bwd(do: Tensor, q: Tensor, k: Tensor, v: Tensor, cf: Tensor, cb: Tensor, out: Tensor,
                             lse: Tensor, scale: float) -> list[Tensor]:
    from . import fused
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


def _register_flop_formula() -> None:
    from torch.utils.flop_counter import flop_registry, register_flop_formula

    op = torch.ops.vimvision.forgetting_attention
    if op in flop_registry:  # a module reload must not register twice
        return

    @register_flop_formula(op)
    def _flops(q_shape, k_shape, *args, **kwargs) -> int:
        """q·kᵀ and p·v, two FLOPs per multiply-add as the counter's matmul formulas."""
        bh, L, head_dim = q_shape
        return 4 * bh * L * k_shape[1] * head_dim


_register_flop_formula()
