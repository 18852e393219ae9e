"""Reference bidirectional forgetting attention: the decay bias materialized, then PyTorch's SDPA."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def decay_bias(log_fwd: torch.Tensor, log_bwd: torch.Tensor) -> torch.Tensor:
    """(..., L) log-gates -> (..., L, L) bias in fp32: for j <= i the sum of log f_l over j < l <= i,
    for j > i the sum of log f'_l over i < l <= j (cumulative sums of long sequences need fp32)."""
    c_fwd, c_bwd = log_fwd.float().cumsum(-1), log_bwd.float().cumsum(-1)
    lower = c_fwd[..., :, None] - c_fwd[..., None, :]
    upper = c_bwd[..., None, :] - c_bwd[..., :, None]
    L = log_fwd.shape[-1]
    below = torch.ones(L, L, dtype=torch.bool, device=log_fwd.device).tril()
    return torch.where(below, lower, upper)


def forgetting_attention_ref(q, k, v, log_fwd, log_bwd, scale: float | None = None) -> torch.Tensor:
    """q, k, v (batch, heads, L, head_dim); log_fwd, log_bwd (batch, heads, L) log-gates (<= 0)."""
    bias = decay_bias(log_fwd, log_bwd).to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale)
