"""Causal depthwise conv1d with fused SiLU (the x branch of the Mamba mixer)."""
from __future__ import annotations

import torch

from .naive import causal_conv1d_ref

ACTIVATIONS = (None, "silu", "swish")


def causal_conv1d_fn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                     activation: str | None = None) -> torch.Tensor:
    """x (batch, dim, L), weight (dim, width), bias (dim,); activation None or 'silu'."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"causal_conv1d_fn: activation has {activation!r}, expected one of {ACTIVATIONS}")
    if x.dim() != 3 or weight.dim() != 2 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"causal_conv1d_fn: x has shape {tuple(x.shape)} and weight {tuple(weight.shape)}, "
                         "expected x (batch, dim, L) and weight (dim, width)")
    return causal_conv1d_ref(x, weight, bias, activation)


__all__ = ["causal_conv1d_fn", "causal_conv1d_ref"]
