"""Fused residual add + RMSNorm/LayerNorm (pre-norm blocks with an fp32 residual stream)."""
from __future__ import annotations

import torch

from .naive import add_norm_ref
from .op import add_norm

BACKENDS = ("auto", "triton", "torch", "reference")


def add_norm_fn(x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor, bias: torch.Tensor | None,
                eps: float, is_rms: bool = True, residual_in_fp32: bool = True, backend: str = "auto"):
    """Returns (norm(x + residual) in x's dtype, x + residual) over the last dim of x (..., dim).

    backend: 'triton' (fused kernels), 'torch'/'reference' (plain PyTorch), 'auto' (triton on CUDA)."""
    if backend not in BACKENDS:
        raise ValueError(f"add_norm_fn: backend has {backend!r}, expected one of {BACKENDS}")
    if weight.dim() != 1 or x.shape[-1] != weight.shape[0]:
        raise ValueError(f"add_norm_fn: x has shape {tuple(x.shape)} and weight {tuple(weight.shape)}, "
                         "expected weight (dim,) matching x's last dim")
    if residual is not None and residual.shape != x.shape:
        raise ValueError(f"add_norm_fn: residual has shape {tuple(residual.shape)}, expected {tuple(x.shape)}")
    if backend == "auto":
        backend = "triton" if x.device.type == "cuda" else "torch"
    if backend != "triton":
        return add_norm_ref(x, residual, weight, bias, eps, is_rms, residual_in_fp32)
    shape = x.shape
    rows = lambda t: t.reshape(-1, shape[-1]).contiguous() if t is not None else None  # noqa: E731
    out, res_out, _ = add_norm(rows(x), rows(residual), weight.contiguous(), bias, float(eps), is_rms, residual_in_fp32)
    return out.view(shape), res_out.view(shape)


__all__ = ["add_norm_fn", "add_norm_ref"]
