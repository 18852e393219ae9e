"""Reference causal depthwise conv1d (+ optional SiLU), as causal-conv1d's ``causal_conv1d_ref``."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def causal_conv1d_ref(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                      activation: str | None = None) -> torch.Tensor:
    """x (batch, dim, L), weight (dim, width): out_t = sum_k weight[:, k] * x_{t - width + 1 + k} + bias."""
    dim, width = weight.shape
    out = F.conv1d(x, weight.unsqueeze(1).to(x.dtype), bias.to(x.dtype) if bias is not None else None,
                   padding=width - 1, groups=dim)[..., : x.shape[-1]]
    return F.silu(out) if activation in ("silu", "swish") else out
