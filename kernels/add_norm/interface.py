"""``add_norm_fn``: residual add + RMSNorm/LayerNorm with a choice of backend."""
from __future__ import annotations

import torch

from ..backend import resolve_backend
from .naive import add_norm_ref
from .op import add_norm


def add_norm_fn(x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor, bias: torch.Tensor | None,
                eps: float, is_rms: bool = True, residual_in_fp32: bool = True,
                backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (norm(x + residual) in x's dtype, x + residual) over the last dim of x (..., dim).

    backend: 'triton' (fused kernels), 'torch' and 'reference' (both the plain PyTorch reference),
    'auto' (triton on CUDA, torch otherwise)."""
    backend = resolve_backend(backend, x, "add_norm_fn")
    if weight.dim() != 1 or x.shape[-1] != weight.shape[0]:
        raise ValueError(f"add_norm_fn: x has shape {tuple(x.shape)} and weight {tuple(weight.shape)}, "
                         "expected weight (dim,) matching x's last dim")
    if residual is not None and residual.shape != x.shape:
        raise ValueError(f"add_norm_fn: residual has shape {tuple(residual.shape)}, expected {tuple(x.shape)}")
    if backend != "triton":
        return add_norm_ref(x, residual, weight, bias, eps, is_rms, residual_in_fp32)
    shape = x.shape
    rows = lambda t: t.reshape(-1, shape[-1]).contiguous() if t is not None else None  # noqa: E731
    out, res_out, _ = add_norm(rows(x), rows(residual), weight.contiguous(), bias, float(eps), is_rms, residual_in_fp32)
    return out.view(shape), res_out.view(shape)
