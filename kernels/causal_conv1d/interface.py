"""``causal_conv1d_fn``: causal depthwise conv1d (+ SiLU), either time direction, with a choice of backend."""
from __future__ import annotations

import torch

from ..backend import resolve_backend
from .naive import causal_conv1d_ref, causal_conv1d_torch
from .op import causal_conv1d

ACTIVATIONS = (None, "silu", "swish")


def causal_conv1d_fn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                     activation: str | None = None, reverse: bool = False, backend: str = "auto") -> torch.Tensor:
    """x (batch, dim, L), weight (dim, width), bias (dim,); activation None or 'silu'.

    reverse=True convolves the time-reversed sequence (anti-causal) without flipping x.
    backend: 'triton' (fused kernels), 'torch' (one padded F.conv1d), 'reference' (conv of the flipped
    sequence, as causal-conv1d's reference), 'auto' (triton on CUDA, torch otherwise)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"causal_conv1d_fn: activation has {activation!r}, expected one of {ACTIVATIONS}")
    backend = resolve_backend(backend, x, "causal_conv1d_fn")
    if x.dim() != 3 or weight.dim() != 2 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"causal_conv1d_fn: x has shape {tuple(x.shape)} and weight {tuple(weight.shape)}, "
                         "expected x (batch, dim, L) and weight (dim, width)")
    if bias is not None and tuple(bias.shape) != (x.shape[1],):
        raise ValueError(f"causal_conv1d_fn: bias has shape {tuple(bias.shape)}, expected ({x.shape[1]},)")
    if not torch.jit.is_tracing() and x.numel() == 0:  # batch 0 or L 0: an empty output in x's autograd graph
        return x * 0
    if backend == "reference":
        return causal_conv1d_ref(x, weight, bias, activation, reverse)
    if backend == "torch":
        return causal_conv1d_torch(x, weight, bias, activation, reverse)
    return causal_conv1d(x.contiguous(), weight.contiguous(), bias.contiguous() if bias is not None else None,
                         activation is not None, reverse)
