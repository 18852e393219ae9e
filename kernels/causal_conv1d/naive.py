"""Reference causal depthwise conv1d (+ SiLU), as causal-conv1d's ``causal_conv1d_ref``; ``reverse``
runs it over the time-reversed sequence: flip(conv(flip(x)))."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def causal_conv1d_ref(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                      activation: str | None = None, reverse: bool = False) -> torch.Tensor:
    """x (batch, dim, L), weight (dim, width): out_t = sum_k weight[:, k] * x_{t - width + 1 + k} + bias."""
    if reverse:
        return causal_conv1d_ref(x.flip(-1), weight, bias, activation).flip(-1)
    dim, width = weight.shape
    out = F.conv1d(x, weight.unsqueeze(1).to(x.dtype), bias.to(x.dtype) if bias is not None else None,
                   padding=width - 1, groups=dim)[..., : x.shape[-1]]
    return F.silu(out) if activation in ("silu", "swish") else out


def causal_conv1d_torch(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                        activation: str | None = None, reverse: bool = False) -> torch.Tensor:
    """The same with one padded conv and no flipped activations: reverse pads on the right and flips
    the (tiny) weight instead."""
    dim, width = weight.shape
    pad = (0, width - 1) if reverse else (width - 1, 0)
    w = (weight.flip(-1) if reverse else weight).unsqueeze(1).to(x.dtype)
    out = F.conv1d(F.pad(x, pad), w, bias.to(x.dtype) if bias is not None else None, groups=dim)
    return F.silu(out) if activation in ("silu", "swish") else out
