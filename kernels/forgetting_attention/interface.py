"""``forgetting_attention_fn``: bidirectional forgetting attention with a choice of backend."""
from __future__ import annotations

import math

import torch

from ..backend import resolve_backend
from .naive import forgetting_attention_ref
from .op import forgetting_attention


def forgetting_attention_fn(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, log_fwd: torch.Tensor,
                            log_bwd: torch.Tensor, scale: float | None = None, backend: str = "auto") -> torch.Tensor:
    """q, k, v (batch, heads, L, head_dim); log_fwd, log_bwd (batch, heads, L).

    backend: 'triton' (the fused kernel; head_dim a power of two >= 16), 'torch' and 'reference' (both
    the reference: SDPA with the materialized bias), 'auto' (triton on CUDA, torch otherwise)."""
    backend = resolve_backend(backend, q, "forgetting_attention_fn")
    if (q.dim() != 4 or k.shape != q.shape or v.shape != q.shape or log_fwd.shape != q.shape[:3]
            or log_bwd.shape != q.shape[:3]):
        raise ValueError(f"forgetting_attention_fn: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}, "
                         f"log_fwd {tuple(log_fwd.shape)}, log_bwd {tuple(log_bwd.shape)}; expected q, k, v "
                         "(batch, heads, L, head_dim) and log-gates (batch, heads, L)")
    scale = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    if backend != "triton":
        return forgetting_attention_ref(q, k, v, log_fwd, log_bwd, scale)
    B, H, L, D = q.shape
    if D < 16 or D & (D - 1):
        raise ValueError(f"forgetting_attention_fn: head_dim {D} must be a power of two >= 16 for backend='triton'")
    flat = lambda t: t.reshape(B * H, *t.shape[2:]).contiguous()  # noqa: E731
    cf, cb = log_fwd.float().cumsum(-1), log_bwd.float().cumsum(-1)
    out, _ = forgetting_attention(flat(q), flat(k), flat(v), flat(cf), flat(cb), float(scale))
    return out.view(B, H, L, D)
