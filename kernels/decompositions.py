"""Every vimvision op written in core ATen ops, for ``ExportedProgram.run_decompositions``.

``torch.export`` keeps our library ops as opaque nodes, and the default decomposition table only
knows ATen's own ops, so nothing downstream (ONNX, AOTInductor, ExecuTorch) could lower them:

    ep = torch.export.export(model, (x,))
    ep = ep.run_decompositions(vimvision.kernels.decompositions())   # core ATen only

The scan becomes its stepped form (``selective_scan/stepped.py``); the others become their
references. Each returns exactly what its op returns (checkpoints and saved statistics included).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .add_norm.naive import add_norm_ref
from .causal_conv1d.naive import causal_conv1d_torch
from .cross_scan.naive import cross_merge_ref, cross_scan_ref
from .selective_scan.op import checkpoint_chunk
from .selective_scan.stepped import stepped_scan


def _selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act, reverse, backend, kernel):
    every = checkpoint_chunk(u.shape[-1], backend)  # the fused kernels' checkpoints
    return stepped_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act, reverse, every)


def _causal_conv1d(x, weight, bias, silu, reverse):
    return causal_conv1d_torch(x, weight, bias, "silu" if silu else None, reverse)


def _add_norm(x, residual, weight, bias, eps, is_rms, residual_in_fp32):
    out, new_residual = add_norm_ref(x, residual, weight, bias, eps, is_rms, residual_in_fp32)
    total = new_residual.float()
    spread = total.square().mean(-1) if is_rms else total.var(-1, unbiased=False)
    return out, new_residual, torch.rsqrt(spread + eps)


def _cross_scan(x, routes):
    return cross_scan_ref(x, routes)


def _cross_merge(y):
    return cross_merge_ref(y)


def _forgetting_attention(q: Tensor, k: Tensor, v: Tensor, cf: Tensor, cb: Tensor, scale: float):
    """(out, natural-log row log-sum-exp): the cumulative log-gates give the decay bias directly."""
    L = q.shape[1]
    below = torch.ones(L, L, dtype=torch.bool, device=q.device).tril()
    bias = torch.where(below, cf[:, :, None] - cf[:, None, :], cb[:, None, :] - cb[:, :, None])
    scores = (q.float() @ k.float().transpose(1, 2)) * scale + bias
    lse = scores.logsumexp(-1)
    out = (scores - lse[..., None]).exp() @ v.float()
    return out.to(q.dtype), lse


def _table() -> dict:
    ops = torch.ops.vimvision
    return {
        ops.selective_scan.default: _selective_scan,
        ops.causal_conv1d.default: _causal_conv1d,
        ops.add_norm.default: _add_norm,
        ops.cross_scan.default: _cross_scan,
        ops.cross_merge.default: _cross_merge,
        ops.forgetting_attention.default: _forgetting_attention,
    }


def decompositions() -> dict:
    """torch.export's default (core ATen) table, plus one entry per vimvision op."""
    table = torch.export.default_decompositions()
    for op, fn in _table().items():
        table[op] = fn
    return table

