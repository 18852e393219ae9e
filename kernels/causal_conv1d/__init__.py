"""Causal depthwise conv1d with fused SiLU (the x branch of the Mamba mixer), either time direction."""
from __future__ import annotations

import torch

from .naive import causal_conv1d_ref, causal_conv1d_torch
from .op import causal_conv1d

ACTIVATIONS = (None, "silu", "swish")
BACKENDS = ("auto", "triton", "torch", "reference")


def causal_conv1d_fn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                     activation: str | None = None, reverse: bool = False, backend: str = "auto") -> torch.Tensor:
    """x (batch, dim, L), weight (dim, width), bias (dim,); activation None or 'silu'.

    reverse=True convolves the time-reversed sequence (anti-causal) without flipping x.
    backend: 'triton' (fused kernels), 'torch' (one padded F.conv1d), 'reference', 'auto' (triton on CUDA)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"causal_conv1d_fn: activation has {activation!r}, expected one of {ACTIVATIONS}")
    if backend not in BACKENDS:
        raise ValueError(f"causal_conv1d_fn: backend has {backend!r}, expected one of {BACKENDS}")
    if x.dim() != 3 or weight.dim() != 2 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"causal_conv1d_fn: x has shape {tuple(x.shape)} and weight {tuple(weight.shape)}, "
                         "expected x (batch, dim, L) and weight (dim, width)")
    if bias is not None and tuple(bias.shape) != (x.shape[1],):
        raise ValueError(f"causal_conv1d_fn: bias has shape {tuple(bias.shape)}, expected ({x.shape[1]},)")
    if backend == "auto":
        backend = "triton" if x.device.type == "cuda" else "torch"
    if backend == "reference":
        return causal_conv1d_ref(x, weight, bias, activation, reverse)
    if backend == "torch":
        return causal_conv1d_torch(x, weight, bias, activation, reverse)
    return causal_conv1d(x.contiguous(), weight.contiguous(), bias.contiguous() if bias is not None else None,
                         activation is not None, reverse)


__all__ = ["causal_conv1d_fn", "causal_conv1d_ref", "causal_conv1d_torch"]
