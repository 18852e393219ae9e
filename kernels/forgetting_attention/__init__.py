"""Bidirectional forgetting attention: SDPA with a materialized decay bias (reference) or a fused
flash-style Triton kernel that builds the bias per tile from cumulative log-gates."""
from __future__ import annotations

import math

import torch

from .naive import decay_bias, forgetting_attention_ref
from .op import forgetting_attention

BACKENDS = ("auto", "triton", "torch")


def forgetting_attention_fn(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, log_fwd: torch.Tensor,
                            log_bwd: torch.Tensor, scale: float | None = None, backend: str = "auto") -> torch.Tensor:
    """q, k, v (batch, heads, L, head_dim); log_fwd, log_bwd (batch, heads, L). backend 'torch' is the
    reference (SDPA with the bias), 'triton' the fused kernel (head_dim a power of two >= 16)."""
    if backend not in BACKENDS:
        raise ValueError(f"forgetting_attention_fn: backend has {backend!r}, expected one of {BACKENDS}")
    if q.dim() != 4 or k.shape != q.shape or v.shape != q.shape or log_fwd.shape != q.shape[:3] or log_bwd.shape != q.shape[:3]:
        raise ValueError(f"forgetting_attention_fn: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}, "
                         f"log_fwd {tuple(log_fwd.shape)}, log_bwd {tuple(log_bwd.shape)}; expected q, k, v "
                         "(batch, heads, L, head_dim) and log-gates (batch, heads, L)")
    if backend == "auto":
        backend = "triton" if q.device.type == "cuda" else "torch"
    scale = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    if backend == "torch":
        return forgetting_attention_ref(q, k, v, log_fwd, log_bwd, scale)
    B, H, L, D = q.shape
    if D < 16 or D & (D - 1):
        raise ValueError(f"forgetting_attention_fn: head_dim {D} must be a power of two >= 16 for backend='triton'")
    flat = lambda t: t.reshape(B * H, *t.shape[2:]).contiguous()  # noqa: E731
    cf, cb = log_fwd.float().cumsum(-1), log_bwd.float().cumsum(-1)
    out, _ = forgetting_attention(flat(q), flat(k), flat(v), flat(cf), flat(cb), float(scale))
    return out.view(B, H, L, D)


__all__ = ["decay_bias", "forgetting_attention_fn", "forgetting_attention_ref"]
